"""Facts about local processes, for cleaning up after ones that died."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path


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


def local_tag() -> str:
    """This process in a file or folder name: ``<pid>.<instance>.<host>``.

    A pid alone does not tell who left a file: a container's process has the same pid on every
    start, and replicas sharing a volume have the same pid on different hosts."""
    return f"{os.getpid()}.{INSTANCE}.{socket.gethostname()}"


def tagged(name: str) -> str:
    """``name`` prefixed with :func:`local_tag` and ``~``: a file or folder of this process."""
    return f"{local_tag()}~{name}"


def left_by_gone_process(name: str) -> bool:
    """Whether a file or folder named by :func:`tagged` was left by a process that is gone (see
    :func:`owner_gone`: on another host nothing is known, and it is left alone). Names from
    earlier versions, ``<pid>-…``, are judged by their pid."""
    tag, separator, _ = name.partition("~")
    if separator:
        pid_text, _, rest = tag.partition(".")
        instance, _, host = rest.partition(".")
        return pid_text.isdigit() and owner_gone(f"{host}:{pid_text}:{instance}")
    pid_text = name.partition("-")[0]
    return pid_text.isdigit() and int(pid_text) != os.getpid() and not pid_alive(int(pid_text))


def make_work_folder(prefix: str, base: Path | None) -> Path:
    """A new folder of this process under ``base`` (made when missing; default: the system's
    temp folder), named ``prefix`` + :func:`tagged` so that :func:`sweep_work_folders` removes
    it once this process is gone. Blocking."""
    folder = base if base is not None else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix + tagged(""), dir=folder))


def sweep_work_folders(
    prefix: str, base: Path | None, *, before_removal: Callable[[Path], None] | None = None
) -> int:
    """Remove the folders :func:`make_work_folder` made under ``base`` for processes that are
    gone (calling ``before_removal`` on each first); how many. Blocking."""
    folder = base if base is not None else Path(tempfile.gettempdir())
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.glob(f"{prefix}*"):
        if left_by_gone_process(path.name[len(prefix) :]):
            if before_removal is not None:
                before_removal(path)
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed
