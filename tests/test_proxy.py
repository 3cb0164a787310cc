"""deploy/nginx.conf in front of the Procfile's gunicorn: HTTPS, slow clients and big bodies stopped at the proxy."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.test_server import ROOT, THUNDERBIRD, Service, free_port

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx)"),
]


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def site_config(tmp: Path, upstream: int, http_port: int, https_port: int) -> Path:
    """deploy/nginx.conf with this machine's ports and certificate, inside a minimal main config."""
    cert, key = self_signed(tmp)
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    for old, new in (
        ("127.0.0.1:8000", f"127.0.0.1:{upstream}"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("/etc/letsencrypt/live/pixel.example.com/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/pixel.example.com/privkey.pem", str(key)),
    ):
        assert old in site
        site = site.replace(old, new)
    (tmp / "site.conf").write_text(site)
    temp_paths = "\n".join(
        f"{kind}_temp_path {tmp}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = tmp / "nginx.conf"
    main.write_text(
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nworker_processes 1;\nevents {{}}\n"
        f"http {{\naccess_log off;\n{temp_paths}\ninclude {tmp}/site.conf;\n}}\n"
    )
    return main


@pytest.fixture
def proxied(tmp_path, zendesk, sqlite_url):
    """The service behind nginx: (service, https base URL, certificate)."""
    service = Service(tmp_path, {"DATABASE_URL": sqlite_url, "PROXY_HOPS": "1", **zendesk.env()}).start()
    http_port, https_port = free_port(), free_port()
    config = site_config(tmp_path, service.port, http_port, https_port)
    nginx = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"https://127.0.0.1:{https_port}"
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(base + "/healthz", verify=str(tmp_path / "cert.pem"), timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield service, base, str(tmp_path / "cert.pem"), http_port
    finally:
        nginx.terminate()
        nginx.wait(10)
        service.kill()


def test_nginx_config_is_valid(tmp_path):
    config = site_config(tmp_path, 8000, free_port(), free_port())
    checked = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, timeout=20)
    assert checked.returncode == 0, checked.stderr.decode()


def test_through_nginx_the_pixel_is_https_and_slow_clients_never_reach_gunicorn(proxied, zendesk):
    service, base, cert, http_port = proxied
    response = requests.get(
        f"{base}/pixel.gif?ticket_id=42&requester_id=7&comment_id=5", headers=THUNDERBIRD, verify=cert, timeout=5
    )
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif"
    [note] = zendesk.wait_for_notes(1, ticket_id=42)
    assert "your reply of Sun, Nov 22, 1:08 PM, by Ann in" in note.body
    redirect = requests.get(f"http://127.0.0.1:{http_port}/healthz", allow_redirects=False, timeout=5)
    assert redirect.status_code == 301 and redirect.headers["Location"].startswith("https://")
    big = requests.post(f"{base}/zendesk/replies", data=b"x" * 2_000_000, verify=cert, timeout=10)
    assert big.status_code == 413
    slow = []
    try:
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", http_port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slo")
            slow.append(sock)
        started = time.monotonic()
        assert requests.get(f"{base}/healthz", verify=cert, timeout=5).status_code == 200
        assert time.monotonic() - started < 1.0
    finally:
        for sock in slow:
            sock.close()
