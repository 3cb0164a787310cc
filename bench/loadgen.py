"""Closed-loop load generators: wrk when it is installed, else Python threads (slower, noisier)."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# wrk runs this per request (cycling over the requests: a path, and the headers it is sent with) and prints
# its summary as one JSON line.
_WRK_SCRIPT = """\
local requests = {%(requests)s}
local n = 0
request = function()
  n = n %% #requests + 1
  return wrk.format("GET", requests[n][1], requests[n][2])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "errors": %%d, "p50_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured (latencies in milliseconds, from request sent to response read)."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_version() -> str | None:
    """Return wrk's version line, or None when wrk is not installed."""
    if shutil.which("wrk") is None:
        return None
    # wrk prints its version and usage, then exits non-zero: that is expected.
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    return (done.stdout or done.stderr).splitlines()[0].strip()


class WrkLoad:
    """Drive a server with wrk, one thread, cycling over the given paths (each with its headers, if given)."""

    name = "wrk"

    def __init__(self, paths: Sequence[str], workdir: Path, headers: Sequence[Mapping[str, str]] = ()):
        self.script = workdir / "cycle.lua"
        entries = (
            f"{{{json.dumps(path)}, {_lua_table(headers[n] if headers else {})}}}" for n, path in enumerate(paths)
        )
        self.script.write_text(_WRK_SCRIPT % {"requests": ",\n".join(entries)})

    def run(self, port: int, connections: int, seconds: float) -> LoadResult:
        """Run wrk against 127.0.0.1:port and return its figures."""
        command = [
            "wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
            "--timeout", "10s", "-s", str(self.script), f"http://127.0.0.1:{port}/",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
        figures = json.loads(line[len("BENCH ") :])
        return LoadResult(
            requests=figures["requests"],
            seconds=figures["duration_us"] / 1e6,
            errors=figures["errors"],
            p50_ms=figures["p50_us"] / 1000,
            p99_ms=figures["p99_us"] / 1000,
            max_ms=figures["max_us"] / 1000,
        )


def _lua_table(headers: Mapping[str, str]) -> str:
    """Headers as a Lua table literal (JSON strings are valid Lua strings for the printable ASCII they hold)."""
    return "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"


class PythonLoad:
    """Drive a server with Python threads, one fresh connection per request (the fallback for no wrk)."""

    name = "python threads"

    def __init__(self, paths: Sequence[str], _workdir: Path | None = None):
        self.paths = list(paths)

    def run(self, port: int, connections: int, seconds: float) -> LoadResult:
        """Keep `connections` clients busy for `seconds` and return the figures."""
        deadline = time.monotonic() + seconds
        latencies: list[list[float]] = [[] for _ in range(connections)]
        errors = [0] * connections
        threads = [
            threading.Thread(target=self._client, args=(port, i, deadline, latencies[i], errors), daemon=True)
            for i in range(connections)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 15)
        elapsed = time.monotonic() - started
        merged = sorted(x for per_client in latencies for x in per_client)
        return LoadResult(
            requests=len(merged),
            seconds=elapsed,
            errors=sum(errors),
            p50_ms=percentile(merged, 50),
            p99_ms=percentile(merged, 99),
            max_ms=merged[-1] if merged else 0.0,
        )

    def _client(self, port: int, index: int, deadline: float, latencies: list[float], errors: list[int]) -> None:
        """Load pixels back to back until the deadline, recording each latency."""
        n = index  # clients start at different tickets, as wrk's connections do
        while time.monotonic() < deadline:
            path = self.paths[n % len(self.paths)]
            n += 1
            started = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                conn.close()
            except OSError:
                errors[index] += 1
                continue
            if response.status != 200:
                errors[index] += 1
                continue
            latencies.append((time.monotonic() - started) * 1000)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * pct // 100))  # ceiling without floats drifting
    return sorted_values[int(rank) - 1]
