"""Shared pieces of the performance suite: servers, statistics, machine facts and tables.

Every server is started on loopback in its own process group and stopped by its own id; every
measurement is bounded in count and time.
"""
from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CHROMIUM = os.environ.get("BD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
]


# Statistics --------------------------------------------------------------------------------------
def summarise(samples_ms: list[float]) -> dict:
    """Count, median, 95th percentile and maximum of a list of milliseconds (None when empty)."""
    if not samples_ms:
        return {"n": 0, "median_ms": None, "p95_ms": None, "max_ms": None}
    arr = np.asarray(samples_ms, dtype=float)
    return {"n": int(arr.size), "median_ms": float(np.median(arr)),
            "p95_ms": float(np.percentile(arr, 95)), "max_ms": float(arr.max())}


def timed(fn, reps: int, warm: int = 1, budget_s: float = 30.0) -> dict:
    """Call ``fn`` ``warm`` times unmeasured, then up to ``reps`` times (or until ``budget_s``
    seconds have passed) measuring each call; returns ``summarise`` of the timings."""
    for _ in range(warm):
        fn()
    samples, deadline = [], time.perf_counter() + budget_s
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() > deadline:
            break
    return summarise(samples)


# Formatting --------------------------------------------------------------------------------------
def fmt(value, decimals: int = 1) -> str:
    """A table cell: thousands separators, fixed decimals, "-" for missing."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):,.{decimals}f}"
    return str(value)


def kb(n_bytes) -> str:
    return "-" if n_bytes is None else f"{n_bytes / 1024:,.1f}"


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (readable as plain text too)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    line = lambda parts: "| " + " | ".join(p.ljust(w) for p, w in zip(parts, widths)) + " |"
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


def save(name: str, data: dict) -> Path:
    """Write a result as JSON under bench/results/ (git-ignored) and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return path


# The machine -------------------------------------------------------------------------------------
def machine_facts() -> dict:
    """Where the figures come from: CPUs, CPU model, memory, load and library versions."""
    import dash
    import duckdb
    import pandas
    import plotly

    model, mem_kb = "unknown", 0
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)), "cpu_model": model,
        "memory_gb": round(mem_kb / 1024 ** 2, 1), "load_average": [round(x, 2) for x in
                                                                    os.getloadavg()],
        "python": platform.python_version(), "duckdb": duckdb.__version__,
        "dash": dash.__version__, "plotly": plotly.__version__, "pandas": pandas.__version__,
        "kernel": platform.release(), "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


# Servers -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out += [int(p) for p in task.read_text().split()]
        except OSError:
            pass
    return out


def pss_mb(pid: int) -> float | None:
    """Proportional set size of a process in MB, from /proc/<pid>/smaps_rollup."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Server:
    """A gunicorn server on loopback (``--preload``), started in its own process group.

    Use as a context manager: the server is stopped (SIGTERM to its group, then SIGKILL) on exit.
    """
    app: str                       # e.g. "app:server"
    workers: int = 2
    threads: int = 4
    keepalive: int | None = None   # gunicorn --keep-alive seconds (0: a connection per request)
    env: dict = field(default_factory=dict)
    ready_path: str = "/"
    start_timeout: float = 300.0
    port: int = 0
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    label: str = ""                # names the log file when one app runs twice

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        import requests

        self.port = self.port or free_port()
        RESULTS.mkdir(parents=True, exist_ok=True)
        name = self.app.replace(":", "_") + (f"-{self.label}" if self.label else "")
        self.log_path = RESULTS / f"server-{name}.log"
        env = {**os.environ, "BD_LOG_LEVEL": "WARNING", **self.env}
        cmd = [sys.executable, "-m", "gunicorn", self.app, "-b", f"127.0.0.1:{self.port}",
               "-w", str(self.workers), "--threads", str(self.threads), "--preload",
               "--timeout", "300", "--log-level", "warning", "-c", "/dev/null"]
        if self.keepalive is not None:
            cmd += ["--keep-alive", str(self.keepalive)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.app} exited early:\n"
                                   + self.log_path.read_text()[-3000:])
            try:
                if requests.get(self.url + self.ready_path, timeout=5).ok:
                    if len(self.worker_pids()) >= self.workers:
                        return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.app} did not start within {self.start_timeout:.0f} s")

    def worker_pids(self) -> list[int]:
        return [] if self.proc is None else _children(self.proc.pid)

    def worker_cpu(self) -> dict[int, float]:
        """CPU seconds (user + system) each worker has used so far."""
        out = {}
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return out

    def memory(self) -> dict:
        """PSS and RSS (MB) of the master and each worker."""
        pids = self.worker_pids()
        return {"master_pss_mb": pss_mb(self.proc.pid), "master_rss_mb": rss_mb(self.proc.pid),
                "workers": [{"pid": p, "pss_mb": pss_mb(p), "rss_mb": rss_mb(p)} for p in pids]}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def our_app(**kwargs) -> Server:
    return Server("app:server", ready_path="/healthz", **kwargs)


def baseline_app(**kwargs) -> Server:
    return Server("bench.baseline_app:server", ready_path="/", **kwargs)
