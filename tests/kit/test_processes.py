"""Who left a file: names tagged with the process, its instance and its host, so that a pid
reused by a restarted container, or the same pid on another host sharing the folder, is not
taken for the process that wrote them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from testops_kit import processes
from testops_kit.processes import INSTANCE, left_by_gone_process, local_tag, tagged


@pytest.fixture
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_a_tagged_name_carries_the_pid_the_instance_and_the_host() -> None:
    name = tagged("job-1")

    assert name == f"{os.getpid()}.{INSTANCE}.{socket.gethostname()}~job-1"
    assert local_tag() == name.partition("~")[0]


def test_what_this_process_left_is_not_gone() -> None:
    assert not left_by_gone_process(tagged("abc"))


def test_what_an_earlier_start_with_the_same_pid_left_is_gone() -> None:
    """A container's process has the same pid on every start: the instance tells them apart."""
    earlier = f"{os.getpid()}.{'0' * 12}.{socket.gethostname()}~abc"

    assert INSTANCE != "0" * 12
    assert left_by_gone_process(earlier)


def test_what_a_dead_process_of_this_host_left_is_gone(dead_pid: int) -> None:
    assert left_by_gone_process(f"{dead_pid}.{'1' * 12}.{socket.gethostname()}~abc")


def test_what_a_live_process_of_this_host_left_is_not_gone() -> None:
    assert not left_by_gone_process(f"{os.getppid()}.{'1' * 12}.{socket.gethostname()}~abc")


def test_what_a_process_of_another_host_left_is_left_alone(dead_pid: int) -> None:
    """Replicas sharing a volume: another host's pids mean nothing here, even our own."""
    assert not left_by_gone_process(f"{dead_pid}.{'1' * 12}.other-host.example~abc")
    assert not left_by_gone_process(f"{os.getpid()}.{'1' * 12}.other-host.example~abc")


def test_names_of_earlier_versions_are_judged_by_their_pid(dead_pid: int) -> None:
    assert left_by_gone_process(f"{dead_pid}-0123abcd")
    assert not left_by_gone_process(f"{os.getppid()}-0123abcd")
    assert not left_by_gone_process(f"{os.getpid()}-0123abcd")
    assert not left_by_gone_process("notes.txt")


def test_a_host_name_with_dots_and_dashes_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes.socket, "gethostname", lambda: "node-1.cluster.local")

    name = tagged("x")

    assert name.endswith(".node-1.cluster.local~x")
    assert not left_by_gone_process(name)
