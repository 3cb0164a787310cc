"""The README held to the code: its shell blocks run as a reader runs them, and what they show is what they print.

A block that cannot run here says so in the README, in an HTML comment just above it:
`<!-- not run by tests/test_readme.py: why -->`. No block of the sections held here is skipped silently.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy import text as sql

from read_receipts.store import Stores
from read_receipts.store.upgrade import alembic_config, head, upgrade
from tests.test_server import free_port
from tests.zendesk_standin import ZendeskStandIn

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent  # the reader's .venv/bin/ is the one running the tests
HELD = ("Quick start", "Connect it to Zendesk", "Upgrading")  # every shell block of these runs
SKIP = re.compile(r"<!-- not run by tests/test_readme\.py: (.+?) -->\n$")
NOT_RUN = {  # the blocks no test here runs, and why (the README says the same above each)
    ("Quick start", 2): "it is the tests themselves, after an install from the package index",
}
# The quick start's own first steps need the package index; the service it starts is this checkout's.
INSTALL = ("python3 -m venv .venv", ".venv/bin/pip install -r requirements.txt")
NO_ZENDESK = ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_OAUTH_TOKEN", "ZENDESK_URL")


@dataclass(frozen=True)
class Block:
    """One fenced block of the README: its section, its number in the section, language, text and skip reason."""

    section: str
    number: int
    language: str
    text: str
    skip: str = ""


@dataclass(frozen=True)
class Step:
    """One shell command of a block, and the output the README shows under it ('' when it shows none)."""

    command: str
    shown: str


def readme_blocks() -> list[Block]:
    """Every fenced block of the README, in order."""
    blocks, section, counts = [], "", {}
    text = README.read_text()
    for match in re.finditer(r"^## ([^\n]+)$|^ *```(\w*)\n(.*?)^ *```$", text, flags=re.MULTILINE | re.DOTALL):
        if match.group(1):
            section = match.group(1).strip()
            continue
        counts[section] = counts.get(section, 0) + 1
        before = text[: match.start()].rsplit("\n", 2)
        skip = SKIP.search("\n".join(before[-2:]) + "\n")
        body = _dedent(match.group(3))
        blocks.append(Block(section, counts[section], match.group(2), body, skip.group(1) if skip else ""))
    return blocks


def _dedent(text: str) -> str:
    """A block as it is copied out of a list item (indented with it)."""
    lines = text.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines) + "\n"


def held_shell_blocks(section: str) -> list[Block]:
    """The shell blocks of a held section that a test runs."""
    return [
        block for block in readme_blocks() if block.section == section and block.language == "sh" and not block.skip
    ]


def steps(block: Block) -> list[Step]:
    """A block's commands (continued lines joined), each with the `# ...` lines under it."""
    found: list[list] = []
    for line in block.text.replace("\\\n", " ").splitlines():
        if line.startswith("# ") and found:
            found[-1][1].append(line.removeprefix("# "))
        elif line.strip():
            found.append([line, []])
    return [Step(command, "\n".join(shown)) for command, shown in found]


def shows(shown: str, output: str) -> bool:
    """Whether output is what the README shows: word for word, `...` standing for anything, spacing free."""
    parts = [r"\s+".join(re.escape(word) for word in piece.split()) for piece in shown.split("...")]
    return re.fullmatch(r"\s*" + r".*?".join(parts) + r"\s*", output, flags=re.DOTALL) is not None


def run(command: str, cwd: Path, env: dict[str, str], replace: dict[str, str]) -> str:
    """Run one command as the README writes it, with the reader's values replaced by this machine's."""
    for theirs, ours in replace.items():
        command = command.replace(theirs, ours)
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def check(block: Block, cwd: Path, env: dict[str, str], replace: dict[str, str]) -> None:
    """Run every step of a block and compare what it prints with what the README shows."""
    for step in steps(block):
        output = run(step.command, cwd, env, replace)
        shown = step.shown
        for theirs, ours in replace.items():
            shown = shown.replace(theirs, ours)
        if step.shown:
            assert shows(shown, output), f"{block.section}: `{step.command}` shows\n{step.shown}\nbut prints\n{output}"


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of the checkout, as a reader has it (no .env, no store yet)."""
    copy = tmp_path / "checkout"
    copy.mkdir()
    for path in [*ROOT.glob("*.py"), ROOT / "Procfile", ROOT / ".env.example"]:
        shutil.copy(path, copy)
    shutil.copytree(ROOT / "read_receipts", copy / "read_receipts", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def reader_env(**settings: str) -> dict[str, str]:
    """The environment of a reader's shell: no settings of the service but those given."""
    env = {name: value for name, value in os.environ.items() if name not in NO_ZENDESK and "DATABASE" not in name}
    env.pop("SPOOL_DIR", None)
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "PYTHONPATH": "", **settings}


def test_every_block_of_the_held_sections_runs_or_says_why_not():
    blocks = [block for block in readme_blocks() if block.section in HELD and block.language in ("sh", "")]
    assert {(block.section, block.number): block.skip for block in blocks if block.skip} == NOT_RUN
    assert all(block.language == "sh" for block in blocks), "a shell block says it is one (```sh)"
    assert {block.section for block in blocks} == set(HELD)


@pytest.mark.server
def test_the_quick_start_and_its_smoke_test_run_as_written(checkout):
    start, smoke = held_shell_blocks("Quick start")
    *install, command = [part.strip() for part in start.text.strip().split("&&")]
    assert tuple(install) == INSTALL and command.startswith(".venv/bin/gunicorn ")
    port = free_port()
    replace = {".venv/bin/": f"{BIN}/", "0.0.0.0:8000": f"127.0.0.1:{port}", "localhost:8000": f"127.0.0.1:{port}"}
    for theirs, ours in replace.items():
        command = command.replace(theirs, ours)
    log = checkout / "service.log"
    with open(log, "wb") as out:
        service = subprocess.Popen(
            ["bash", "-c", command], cwd=checkout, env=reader_env(), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", service, log)
        check(smoke, checkout, reader_env(), replace)
        logged = inline_after("and the service's log shows `")
        assert wait_until(lambda: any(shows(logged, line.split(": ", 1)[-1]) for line in lines(log))), log.read_text()
    finally:
        os.killpg(service.pid, 15)
        service.wait(30)
    assert (checkout / "read_receipts.db").exists()
    run(inline_after("delete the store and its spool: `"), checkout, reader_env(), {})
    assert not list(checkout.glob("read_receipts.db*")), "the README's clean start leaves nothing of the trial"


def inline_after(words: str) -> str:
    """The inline code that follows some words of the README (line breaks read as spaces)."""
    text = " ".join(README.read_text().split())
    return text.split(" ".join(words.split()), 1)[1].split("`", 1)[0]


def lines(log: Path) -> list[str]:
    """The lines a service has logged so far."""
    return log.read_text(errors="replace").splitlines()


def wait_until(predicate, timeout: float = 15.0) -> bool:
    """Wait until `predicate()` holds; return whether it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.1)
    return predicate()


def wait_healthy(url: str, service: subprocess.Popen, log: Path) -> None:
    """Wait until the service answers /healthz."""

    def healthy() -> bool:
        try:
            return requests.get(url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    assert wait_until(lambda: service.poll() is not None or healthy(), 30) and service.poll() is None, log.read_text()


@pytest.mark.server
def test_connecting_zendesk_runs_as_written(checkout):
    standin = ZendeskStandIn(email="receipts@acme.com").start()
    standin.agent_name = "Read Receipts"
    try:
        env = reader_env(
            ZENDESK_URL=standin.url,
            ZENDESK_EMAIL=standin.email,
            ZENDESK_API_TOKEN=standin.token,
            PUBLIC_URL="https://pixel.acme.com",
        )
        replace = {".venv/bin/": f"{BIN}/", "https://acme.zendesk.com": standin.url}
        for block in held_shell_blocks("Connect it to Zendesk"):
            check(block, checkout, env, replace)
    finally:
        standin.stop()


@pytest.mark.server
def test_upgrading_runs_as_written(checkout, database_url):
    with_schema_of_the_release_before(database_url)
    env = reader_env(DATABASE_URL=database_url, DATABASE_AUTO_UPGRADE="false")
    for block in held_shell_blocks("Upgrading"):
        check(block, checkout, env, {".venv/bin/": f"{BIN}/"})


def with_schema_of_the_release_before(database_url: str) -> None:
    """Take a store back to the schema before this release's head (its tables emptied and made again)."""
    before = ScriptDirectory.from_config(alembic_config()).get_revision(head()).down_revision
    engine = create_engine(database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sql("DROP SCHEMA public CASCADE"))
            conn.execute(sql("CREATE SCHEMA public"))
    engine.dispose()
    if engine.dialect.name == "sqlite":
        Path(engine.url.database).unlink(missing_ok=True)
    store = Stores(database_url)
    upgrade(store.engine, before)
    store.close()


def python_blocks() -> list[Block]:
    """Every Python block of the README, whatever its section."""
    return [block for block in readme_blocks() if block.language == "python"]


def test_the_readme_has_python_blocks_and_none_is_skipped():
    assert len(python_blocks()) >= 2 and not [block for block in python_blocks() if block.skip]


@pytest.mark.parametrize("block", python_blocks(), ids=lambda block: f"{block.section[:24]}-{block.number}")
def test_every_python_block_runs_as_written_and_shows_what_it_returns(block, monkeypatch):
    monkeypatch.setenv("TRACKING_KEY", "tracking-key-" + "k" * 32)
    monkeypatch.setenv("WEBHOOK_SECRET", "webhook-secret-" + "w" * 32)
    namespace: dict = {"__name__": "readme"}
    for statement, shown in shown_results(block.text):
        if isinstance(statement, ast.Expr):
            value = eval(compile(ast.Expression(statement.value), "README.md", "eval"), namespace)
        else:
            exec(compile(ast.Module([statement], []), "README.md", "exec"), namespace)
            value = namespace[statement.targets[0].id] if shown else None
        assert not shown or shows(shown, str(value)), f"README shows\n{shown}\nbut the code makes\n{value}"


def shown_results(source: str) -> list[tuple[ast.stmt, str]]:
    """Each top-level statement, with the `# ...` lines right under an expression or `name = ...` (its shown value)."""
    tree, lines_of = ast.parse(source), source.splitlines()
    found = []
    for statement in tree.body:
        shown = []
        for line in lines_of[statement.end_lineno :]:
            if not line.startswith("# "):
                break
            shown.append(line.removeprefix("# "))
        named = isinstance(statement, ast.Assign) and [type(target) for target in statement.targets] == [ast.Name]
        found.append((statement, "\n".join(shown) if named or isinstance(statement, ast.Expr) else ""))
    return found
