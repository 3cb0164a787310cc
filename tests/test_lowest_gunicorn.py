"""The lowest gunicorn the requirements allow runs the Procfile's service: the courier process, and a reload."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.test_courier_process import courier_pid
from tests.test_server import ROOT, Service

pytestmark = [pytest.mark.server, pytest.mark.lowest_versions]


def lowest_allowed(package: str) -> str:
    """The lowest version of a package that requirements.txt allows, which pyproject.toml must allow too."""
    [lowest] = re.findall(rf"^{package}>=([\d.]+),", (ROOT / "requirements.txt").read_text(), flags=re.MULTILINE)
    assert f'"{package}>={lowest},' in (ROOT / "pyproject.toml").read_text()
    return lowest


@pytest.fixture(scope="module")
def lowest_gunicorn(tmp_path_factory) -> str:
    """A throwaway directory holding only the lowest allowed gunicorn, to put ahead of the installed one."""
    target = tmp_path_factory.mktemp("gunicorn-lowest")
    version = lowest_allowed("gunicorn")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
    result = subprocess.run([*pip, f"gunicorn=={version}"], timeout=120, capture_output=True, text=True)
    assert result.returncode == 0, f"pip could not install gunicorn=={version}:\n{result.stderr}"
    return str(target)


def test_the_service_runs_on_the_lowest_allowed_gunicorn(lowest_gunicorn, tmp_path, zendesk, sqlite_url):
    for ticket in (4400, 4401):
        zendesk.add_ticket(ticket, requester_id=7)
    service = Service(tmp_path, {"DATABASE_URL": sqlite_url, **zendesk.env()})
    service.env["PYTHONPATH"] = os.pathsep.join([lowest_gunicorn, str(ROOT)])
    try:
        service.start()
        assert f"Starting gunicorn {lowest_allowed('gunicorn')}" in service.output()
        assert service.load("ticket_id=4400&requester_id=7&comment_id=1").status_code == 200
        assert zendesk.wait_for_notes(1, ticket_id=4400, timeout=20)
        courier = courier_pid(service)
        os.kill(service.process.pid, signal.SIGHUP)
        courier_pid(service, other_than=courier)  # the reload restarted the courier
        assert service.load("ticket_id=4401&requester_id=7&comment_id=1").status_code == 200
        assert zendesk.wait_for_notes(1, ticket_id=4401, timeout=20)
    finally:
        service.kill()
