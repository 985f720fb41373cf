"""Serving the app under gunicorn and loading it with wrk, for the HTTP benchmarks (P2, P5)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

CONNECTIONS = 4  # two per worker: enough to keep both busy without measuring a queue
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served(str):
    """The base URL of a served app, with its gunicorn master's pid."""

    pid: int


def _processes() -> Iterator[tuple[int, str, int, float]]:
    """(pid, command name, parent's pid, user + system CPU seconds so far) of every process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                head, _, rest = handle.read().rpartition(")")
        except OSError:
            continue  # it ended meanwhile
        fields = rest.split()  # after the name: [1] the parent's pid, [11] and [12] utime and stime
        yield int(entry), head.partition("(")[2], int(fields[1]), (int(fields[11]) + int(fields[12])) / tick


def cpu_seconds(master_pid: int) -> float:
    """CPU seconds used so far by the workers of a gunicorn master: a figure that other work on the machine
    barely moves, unlike requests/s."""
    return sum(seconds for _pid, _name, parent, seconds in _processes() if parent == master_pid)


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by every PostgreSQL process on this machine (backends, WAL writer,
    checkpointer): what a request costs the database, when nothing else uses it meanwhile."""
    return sum(seconds for _pid, name, _parent, seconds in _processes() if name == "postgres")


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on this machine: the postmaster and what it has forked."""
    return [pid for pid, name, _parent, _seconds in _processes() if name == "postgres"]


class CpuMeter:
    """CPU per request of the app's workers and of PostgreSQL over one load run."""

    def __init__(self, served: Served) -> None:
        self.served = served

    def __enter__(self) -> CpuMeter:
        self.app, self.database = cpu_seconds(self.served.pid), postgres_cpu_seconds()
        return self

    def __exit__(self, *_exc) -> None:
        self.app, self.database = cpu_seconds(self.served.pid) - self.app, postgres_cpu_seconds() - self.database

    def per_request_us(self, requests: int) -> dict[str, float]:
        return {"app_cpu_us": self.app / requests * 1e6, "database_cpu_us": self.database / requests * 1e6}


@contextmanager
def gunicorn(
    env: dict[str, str], workers: int = 2, config: str | None = None, app: str = "app:app", quiet: bool = False
) -> Iterator[str]:
    """Serve `app` with `workers` sync workers on a free port; yields the base URL. `config`: a gunicorn
    config file (default: none, bench/gunicorn_bare.conf.py); `quiet` sends its output to /dev/null."""
    port = free_port()
    process = subprocess.Popen(
        [
            GUNICORN,
            "--config",
            config or os.path.join(os.path.dirname(os.path.abspath(__file__)), "gunicorn_bare.conf.py"),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env={**os.environ, **env, "PREFS_BENCHMARK": "1"},
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    base = Served(f"http://127.0.0.1:{port}")
    base.pid = process.pid
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def wrk(
    url: str,
    seconds: int = 10,
    connections: int = CONNECTIONS,
    threads: int = 2,
    script: str | None = None,
    env: dict | None = None,
) -> LoadResult:
    """Run wrk against `url` and read its summary. wrk is Debian's package `wrk`."""
    if shutil.which("wrk") is None:
        raise SystemExit("bench needs wrk: apt-get install wrk")
    command = ["wrk", "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    if script:
        command += ["-s", script]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    return LoadResult(rps, _latency(output, "50%"), _latency(output, "99%"), requests, errors)


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def lua_script(text: str) -> str:
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    handle.write(text)
    handle.close()
    return handle.name
