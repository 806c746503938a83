"""The rules of analytics: flips in a series of results, and the fingerprint that groups a run's
failures.

A failure's fingerprint is the sha1 of its status, its normalised message and its three
innermost stack frames (file and function, without line numbers, so that an edit elsewhere in
the file does not split a group; a test function's own name is masked, so that the same failure
in several tests of one file is one group). Normalising masks what differs between two
occurrences of one error: UUIDs, temporary paths (``/tmp/…``, ``/var/folders/…``, pytest's
``tmp_path``), hex addresses, hash-like ids and numbers::

    >>> normalise("bad value 17 at /tmp/pytest-of-ci/pytest-3/test_x0/a.txt id=0x7f3a")
    'bad value <n> at <tmp> id=<addr>'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from testops_results.analytics.repository import FAILING, FailureRow

FRAMES = 3

_UUID = re.compile(r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b", re.IGNORECASE)
# Up to the next space, quote or bracket: a temporary path with its file name.
_TEMP_PATH = re.compile(
    r"(?:/private)?/(?:tmp|var/folders)/[^\s'\"()\[\]{},;]*"
    r"|[A-Za-z]:\\[^\s'\"]*?\\Temp\\[^\s'\"()\[\]{},;]*",
    re.IGNORECASE,
)
_HEX_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
# Hash-like ids: eight or more hex digits with a digit and a letter among them.
_HEX_ID = re.compile(r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.IGNORECASE)
# Numbers, but not digits that are part of a name (`test_x0`, `py3`).
_NUMBER = re.compile(r"(?<![A-Za-z_<])\d+(?:\.\d+)?")
_SITE_PACKAGES = re.compile(r"^.*[/\\](?:site|dist)-packages[/\\]")

# `File "app/x.py", line 12, in f` (Python's traceback) and `app/x.py:12: in f` or
# `app/x.py:12: ValueError` (pytest's, the form allure-pytest writes).
_PYTHON_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+, in (?P<where>\S+)')
_PYTEST_FRAME = re.compile(r"^(?P<path>[^\s:][^:]*):\d+:(?: (?:in )?(?P<where>\S+))?\s*$")


def normalise(text: str) -> str:
    """``text`` with what varies between occurrences of one error masked."""
    text = _UUID.sub("<uuid>", text)
    text = _TEMP_PATH.sub("<tmp>", text)
    text = _HEX_ADDRESS.sub("<addr>", text)
    text = _HEX_ID.sub("<id>", text)
    return _NUMBER.sub("<n>", text).strip()


def frames(trace: str) -> list[str]:
    """The stack frames of ``trace``, outermost first, as ``path:function`` (pytest's innermost
    frame names the exception instead of the function)."""
    found = []
    for line in trace.splitlines():
        match = _PYTHON_FRAME.match(line) or _PYTEST_FRAME.match(line)
        if match:
            path = _SITE_PACKAGES.sub("", normalise(match["path"]))
            where = match["where"] or ""
            # The failing test's own frame is where the error showed, not what it is: one
            # assertion failing the same way in twenty tests of a file is one row.
            if where.startswith("test"):
                where = "<test>"
            found.append(f"{path}:{where}")
    return found


def fingerprint(status: str, message: str | None, trace: str | None) -> str:
    """sha1 of the status, the normalised message and the innermost :data:`FRAMES` frames."""
    top = frames(trace or "")[-FRAMES:]
    key = "\n".join([status, normalise(message or ""), *top])
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class Group:
    fingerprint: str
    status: str
    message: str | None
    results: list[FailureRow] = field(default_factory=list)


def group_failures(rows: Iterable[FailureRow]) -> list[Group]:
    """``rows`` grouped by fingerprint, largest group first (ties: the group seen first)."""
    groups: dict[str, Group] = {}
    for row in rows:
        key = fingerprint(row.status, row.message, row.trace)
        group = groups.get(key)
        if group is None:
            message = normalise(row.message) if row.message is not None else None
            group = groups[key] = Group(key, row.status, message)
        group.results.append(row)
    return sorted(groups.values(), key=lambda group: -len(group.results))


def count_flips(statuses: Sequence[str]) -> int:
    """Changes between `passed` and `failed`/`broken` along ``statuses`` (oldest first);
    other statuses are passed over."""
    decided = [status == "passed" for status in statuses if status == "passed" or status in FAILING]
    return sum(1 for before, after in zip(decided, decided[1:], strict=False) if before != after)
