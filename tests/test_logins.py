"""The login lockout: failures counted per address and per network, in one process and through gunicorn."""

from __future__ import annotations

import base64
import http.client
from collections import Counter

import pytest

from read_receipts.insights.logins import FREE_FAILURES, LOCKOUT, NETWORK_FREE_FAILURES, LoginGuard, network_of
from tests.conftest import Clock
from tests.test_server import services  # noqa: F401 (a fixture)

PASSWORD = "the-admin-password-is-long"


@pytest.mark.parametrize(
    ("address", "network"),
    [("203.0.113.77", "203.0.113.0/24"), ("2001:db8:1:2:3::9", "2001:db8:1:2::/64"), ("unknown", "unknown")],
)
def test_a_network_is_a_slash_24_or_a_slash_64(address, network):
    assert network_of(address) == network


def test_an_address_waits_after_its_free_failures():
    guard = LoginGuard(Clock(1000.0))
    for _ in range(FREE_FAILURES):
        assert guard.wait_for("203.0.113.7") == 0
        guard.failed("203.0.113.7", "admin")
    assert guard.wait_for("203.0.113.7") == LOCKOUT
    assert guard.wait_for("203.0.113.8") == 0  # its neighbour has tries left


def test_addresses_of_one_network_share_its_free_failures():
    clock = Clock(1000.0)
    guard = LoginGuard(clock)
    for host in range(NETWORK_FREE_FAILURES):
        guard.failed(f"2001:db8:0:7::{host + 1:x}", "admin")
    assert guard.wait_for("2001:db8:0:7::ffff") == LOCKOUT  # never tried, but its /64 has
    assert guard.wait_for("2001:db8:0:8::1") == 0
    clock.advance(LOCKOUT)
    assert guard.wait_for("2001:db8:0:7::ffff") == 0


def test_a_login_forgets_its_address_but_not_its_network():
    guard = LoginGuard(Clock(1000.0))
    for host in range(NETWORK_FREE_FAILURES):
        guard.failed(f"198.51.100.{host}", "admin")
    guard.succeeded("198.51.100.1")
    assert guard.wait_for("198.51.100.1") == LOCKOUT


def log_in_from(port: int, source: str, password: str) -> int:
    """Ask for the dashboard from a given local address, as another host would; the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    try:
        conn.request("GET", "/dashboard", headers={"Authorization": f"Basic {token}"})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.server
def test_wrong_passwords_spread_over_one_network_are_refused_like_one_address(services, sqlite_url):  # noqa: F811
    service = services({"DATABASE_URL": sqlite_url, "ADMIN_USER": "admin", "ADMIN_PASSWORD": PASSWORD})
    statuses = Counter(
        log_in_from(service.port, f"127.0.0.{host}", "a-wrong-password") for _ in range(4) for host in range(10, 40)
    )
    # Each of the 30 addresses stays under its own 5 free failures: only the count per /24 stops them.
    # Each of the two request workers keeps its own count.
    assert statuses[401] <= 2 * NETWORK_FREE_FAILURES and statuses[429] >= 120 - 2 * NETWORK_FREE_FAILURES
    assert set(statuses) == {401, 429}
    assert log_in_from(service.port, "127.0.1.10", PASSWORD) == 200  # another network logs in
    assert "login failed for user 'admin' from 127.0.0.10 (1 in 10 min; 1 from 127.0.0.0/24)" in service.output()
    assert f"; {NETWORK_FREE_FAILURES} from 127.0.0.0/24)" in service.output()
