"""Allure results as the Allure 3 CLI reads them: file kinds, result and container conversion,
the history id that groups retries, statuses and environment.properties.

Everything here is pure and synchronous; ingest calls it off the event loop.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["failed", "broken", "passed", "skipped", "unknown"]
STATUSES: tuple[Status, ...] = ("failed", "broken", "passed", "skipped", "unknown")
"""Worst first, as the Allure 3 CLI ranks them."""

UNKNOWN_VALUE = "#___unknown_value___#"
MAX_ID = 2**31 - 1

FileKind = Literal[
    "result", "container", "attachment", "environment", "executor", "categories", "other", "extra"
]

# Files Allure reads that carry nothing a run keeps (history it rebuilds, checks, globals).
_EXTRA_FILES = {
    "history.json",
    "history-trend.json",
    "duration-trend.json",
    "retry-trend.json",
    "categories-trend.json",
    "environment.xml",
    "performance.json",
}
_EXTRA_SUFFIXES = ("-check.json", "-perf.json", "-globals.json")

_ID_TAG = re.compile(r"^@?allure\.id[:=](?P<id>.+)$")
_LABEL_TAG = re.compile(r"^@?allure\.label\.(?P<name>.+?)[:=](?P<value>.+)$")


def file_kind(name: str) -> FileKind:
    """What an allure-results file is, by its name, as the Allure 3 CLI's reader decides."""
    if name.endswith("-result.json"):
        return "result"
    if name.endswith("-container.json"):
        return "container"
    at = name.rfind("-attachment")
    if at != -1:
        suffix = name[at + len("-attachment") :]
        if suffix == "" or suffix.startswith("."):
            return "attachment"
    if name == "environment.properties":
        return "environment"
    if name == "executor.json":
        return "executor"
    if name == "categories.json":
        return "categories"
    if name in _EXTRA_FILES or name.endswith(_EXTRA_SUFFIXES):
        return "extra"
    return "other"


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _string(value: Any) -> str | None:
    # PostgreSQL text cannot hold NUL; a NUL in a name or message becomes U+FFFD.
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


text_of = _string


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 2**62 else None
    if isinstance(value, str):
        match = re.match(r"\s*[-+]?\d+", value)
        return int(match.group()) if match else None
    return None


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else False


def status_of(value: Any) -> Status:
    text = value.lower() if isinstance(value, str) else "unknown"
    return text if text in STATUSES else "unknown"


def worst_status(statuses: Iterable[str]) -> Status:
    """The run's status: failed, else broken, else passed, else skipped, else unknown."""
    present = set(statuses)
    return next((status for status in STATUSES if status in present), "unknown")


def moment(ms: int | None) -> datetime | None:
    """An Allure timestamp (ms since the epoch) as a UTC time; None when it has none or no
    calendar can hold it."""
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def timings(start: Any, stop: Any) -> tuple[int | None, int | None, int | None]:
    """``(start, stop, duration)`` in ms; a stop before its start is taken as the start."""
    first, last = _int(start), _int(stop)
    if first is not None:
        if last is None or last < first:
            last = first
        return first, last, last - first
    if last is not None:
        return last, last, 0
    return None, None, None


@dataclass(slots=True)
class AttachmentRef:
    source: str
    name: str | None
    content_type: str | None


def convert_labels(raw: Any) -> list[dict[str, str]]:
    labels: list[dict[str, str]] = []
    for label in raw if isinstance(raw, list) else []:
        if not isinstance(label, dict):
            continue
        name = _string(label.get("name")) or UNKNOWN_VALUE
        value = _string(label.get("value"))
        if name == "tag" and value:
            if match := _ID_TAG.match(value):
                labels.append({"name": "ALLURE_ID", "value": match["id"]})
                continue
            if match := _LABEL_TAG.match(value):
                labels.append({"name": match["name"], "value": match["value"]})
                continue
        if value is not None:
            labels.append({"name": name, "value": value})
    return labels


def convert_parameters(raw: Any) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for parameter in raw if isinstance(raw, list) else []:
        if not isinstance(parameter, dict) or not _string(parameter.get("name")):
            continue
        parameters.append(
            {
                "name": parameter["name"],
                "value": _string(parameter.get("value")) or UNKNOWN_VALUE,
                "excluded": _bool(parameter.get("excluded")),
                "mode": _string(parameter.get("mode")) or "default",
            }
        )
    return parameters


def _list(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else []


def convert_links(raw: Any) -> list[dict[str, str | None]]:
    return [
        {"name": _string(link.get("name")), "url": link["url"], "type": _string(link.get("type"))}
        for link in (raw if isinstance(raw, list) else [])
        if isinstance(link, dict) and _string(link.get("url"))
    ]


def _status_details(raw: Any) -> dict[str, Any]:
    details = raw if isinstance(raw, dict) else {}
    return {
        "message": _string(details.get("message")),
        "trace": _string(details.get("trace")),
        "flaky": _bool(details.get("flaky")),
        "muted": _bool(details.get("muted")),
        "known": _bool(details.get("known")),
    }


def convert_attachments(raw: Any) -> list[dict[str, Any]]:
    """Attachment references as a file lists them: ``{name, source, content_type}``."""
    found: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        source = _string(item.get("source"))
        name = _string(item.get("name"))
        found.append(
            {"name": name or source, "source": source, "content_type": _string(item.get("type"))}
        )
    return found


def attachment_refs(*nodes: Any) -> list[AttachmentRef]:
    """Every attachment named by ``nodes`` (results, steps, fixtures) and their steps."""
    refs: list[AttachmentRef] = []
    pending = [node for node in nodes if isinstance(node, dict)]
    while pending:
        node = pending.pop()
        for item in node.get("attachments") or ():
            if isinstance(item, dict) and isinstance(item.get("source"), str):
                refs.append(
                    AttachmentRef(
                        item["source"], _string(item.get("name")), _string(item.get("type"))
                    )
                )
        steps = node.get("steps")
        if isinstance(steps, list):
            pending.extend(step for step in steps if isinstance(step, dict))
    return refs


def convert_steps(raw: Any) -> list[dict[str, Any]]:
    """Steps as a file lists them, normalised: statuses, timings, nested steps, attachments."""
    steps: list[dict[str, Any]] = []
    for step in raw if isinstance(raw, list) else []:
        if not isinstance(step, dict):
            continue
        start, stop, duration = timings(step.get("start"), step.get("stop"))
        details = _status_details(step.get("statusDetails"))
        steps.append(
            {
                "name": _string(step.get("name")) or UNKNOWN_VALUE,
                "status": status_of(step.get("status")),
                "status_details": {"message": details["message"], "trace": details["trace"]},
                "start": start,
                "stop": stop,
                "duration_ms": duration,
                "parameters": convert_parameters(step.get("parameters")),
                "steps": convert_steps(step.get("steps")),
                "attachments": convert_attachments(step.get("attachments")),
            }
        )
    return steps


def _test_case_key(labels: list[dict[str, str]], raw: dict[str, Any]) -> str | None:
    """The Allure 3 CLI's test case id: ALLURE_ID label, else testCaseId, else fullName."""
    allure_id = next(
        (
            label["value"]
            for label in labels
            if label["name"] in ("ALLURE_ID", "AS_ID") and label["value"] not in ("", "-1")
        ),
        None,
    )
    if allure_id:
        return md5(f"ALLURE_ID={allure_id}")
    if test_id := _string(raw.get("testCaseId")):
        return md5(test_id)
    if full_name := _string(raw.get("fullName")):
        return md5(full_name)
    return None


def history_id(test_case_key: str | None, parameters: list[dict[str, Any]]) -> str | None:
    """``<test case id>.<md5 of its parameters>``: results sharing it are one test (retries)."""
    if test_case_key is None:
        return None
    kept = sorted(
        (p for p in parameters if not p["excluded"]),
        key=lambda p: (p["name"].casefold(), p["name"], p["value"].casefold(), p["value"]),
    )
    joined = ",".join(f"{p['name']}:{p['value']}" for p in kept)
    return f"{test_case_key}.{md5(joined)}"


def _catalog_case_id(labels: list[dict[str, str]]) -> int | None:
    # Any case: allure-pytest writes @allure.id("123") as an `as_id` label.
    for label in labels:
        if label["name"].upper() in ("ALLURE_ID", "AS_ID") and label["value"].isdigit():
            number = int(label["value"])
            return number if 0 < number <= MAX_ID else None
    return None


@dataclass(slots=True)
class ParsedResult:
    uuid: str
    row: dict[str, Any]
    refs: list[AttachmentRef] = field(default_factory=list)


def parse_result(raw: Any, file_name: str, text: str) -> ParsedResult:
    """A ``*-result.json`` document as a row of ``test_results`` (without ``run_id``).

    ``text`` is the file itself: it is kept as the row's ``document``, and what the columns do
    not hold (steps, links, attachments, …) is read from it when the result is asked for.
    """
    if not isinstance(raw, dict):
        raise ValueError("a result file holds a JSON object")
    labels = convert_labels(raw.get("labels"))
    parameters = convert_parameters(raw.get("parameters"))
    details = _status_details(raw.get("statusDetails"))
    start, stop, duration = timings(raw.get("start"), raw.get("stop"))
    uuid = _string(raw.get("uuid")) or file_name.removesuffix("-result.json")
    row = {
        "uuid": uuid[:255],
        "history_id": history_id(_test_case_key(labels, raw), parameters),
        "test_case_id": _catalog_case_id(labels),
        "name": _string(raw.get("name")) or "Unknown test",
        "full_name": _string(raw.get("fullName")),
        "status": status_of(raw.get("status")),
        "message": details["message"],
        "trace": details["trace"],
        "flaky": details["flaky"],
        "muted": details["muted"],
        "known": details["known"],
        "start_ms": start,
        "stop_ms": stop,
        "duration_ms": duration,
        "is_retry": False,
        "description": _string(raw.get("description")),
        "label_keys": list(dict.fromkeys(f"{label['name']}:{label['value']}" for label in labels)),
        "document": text,
    }
    # Most results name no attachment: the text says so faster than a walk of their steps.
    refs = attachment_refs(raw) if '"attachments"' in text else []
    return ParsedResult(uuid=row["uuid"], row=row, refs=refs)


@dataclass(slots=True)
class ParsedContainer:
    uuid: str
    children: list[str]
    has_fixtures: bool
    document: str
    refs: list[AttachmentRef]


def convert_fixtures(raw: Any) -> list[dict[str, Any]]:
    """Fixtures of a container as its file lists them, normalised like steps."""
    fixtures: list[dict[str, Any]] = []
    for fixture in raw if isinstance(raw, list) else []:
        if not isinstance(fixture, dict):
            continue
        start, stop, duration = timings(fixture.get("start"), fixture.get("stop"))
        details = _status_details(fixture.get("statusDetails"))
        fixtures.append(
            {
                "name": _string(fixture.get("name")) or "Unknown fixture",
                "status": status_of(fixture.get("status")),
                "status_details": {"message": details["message"], "trace": details["trace"]},
                "start": start,
                "stop": stop,
                "duration_ms": duration,
                "steps": convert_steps(fixture.get("steps")),
                "attachments": convert_attachments(fixture.get("attachments")),
            }
        )
    return fixtures


def parse_container(raw: Any, file_name: str, text: str) -> ParsedContainer:
    """A ``*-container.json`` document; only children with fixtures matter to a run.

    ``text`` is the file itself; its fixtures are read from it when a child result is asked for.
    """
    if not isinstance(raw, dict):
        raise ValueError("a container file holds a JSON object")
    children_raw = raw.get("children")
    children: list[str] = []
    for child in children_raw if isinstance(children_raw, list) else ():
        if child_id := _string(child):
            children.append(child_id[:255])
    befores, afters = _list(raw.get("befores")), _list(raw.get("afters"))
    return ParsedContainer(
        uuid=(_string(raw.get("uuid")) or file_name.removesuffix("-container.json"))[:255],
        children=children,
        has_fixtures=bool(befores or afters),
        document=text,
        refs=attachment_refs(*befores, *afters) if children and '"attachments"' in text else [],
    )


_PROPERTY_LINE = re.compile(r"^\s*((?:\\.|[^:=\s\\])*)\s*[:=\s]\s*(.*)$")


def parse_properties(text: str) -> dict[str, str]:
    """A Java ``.properties`` document (comments, ``=``/``:``/space separators, line
    continuations and backslash escapes) as a dict."""
    values: dict[str, str] = {}
    logical: list[str] = []
    lines = iter(text.splitlines())
    for line in lines:
        stripped = line.lstrip()
        if not logical and (not stripped or stripped[0] in "#!"):
            continue
        if _ends_in_continuation(line):
            logical.append(stripped[:-1] if logical else line.lstrip()[:-1])
            continue
        logical.append(stripped)
        entry = "".join(logical)
        logical = []
        match = _PROPERTY_LINE.match(entry)
        key, value = (match.group(1), match.group(2)) if match else (entry.strip(), "")
        if key:
            values[_unescape(key)] = _unescape(value)
    if logical:
        entry = "".join(logical)
        match = _PROPERTY_LINE.match(entry)
        if match and match.group(1):
            values[_unescape(match.group(1))] = _unescape(match.group(2))
    return values


def _ends_in_continuation(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[index + 2 : index + 6]):
                out.append(chr(int(text[index + 2 : index + 6], 16)))
                index += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def guess_content_type(source: str) -> str:
    guessed, _ = mimetypes.guess_type(source, strict=False)
    return guessed or "application/octet-stream"
