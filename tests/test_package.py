"""The package installs with pip and serves Python code of its own: tracking links, webhooks, the shipped data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

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


def test_requirements_txt_and_pyproject_declare_the_same_dependencies():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    listed = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip()]
    assert declared == listed


@pytest.mark.server
def test_the_built_package_carries_its_data_and_works_without_the_checkout(tmp_path):
    source = tmp_path / "source"  # setuptools builds in the source tree: keep the checkout clean
    shutil.copytree(ROOT / "read_receipts", source / "read_receipts", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("zendesk_read_receipts-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in (
        "read_receipts/labels/ranges/microsoft.txt",
        "read_receipts/insights/templates/dashboard.html",
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
    assert re.fullmatch(r"ranges \d+ head \d{4}(_\w+)?\n", used.stdout)  # a branch's revision: 0004_<branch>
