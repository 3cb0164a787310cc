"""Run the Procfile's gunicorn command (or the bare app under the same options) and watch its workers."""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
BARE_SPEC = "bench.bare_wsgi:app"


def procfile_web_command(root: Path = ROOT) -> str:
    """Return the command of the Procfile's `web:` process."""
    for line in (root / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == "web":
            return command.strip()
    raise SystemExit(f"{root / 'Procfile'} has no web: line")


def loopback_only(command: str) -> str:
    """Bind loopback instead of every interface: the bench must not be reachable from elsewhere."""
    return command.replace("0.0.0.0:", "127.0.0.1:")


def bare_command(command: str) -> str:
    """Swap the app spec (gunicorn's last argument) for the bare app, keeping every option."""
    spec = shlex.split(command)[-1]
    for written in (f'"{spec}"', f"'{spec}'", spec):
        if command.rstrip().endswith(written):
            return command.rstrip()[: -len(written)] + shlex.quote(BARE_SPEC)
    raise SystemExit(f"cannot find the app spec {spec!r} at the end of the web command: {command}")


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Make one GET on a fresh connection; return status, headers and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


class Gunicorn:
    """One gunicorn master started from a shell command, alone in its own process group."""

    def __init__(self, command: str, env: dict[str, str], port: int, workers: int, log_path: Path):
        self.command, self.env, self.port, self.workers, self.log_path = command, env, port, workers, log_path
        self.proc: subprocess.Popen | None = None
        self.stop_seconds = 0.0

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> Gunicorn:
        """Start the master and wait until every worker has booted and the pixel answers."""
        with open(self.log_path, "ab") as log:
            # exec: the Popen pid is then gunicorn's master, whose children are the workers.
            self.proc = subprocess.Popen(
                ["bash", "-c", "exec " + self.command],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not (len(self.worker_pids()) == self.workers and self._answers()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not come up; its log ends with:\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    def _answers(self) -> bool:
        """Whether a ticketless pixel load (nothing stored) gets its image."""
        try:
            return get(self.port, "/pixel.gif", timeout=2.0)[0] == 200
        except OSError:
            return False

    def stop(self, timeout: float = 25.0) -> None:
        """Stop gracefully (SIGTERM, as a platform does), then kill whatever is left of the group."""
        if self.proc is None or self.proc.returncode is not None:
            return
        started = time.monotonic()
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait()
        self.stop_seconds = time.monotonic() - started
        # A worker that outlived its master would be reparented, not reaped: make sure none does.
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: int) -> None:
        """Signal the process group this master leads."""
        try:
            os.killpg(self.proc.pid, signum)
        except ProcessLookupError:
            pass

    def worker_pids(self) -> list[int]:
        """Return the pids of the request workers: the master's children that have none of their own.

        The other child is gunicorn's dirty arbiter, parent of the courier process.
        """
        return [pid for pid in _children(self.proc.pid) if not _children(pid)] if self.proc else []

    def courier_pids(self) -> list[int]:
        """Return the pids of the courier process and its supervisor (gunicorn's dirty arbiter)."""
        if not self.proc:
            return []
        arbiters = [pid for pid in _children(self.proc.pid) if _children(pid)]
        return [pid for arbiter in arbiters for pid in (arbiter, *_children(arbiter))]

    def courier_rss_mib(self) -> list[float]:
        """Return the resident memory of the courier process (not its supervisor) in MiB."""
        couriers = [pid for pid in self.courier_pids() if not _children(pid)]
        return sorted(rss for rss in map(_rss_mib, couriers) if rss is not None)

    def worker_rss_mib(self) -> list[float]:
        """Return each worker's resident memory in MiB."""
        return sorted(rss for rss in map(_rss_mib, self.worker_pids()) if rss is not None)

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines gunicorn and the app logged."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _children(parent: int) -> list[int]:
    """Return the pids whose parent is `parent`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        # The command name sits in parentheses and may hold spaces; fields after it are plain.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return sorted(found)


def cpu_seconds(pids: list[int]) -> float:
    """Return the user and system CPU time the processes have used so far, from /proc."""
    ticks = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime and stime (fields 14 and 15 of proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float | None:
    """Return VmRSS of one process in MiB, or None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None
