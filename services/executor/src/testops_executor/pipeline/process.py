"""Running one command of the pipeline: its own process group, a clean environment, its output
into the execution's log, and a stop (TERM, grace, KILL of the whole group) on timeout or
cancel."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol


class LogSink(Protocol):
    def write(self, data: bytes) -> None: ...


class PhaseTimeout(Exception):
    """The command ran past its deadline and was stopped."""


GROUPS_FILE = ".process-groups"
"""In a workspace: the process groups started there, one per line, so that the next start of
an executor that was killed can stop them."""


def stop_recorded_groups(workspace: Path) -> None:
    """Kill every process group recorded in ``workspace`` (a dead executor's leftovers)."""
    try:
        lines = (workspace / GROUPS_FILE).read_text().split()
    except OSError:
        return
    for line in lines:
        if line.isdigit():
            _signal_group(int(line), signal.SIGKILL)


async def run_command(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: LogSink,
    timeout_s: float,
    kill_grace_s: float,
    workspace: Path | None = None,
) -> int:
    """Run ``args`` (never through a shell) and return its exit code.

    Raises :class:`PhaseTimeout` after ``timeout_s``; a cancelled caller stops it too. Either
    way every process of its group is gone when this returns or raises.
    """
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as a whole
    )
    assert process.stdout is not None
    stdout = process.stdout
    if workspace is not None:
        with (workspace / GROUPS_FILE).open("a") as groups:
            groups.write(f"{process.pid}\n")

    async def pump() -> None:
        while chunk := await stdout.read(64 * 1024):
            log.write(chunk)

    reader = asyncio.create_task(pump())
    try:
        async with asyncio.timeout(timeout_s):
            code = await process.wait()
            await reader
            return code
    except TimeoutError:
        await _stop_group(process, kill_grace_s)
        command = " ".join([Path(args[0]).name, *args[1:2]])
        raise PhaseTimeout(f"{command} did not finish within {timeout_s:.0f} s") from None
    except BaseException:
        await asyncio.shield(_stop_group(process, kill_grace_s))
        raise
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        # Whatever the leader did, nothing of its group outlives the phase.
        _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


async def _stop_group(process: asyncio.subprocess.Process, grace_s: float) -> None:
    if not _signal_group(process.pid, signal.SIGTERM):
        return
    try:
        async with asyncio.timeout(grace_s):
            await process.wait()
            # The leader is gone; give the rest of its group the same grace.
            while _group_alive(process.pid):  # noqa: ASYNC110 - nothing signals a group's end
                await asyncio.sleep(0.05)
    except TimeoutError:
        pass
    _signal_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        await process.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
