"""Run the whole of TestOps on this machine: catalog, results, executor and the gateway.

``make run`` calls this. Every process's output is prefixed with its name; once the gateway
answers ``/readyz`` (which means every service does), the URLs are printed. Ctrl-C (or TERM)
stops everything; so does any process exiting on its own.

The processes take their usual settings from the environment (README.md). The gateway is
started without authentication when no token is configured, which it allows only while it
listens on a loopback address.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from types import FrameType

SERVICES = ("catalog", "results", "executor", "gateway")
READY_WITHIN_S = 120.0


class Process:
    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.popen = subprocess.Popen(
            [sys.executable, "-m", f"testops_{name.split('-')[0]}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stopped by us, in order, not by the terminal's Ctrl-C
        )
        threading.Thread(target=self._relay, daemon=True).start()

    def _relay(self) -> None:
        assert self.popen.stdout is not None
        prefix = f"{self.name:<10}| ".encode()
        for line in self.popen.stdout:
            sys.stdout.buffer.write(prefix + line)
            sys.stdout.buffer.flush()


def _say(text: str) -> None:
    sys.stdout.write(f"{'testops':<10}| {text}\n")
    sys.stdout.flush()


def _gateway_url(env: dict[str, str]) -> str:
    host = env.get("TESTOPS_GATEWAY_HOST", "127.0.0.1")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{env.get('TESTOPS_GATEWAY_PORT', '8000')}"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(processes: list[Process]) -> None:
    for process in processes:
        if process.popen.poll() is None:
            process.popen.terminate()
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--executors",
        type=int,
        default=1,
        help="executor processes (more than one needs the executor on PostgreSQL)",
    )
    args = parser.parse_args(argv)
    env = dict(os.environ)
    gateway_env = dict(env)
    tokens_configured = env.get("TESTOPS_GATEWAY_TOKENS") or env.get("TESTOPS_GATEWAY_TOKENS_FILE")
    if not tokens_configured and "TESTOPS_GATEWAY_AUTH_DISABLED" not in env:
        gateway_env["TESTOPS_GATEWAY_AUTH_DISABLED"] = "true"
        _say(
            "no gateway token configured: anonymous access on loopback "
            "(set TESTOPS_GATEWAY_TOKENS_FILE to require tokens)"
        )

    names = ["catalog", "results"]
    names += (
        ["executor"]
        if args.executors == 1
        else [f"executor-{n + 1}" for n in range(args.executors)]
    )
    processes: list[Process] = []
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for index, name in enumerate(names):
            child_env = dict(env)
            if name.startswith("executor-"):
                child_env["TESTOPS_EXECUTOR_PORT"] = str(
                    int(env.get("TESTOPS_EXECUTOR_PORT", "8003")) + index - 2
                )
            processes.append(Process(name, child_env))
        processes.append(Process("gateway", gateway_env))
        url = _gateway_url(gateway_env)
        deadline = time.monotonic() + READY_WITHIN_S
        announced = False
        while not stopping.wait(0.25):
            exited = [p for p in processes if p.popen.poll() is not None]
            if exited:
                _say(f"{exited[0].name} exited with {exited[0].popen.returncode}: stopping")
                return 1
            if not announced and _ready(url):
                announced = True
                _say(f"TestOps is ready: {url}/api/v1   docs: {url}/api/v1/docs   (Ctrl-C stops)")
            elif not announced and time.monotonic() > deadline:
                _say(f"not ready after {READY_WITHIN_S:.0f} s: see {url}/readyz; stopping")
                return 1
        _say("stopping")
        return 0
    finally:
        _stop(processes)


if __name__ == "__main__":
    raise SystemExit(main())
