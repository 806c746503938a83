"""Allure results made by the real writer, what the service should make of them, and bad uploads.

The results come from running a small pytest suite (:data:`SUITE`) with allure-pytest and
pytest-rerunfailures in a child process, so the files have exactly the shape CI uploads. What a
run built from them should report is computed here independently of the service, by the rule the
Allure 3 CLI applies (:func:`expected_run`), and ``test_allure_data.py`` pins that computation to
numbers known by hand for :data:`SUITE`::

    folder = generate_allure_results(tmp_path)
    expected = expected_run(folder)
    assert expected.stats["retries"] == 2
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import textwrap
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

JSON = dict[str, Any]

# A PNG signature followed by every byte value: binary content that must survive byte for byte.
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
RAW_DUMP_BYTES = b"\x00\x01binary\xff\xfe\r\n"
RECEIPT = {"total": 10, "currency": "EUR"}

SUITE_CONFTEST = """
import allure
import pytest


@pytest.fixture(scope="module")
def store():
    with allure.step("Open the store"):
        pass
    yield {"name": "corner shop"}
    with allure.step("Close the store"):
        pass


@pytest.fixture
def cart(store):
    with allure.step("Fill the cart"):
        allure.attach(
            "apple, pear", name="cart contents", attachment_type=allure.attachment_type.TEXT
        )
    yield ["apple", "pear"]
    with allure.step("Empty the cart"):
        pass
"""

SUITE_TESTS = f"""
import uuid
from pathlib import Path

import allure
import pytest

PNG = {PNG_BYTES!r}
RAW_DUMP = {RAW_DUMP_BYTES!r}
ATTEMPTS = Path(__file__).with_name("flaky-attempts.txt")


@allure.id("123")
@allure.label("layer", "api")
@allure.tag("smoke")
@allure.feature("checkout")
@allure.link("https://example.com/docs/checkout", name="docs")
@allure.issue("https://example.com/issues/42", name="ISSUE-42")
@allure.testcase("https://example.com/cases/123", name="TC-123")
@allure.description("Pays for a cart with a card.")
def test_pays_with_card(cart):
    with allure.step("Open the cart"):
        allure.attach("2 items", name="cart summary", attachment_type=allure.attachment_type.TEXT)
        with allure.step("Count the items"):
            allure.attach(PNG, name="cart screenshot", attachment_type=allure.attachment_type.PNG)
    with allure.step("Pay"):
        allure.attach.file(
            Path(__file__).with_name("receipt.json"),
            name="receipt",
            attachment_type=allure.attachment_type.JSON,
        )
    allure.attach(RAW_DUMP, name="raw dump", extension="bin")
    assert cart == ["apple", "pear"]


@allure.description_html("<p>Totals <b>add up</b></p>")
def test_total_is_wrong(cart):
    with allure.step("Add up the cart"):
        assert len(cart) == 3


def test_gateway_is_down():
    with allure.step("Call the gateway"):
        raise ConnectionError("gateway down")


def test_refunds_are_skipped():
    pytest.skip("refunds are not implemented")


@pytest.mark.xfail(reason="rounding bug")
def test_rounding_is_exact():
    assert 0.1 + 0.2 == 0.3


@pytest.mark.flaky(reruns=2)
def test_flaky_passes_on_second_try():
    attempts = int(ATTEMPTS.read_text()) if ATTEMPTS.exists() else 0
    ATTEMPTS.write_text(str(attempts + 1))
    assert attempts >= 1, "first attempt fails"


@pytest.mark.flaky(reruns=1)
def test_always_fails():
    assert False, "never works"


@allure.step("Apply {{percent}} percent")
def apply_discount(price, percent):
    return price * (100 - percent) // 100


@pytest.mark.parametrize("percent", [0, 10, 50])
def test_discount(percent):
    allure.dynamic.parameter("session", uuid.uuid4().hex, excluded=True)
    allure.dynamic.parameter("token", "s3cr3t", mode=allure.parameter_mode.MASKED)
    assert apply_discount(100, percent) <= 100


class TestSearch:
    @allure.tag("search")
    @allure.label("ALLURE_ID", "456")
    def test_finds_by_name(self, store):
        assert store["name"]
"""

SUITE: dict[str, str] = {
    "pytest.ini": "[pytest]\n",
    "conftest.py": SUITE_CONFTEST,
    "test_checkout.py": SUITE_TESTS,
    "receipt.json": json.dumps(RECEIPT),
}

ENVIRONMENT = {"python": "3.11", "os": "linux", "browser": "firefox"}
EXECUTOR: JSON = {
    "name": "GitHub Actions",
    "type": "github",
    "buildName": "nightly #7",
    "buildOrder": 7,
    "buildUrl": "https://ci.example.com/builds/7",
}
CATEGORIES: list[JSON] = [
    {"name": "Gateway problems", "messageRegex": ".*gateway.*", "matchedStatuses": ["broken"]}
]

# Worst first: the run's status is the first of these any counted result has.
STATUS_ORDER = ("failed", "broken", "passed", "skipped", "unknown")


def generate_allure_results(workdir: Path, *, suite: dict[str, str] = SUITE) -> Path:
    """Run ``suite`` under allure-pytest in a child process; return its allure-results folder.

    The child runs in a clean folder with the repository off ``PYTHONPATH`` and plugin
    auto-loading off, so only the two plugins named here shape the output. The side files a CI
    job adds (environment, executor, categories) are written into the folder afterwards.
    """
    source, results = workdir / "suite", workdir / "allure-results"
    source.mkdir(parents=True)
    for name, text in suite.items():
        (source / name).write_text(textwrap.dedent(text).lstrip())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PYTEST")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(source),
        "--alluredir",
        str(results),
        "-p",
        "allure_pytest",
        "-p",
        "pytest_rerunfailures",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    finished = subprocess.run(
        command, cwd=source, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    # pytest answers 1 when tests failed, which this suite means to do; anything else is trouble.
    if finished.returncode != 1 or not any(results.glob("*-result.json")):
        raise RuntimeError(f"the allure suite did not run:\n{finished.stdout}\n{finished.stderr}")
    (results / "environment.properties").write_text(
        "".join(f"{key}={value}\n" for key, value in ENVIRONMENT.items())
    )
    (results / "executor.json").write_text(json.dumps(EXECUTOR))
    (results / "categories.json").write_text(json.dumps(CATEGORIES))
    return results


# --- what the service should make of the files


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def history_id(result: JSON) -> str:
    """The id the Allure 3 CLI groups results by (not the ``historyId`` written in the file).

    md5 of the test case id — ``ALLURE_ID=<value>`` of an ``ALLURE_ID``/``AS_ID`` label (exact
    case: allure-pytest's own ``as_id`` label does not count), else testCaseId, else the full
    name — a dot, and md5 of the non-excluded parameters as ``name:value`` sorted and joined
    by ``,``.
    """
    allure_id = next(
        (
            label["value"]
            for label in result.get("labels") or []
            if label.get("name") in ("ALLURE_ID", "AS_ID")
            and label.get("value") not in (None, "", "-1")
        ),
        None,
    )
    identity = (
        f"ALLURE_ID={allure_id}"
        if allure_id
        else result.get("testCaseId") or result.get("fullName") or ""
    )
    parameters = sorted(
        {
            (p["name"], p.get("value") or "")
            for p in result.get("parameters") or []
            if p.get("name") and not p.get("excluded")
        }
    )
    return md5(identity) + "." + md5(",".join(f"{name}:{value}" for name, value in parameters))


def result_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*-result.json"))


def container_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*-container.json"))


def attachment_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if "-attachment" in path.name)


def read_json(path: Path) -> JSON:
    data: JSON = json.loads(path.read_text())
    return data


def results_named(folder: Path, name: str) -> list[JSON]:
    """Every result (attempts included) of the test called ``name``, oldest start first."""
    found = [read_json(path) for path in result_files(folder)]
    return sorted((r for r in found if r["name"] == name), key=lambda r: r["start"])


def result_file_named(folder: Path, name: str, *, attempt: int = -1) -> Path:
    """The file holding attempt ``attempt`` (by start, ``-1`` the last) of test ``name``."""
    paths = [path for path in result_files(folder) if read_json(path)["name"] == name]
    paths.sort(key=lambda path: read_json(path)["start"])
    if not paths:
        raise LookupError(f"no result named {name!r} in {folder}")
    return paths[attempt]


def at(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


@dataclass
class ExpectedRun:
    """What a run built from some result files must report."""

    stats: dict[str, int]
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    effective: dict[str, JSON] = field(default_factory=dict)  # history id → the counted result
    retried: list[JSON] = field(default_factory=list)  # the results that lost to a later one


def expected_run(source: Path | Iterable[Path]) -> ExpectedRun:
    """Group the ``*-result.json`` files (a folder, or just these files) the way Allure 3 does.

    Per history id the result with the latest ``start`` counts; the others are retries.
    ``retries`` counts the tests that have any, ``retry_attempts`` the retried results.
    """
    paths = result_files(source) if isinstance(source, Path) else list(source)
    groups: dict[str, list[JSON]] = {}
    for path in paths:
        if not path.name.endswith("-result.json"):
            continue
        result = read_json(path)
        groups.setdefault(history_id(result), []).append(result)
    effective: dict[str, JSON] = {}
    retried: list[JSON] = []
    for key, members in groups.items():
        members.sort(key=lambda r: r.get("start") or 0)
        effective[key] = members[-1]
        retried.extend(members[:-1])
    stats = dict.fromkeys(("passed", "failed", "broken", "skipped", "unknown"), 0)
    for result in effective.values():
        status = result.get("status")
        stats[status if status in stats else "unknown"] += 1
    stats["total"] = len(effective)
    stats["retries"] = sum(1 for members in groups.values() if len(members) > 1)
    stats["retry_attempts"] = len(retried)
    status = next((s for s in STATUS_ORDER if stats[s]), "unknown")
    starts = [r["start"] for r in effective.values() if r.get("start") is not None]
    stops = [r["stop"] for r in effective.values() if r.get("stop") is not None]
    started_at = at(min(starts)) if starts else None
    finished_at = at(max(stops)) if stops else None
    duration = max(stops) - min(starts) if starts and stops else None
    return ExpectedRun(stats, status, started_at, finished_at, duration, effective, retried)


# --- archives of a folder


def _members(folder: Path, top: str | None) -> list[tuple[Path, str]]:
    prefix = f"{top.strip('/')}/" if top else ""
    return [(path, prefix + path.name) for path in sorted(folder.iterdir()) if path.is_file()]


def zip_folder(folder: Path, destination: Path, *, top: str | None = None) -> Path:
    """A .zip of the files in ``folder``, at its root or under the folder ``top``."""
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in _members(folder, top):
            archive.write(path, name)
    return destination


def tar_gz_folder(folder: Path, destination: Path, *, top: str | None = None) -> Path:
    """A .tar.gz of the files in ``folder``, at its root or under the folder ``top``."""
    with tarfile.open(destination, "w:gz") as archive:
        if top:
            archive.add(folder, arcname=top.strip("/"), recursive=False)
        for path, name in _members(folder, top):
            archive.add(path, arcname=name)
    return destination


# --- hand-made bad inputs


def zip_with(destination: Path, members: dict[str, bytes]) -> Path:
    """A .zip holding ``members`` under exactly the names given (``../evil`` included)."""
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return destination


def tar_gz_with(destination: Path, members: Iterable[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    """A .tar.gz of regular files given as ``(name, data)`` and of ready-made ``TarInfo``s."""
    with tarfile.open(destination, "w:gz") as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return destination


def link_member(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    """A symbolic (or hard) link tar member called ``name`` pointing at ``target``."""
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def lying_zip_bomb(destination: Path, *, name: str, actual: int, declared: int) -> Path:
    """A .zip whose one member declares ``declared`` bytes but inflates to ``actual`` bytes.

    Built honestly, then the uncompressed size is patched in the local header and the central
    directory, so only a reader that counts what it inflates notices.
    """
    zip_with(destination, {name: bytes(actual)})
    data = bytearray(destination.read_bytes())
    encoded_name = name.encode()
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    assert data[local + 30 : local + 30 + len(encoded_name)] == encoded_name
    assert data[central + 46 : central + 46 + len(encoded_name)] == encoded_name
    size = declared.to_bytes(4, "little")
    data[local + 22 : local + 26] = size
    data[central + 24 : central + 28] = size
    destination.write_bytes(bytes(data))
    return destination


MIB = 1024 * 1024


def _deflated(data: bytes, *, last: bool) -> bytes:
    """``data`` as raw deflate blocks that start afresh and end on a byte boundary, so that
    copies of them can follow one another in a stream; ``last`` ends the stream."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    flush = zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH
    return compressor.compress(data) + compressor.flush(flush)


def _write_zeros(out: IO[bytes], mib: int, crc: int = 0) -> int:
    """Write ``mib`` MiB of zeros to ``out`` as deflate blocks (about 1 KiB a MiB); returns the
    CRC-32 of what they inflate to, continued from ``crc``."""
    zeros = bytes(MIB)
    block = _deflated(zeros, last=False)
    for _ in range(mib):
        out.write(block)
        crc = zlib.crc32(zeros, crc)
    return crc


def zip_bomb(destination: Path, *, name: str, mib: int) -> Path:
    """A .zip whose one member ``name`` unpacks to ``mib`` MiB of zeros from about ``mib`` KiB,
    with its sizes declared truthfully; the zeros themselves are never in memory or on disk."""
    size = mib * MIB
    assert size < 2**32, "sizes past 4 GiB need zip64"
    encoded = name.encode()
    # version 2.0, no flags, deflated, 1980-01-01 00:00; the CRC and sizes are filled in after
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, 0, 0, 0, len(encoded), 0)
    with destination.open("w+b") as out:
        out.write(local + encoded)
        crc = _write_zeros(out, mib)
        out.write(_deflated(b"", last=True))
        central_at = out.tell()
        compressed = central_at - len(local) - len(encoded)
        entry = (0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, compressed, size, len(encoded))
        central = struct.pack("<IHHHHHHIIIHHHHHII", *entry, 0, 0, 0, 0, 0, 0) + encoded
        out.write(central)
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), central_at, 0))
        out.seek(14)
        out.write(struct.pack("<III", crc, compressed, size))
    return destination


def tar_gz_bomb(destination: Path, *, name: str, mib: int) -> Path:
    """A .tar.gz whose one member ``name`` unpacks to ``mib`` MiB of zeros from about ``mib``
    KiB: one gzip stream written block by block, the zeros never in memory or on disk."""
    info = tarfile.TarInfo(name)
    info.size = mib * MIB
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    trailer = bytes(2 * tarfile.BLOCKSIZE)
    with destination.open("wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # gzip of deflate, no mtime
        out.write(_deflated(header, last=False))
        crc = _write_zeros(out, mib, zlib.crc32(header))
        out.write(_deflated(trailer, last=True))
        unpacked = len(header) + info.size + len(trailer)
        out.write(struct.pack("<II", zlib.crc32(trailer, crc), unpacked % 2**32))
    return destination


# --- a suite with flaky tests and repeated failures, for analytics

FLAKY_SUITE_TESTS = """
import uuid
from pathlib import Path

import pytest

FLIP_PASSES = {flip_passes}
ATTEMPTS = Path(__file__).with_name("attempts.txt")


def test_stable():
    assert "stable"


def test_flips():
    assert FLIP_PASSES, "flips this time"


@pytest.mark.flaky(reruns=1)
def test_passes_on_rerun():
    attempts = int(ATTEMPTS.read_text()) if ATTEMPTS.exists() else 0
    ATTEMPTS.write_text(str(attempts + 1))
    assert attempts >= 1, "first attempt fails"


def load_fixture(path, size):
    session = uuid.uuid4()
    where = hex(id(path))
    raise ValueError(f"fixture {{path}} has {{size}} bytes, session {{session}} at {{where}}")


@pytest.mark.parametrize("size", range(20))
def test_loads_fixture(size, tmp_path):
    load_fixture(tmp_path / f"data-{{size}}.bin", size * 37)


def test_totals():
    assert sum([1, 2]) == 4, "totals differ"
"""

SAME_ERROR_TESTS = 20
"""How many results of :data:`FLAKY_SUITE_TESTS` (``test_loads_fixture[*]``) raise one error
with different numbers, ids and temporary paths in their messages."""


def flaky_suite(*, flip_passes: bool) -> dict[str, str]:
    """A suite of ``test_stable`` (passes), ``test_flips`` (passes when ``flip_passes``, else
    fails), ``test_passes_on_rerun`` (fails, then passes on its rerun), twenty
    ``test_loads_fixture[n]`` (broken by one ``ValueError``) and ``test_totals`` (fails)."""
    return {
        "pytest.ini": "[pytest]\n",
        "test_shop.py": FLAKY_SUITE_TESTS.format(flip_passes=flip_passes),
    }
