"""The package installs with pip and serves Python code of its own: tracking links, webhooks, the shipped data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from read_receipts.links import sign_webhook

ROOT = Path(__file__).resolve().parent.parent

USE_FROM_OWN_CODE = """
from read_receipts.links import Tracker, rewrite_html, sign_webhook, verify_webhook
from read_receipts.labels.openers import load_ranges
from read_receipts.store.upgrade import head

tracker = Tracker("https://pixel.example.com", keys=("k" * 40,))
html = rewrite_html('<body><a href="https://example.com/offer">offer</a></body>', tracker, {"campaign": "november"})
token = html.split("/c/")[1].split('"')[0]
assert tracker.decode(token).target == "https://example.com/offer"
header = sign_webhook("s" * 40, 1_800_000_000, b"{}")
assert verify_webhook("s" * 40, header, b"{}", now=1_800_000_000)
print("ranges", len(load_ranges()), "head", head())
"""


# The library alone, as a sender's code uses it: no Flask, no database.
USE_THE_LIBRARY = """
from read_receipts.links import Tracker, prepare_html, rewrite_html, sign_webhook, verify_webhook

tracker = Tracker("https://pixel.example.com", keys=("k" * 40,))
email = '<body><a href="https://example.com/offer">offer</a></body>'
copy = prepare_html(email).render(tracker, {"recipient": "ann"})
assert copy == rewrite_html(email, tracker, {"recipient": "ann"})
token = copy.split("/c/")[1].split('"')[0]
assert tracker.decode(token).meta == {"recipient": "ann"}
assert verify_webhook("s" * 40, sign_webhook("s" * 40, 1_800_000_000, b"{}"), b"{}", now=1_800_000_000)
for service_only in ("flask", "sqlalchemy", "alembic", "requests", "gunicorn"):
    try:
        __import__(service_only)
    except ImportError:
        continue
    raise AssertionError(service_only + " is installed")
print("library only")
"""


def readme_python_blocks(section: str) -> list[str]:
    """The Python blocks of one README section, as a reader copies them."""
    text = (ROOT / "README.md").read_text().split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_readmes_tracking_examples_run_as_written():
    first, _ = readme_python_blocks("Tracking any email")
    shown: dict = {}
    exec(compile(first, "README.md", "exec"), shown)
    copy, tracker = shown["copy"], shown["tracker"]
    tokens = re.findall(r"/[oc]/([A-Za-z0-9_.-]+?)(?:\.gif)?\"", copy)
    assert len(tokens) == 2, "the pixel and the offer link"
    assert {tracker.decode(token).meta["recipient"] for token in tokens} == {"bob@example.com"}


def test_the_readmes_own_code_example_runs_and_its_receiver_checks_signatures(monkeypatch):
    _, own_code = readme_python_blocks("Tracking any email")
    secret = "webhook-secret-" + "w" * 32
    monkeypatch.setenv("TRACKING_KEY", "tracking-key-" + "k" * 32)
    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    shown: dict = {"__name__": "readme_receiver"}
    exec(compile(own_code, "README.md", "exec"), shown)
    [click] = re.findall(r'href="https://pixel\.example\.com/c/([^"]+)"', shown["tracked"])
    link = shown["tracker"].decode(click)
    assert (link.target, link.meta) == ("https://example.com/orders/42", {"campaign": "november", "recipient_id": 42})
    client = shown["receiver"].test_client()
    body = b'{"id": "6f1c", "type": "open", "meta": {"campaign": "november"}}'
    signed = {"X-Signature": sign_webhook(secret, int(time.time()), body), "Content-Type": "application/json"}
    assert client.post("/read-receipts", data=body, headers=signed).status_code == 204
    assert client.post("/read-receipts", data=body.replace(b"open", b"click"), headers=signed).status_code == 401
    forged = {**signed, "X-Signature": sign_webhook("another-secret-" + "x" * 32, int(time.time()), body)}
    assert client.post("/read-receipts", data=body, headers=forged).status_code == 401
    assert client.post("/read-receipts", data=body, headers={"Content-Type": "application/json"}).status_code == 401


def project() -> dict:
    """pyproject.toml's [project] table."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_requirements_txt_lists_the_library_and_the_service_dependencies():
    declared = project()["dependencies"] + project()["optional-dependencies"]["service"]
    listed = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip()]
    assert sorted(declared) == sorted(listed) and len(listed) == len(set(listed))


def test_the_library_needs_nothing_of_the_service():
    core = {canonicalize_name(Requirement(line).name) for line in project()["dependencies"]}
    assert core == {"cryptography", "itsdangerous"}


def build_wheel(tmp_path: Path) -> Path:
    """Build the package's wheel from a copy of the checkout (setuptools builds in the source tree)."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "read_receipts", source / "read_receipts", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("zendesk_read_receipts-*.whl")
    return wheel


def with_dependencies(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions that `requirements` need, theirs included."""
    found: dict[str, metadata.Distribution] = {}
    pending = [Requirement(line) for line in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        found[name] = metadata.distribution(name)
        pending += [Requirement(line) for line in found[name].requires or ()]
    return list(found.values())


def copy_into(distribution: metadata.Distribution, site: Path) -> None:
    """Copy an installed distribution's files (its code and its metadata) into another site-packages."""
    for file in distribution.files or ():
        if file.parts[0] == ".." or "__pycache__" in file.parts:
            continue  # scripts outside site-packages; caches are rebuilt
        (site / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(distribution.locate_file(file), site / file)


@pytest.mark.server
def test_the_library_installs_and_works_without_the_services_dependencies(tmp_path):
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    )
    # Offline: the declared dependencies are provided from this environment, and pip may find nothing else.
    for distribution in with_dependencies(project()["dependencies"]):
        copy_into(distribution, site)
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--isolated"]
    installed = subprocess.run(
        [*pip, "install", "-q", "--no-index", str(wheel)], capture_output=True, text=True, timeout=300
    )
    assert installed.returncode == 0, installed.stderr
    checked = subprocess.run([*pip, "check"], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout
    used = subprocess.run(
        [python, "-I", "-c", USE_THE_LIBRARY], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert used.returncode == 0, used.stderr
    assert used.stdout == "library only\n"


@pytest.mark.server
def test_the_built_package_carries_its_data_and_works_without_the_checkout(tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in (
        "read_receipts/labels/ranges/microsoft.txt",
        "read_receipts/insights/templates/dashboard.html",
        "read_receipts/insights/templates/opt_out.html",
        "read_receipts/insights/templates/agents.html",
        "read_receipts/store/migrations/env.py",
        "read_receipts/store/migrations/script.py.mako",
        "read_receipts/store/migrations/versions/0001_first_schema.py",
    ):
        assert shipped in names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    used = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r})\n{USE_FROM_OWN_CODE}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert used.returncode == 0, used.stderr
    assert re.fullmatch(r"ranges \d+ head \d{4}\w*\n", used.stdout)  # revision ids may carry a name
