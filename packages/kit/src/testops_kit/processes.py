"""Facts about local processes, for cleaning up after ones that died."""

from __future__ import annotations

import os
import socket
import uuid


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


INSTANCE = uuid.uuid4().hex[:12]
"""Tells apart two owners in one process (two apps in a test) and a reused pid."""


def owner() -> str:
    """This process as the owner of claimed work: ``host:pid:instance``."""
    return f"{socket.gethostname()}:{os.getpid()}:{INSTANCE}"


def owner_gone(value: str | None) -> bool:
    """Whether the owner named by ``value`` (see :func:`owner`) is known to be gone: on this
    machine its process is dead (or it is an earlier instance of this one); on another
    machine nothing is known, and a lease must decide."""
    if not value:
        return True
    host, _, rest = value.partition(":")
    pid_text, _, instance = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return instance != INSTANCE
    return not pid_alive(pid)
