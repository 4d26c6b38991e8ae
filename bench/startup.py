"""Start-up benchmark: from `python app.py` (demo mode, a fresh SQLite file) to `/healthz` answering,
against the echo bot's start-up to its first answer, in the same run; and Curfew's RSS then.

    .venv/bin/python -m bench.startup [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until_answer(command: list[str], url: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from the spawn to the first HTTP answer at `url`, and the process's RSS (MB) then."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{command} exited with {process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1):  # loopback only
                    break
            except urllib.error.HTTPError:
                break  # any HTTP answer means it serves
            except OSError:
                time.sleep(0.02)
        elapsed = time.monotonic() - started
        with open(f"/proc/{process.pid}/status", encoding="ascii") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
        return elapsed, rss
    finally:
        process.terminate()
        process.wait(timeout=10)


def main(runs: int) -> None:
    curfew, echo = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            env = {
                **os.environ,
                "PORT": str(port),
                "DATABASE_URL": f"sqlite:///{Path(tmp)}/s.db",
                "CURFEW_CONFIG": "",
            }
            env.pop("CURFEW_CONFIG")
            curfew.append(until_answer([sys.executable, "app.py"], f"http://127.0.0.1:{port}/healthz", env))
            port = free_port()
            command = [sys.executable, "-m", "tests.echo_bot", "--port", str(port)]
            echo.append(until_answer(command, f"http://127.0.0.1:{port}/api/messages", dict(os.environ)))
    for name, figures in (("echo bot (baseline)", echo), ("curfew (demo mode)", curfew)):
        times = [t for t, _ in figures]
        print(
            f"{name:20} start-up to first answer: median {statistics.median(times):.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f}, {runs} runs)  RSS {figures[-1][1]:.0f} MB"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    main(parser.parse_args().runs)
