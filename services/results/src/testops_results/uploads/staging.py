"""Reading an upload: loose allure-results files or one archive, checked and parsed on disk.

Nothing here touches the database or object storage. Staging reads each file once: JSON is
parsed (and copied into the upload's raw archive), attachments are copied into the work folder
while their sha256 is computed. A problem with the upload as a whole (an unsafe name, a bomb,
a broken archive) raises; a problem with one file becomes a warning and the file is skipped.

Runs in a worker thread: it blocks on files and burns CPU on JSON.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import queue
import re
import stat
import threading
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from testops_results import allure
from testops_results.uploads.errors import (
    EmptyFile,
    InvalidArchive,
    UnsafePath,
    UploadTooLarge,
)
from testops_results.uploads.tarstream import Member, TarError, read_tar

CHUNK = 1024 * 1024

Readable = IO[bytes] | Member | Any  # a file, a tar member, or a capped zip member
MAX_JSON_BYTES = 64 * 1024 * 1024
"""A result, container or metadata file larger than this is skipped with a warning."""

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")

RAW_NAME = "raw.jsonl.gz"
"""The raw result, container and metadata files of an upload, kept as one object: gzipped
JSON lines ``{"file": "<name>", "text": "<the file's content>"}``, one per file."""
_DRIVE = re.compile(r"^[A-Za-z]:")


RATIO_SETTING = "TESTOPS_RESULTS_MAX_ARCHIVE_RATIO"
RATIO_FLOOR_SETTING = "TESTOPS_RESULTS_ARCHIVE_RATIO_FLOOR_BYTES"


@dataclass(frozen=True, slots=True)
class Limits:
    max_members: int
    max_bytes: int
    max_ratio: float
    """Uncompressed bytes per compressed byte an archive may unpack to, past ``ratio_floor``."""
    ratio_floor: int


@dataclass(slots=True)
class StagedAttachment:
    """An attachment's bytes: ``size`` of them at ``offset`` in the upload's spool file."""

    source: str
    path: Path
    offset: int
    size: int
    sha256: str


@dataclass(slots=True)
class Staged:
    results: list[allure.ParsedResult] = field(default_factory=list)
    containers: list[allure.ParsedContainer] = field(default_factory=list)
    attachments: dict[str, StagedAttachment] = field(default_factory=dict)
    environment: dict[str, str] | None = None
    executor: dict[str, Any] | None = None
    categories: list[Any] | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    raw_archive: Path | None = None
    raw_files: int = 0

    def warn(self, file: str, message: str) -> None:
        self.warnings.append({"file": file, "message": message})


def is_archive_name(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def check_file_name(name: str) -> str:
    """A loose file's name must be a plain file name: no folder, no ``..``."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or _DRIVE.match(name)
    ):
        raise UnsafePath(f"File name {name!r} is not a plain file name.")
    return name


def member_file_name(name: str) -> str:
    """The file name of an archive member that stays inside the folder, else UnsafePath."""
    plain = "/" not in name and "\\" not in name and "\x00" not in name
    if plain and name not in ("", ".", "..") and not _DRIVE.match(name):
        return name
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or _DRIVE.match(name):
        raise UnsafePath(f"Archive member {name!r} escapes the folder.")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"Archive member {name!r} escapes the folder.")
    return parts[-1] if parts else ""


class _RawWriter:
    """Gzipped JSON lines, compressed by a second thread (zlib lets go of the GIL meanwhile)."""

    BATCH = 256

    def __init__(self, path: Path) -> None:
        self._file = gzip.open(path, "wb", compresslevel=1)  # noqa: SIM115 - closed in close
        self._lines: list[bytes] = []
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="raw-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (block := self._queue.get()) is not None:
                self._file.write(block)
        except BaseException as exc:
            self._error = exc
            while self._queue.get() is not None:
                pass

    def write(self, line: bytes) -> None:
        self._lines.append(line)
        if len(self._lines) >= self.BATCH:
            self._queue.put(b"".join(self._lines))
            self._lines = []

    def close(self) -> None:
        if self._lines:
            self._queue.put(b"".join(self._lines))
            self._lines = []
        self._queue.put(None)
        self._thread.join()
        self._file.close()
        if self._error is not None:
            raise self._error


class _Stager:
    def __init__(self, workdir: Path, limits: Limits) -> None:
        self.workdir = workdir
        self.limits = limits
        self.staged = Staged()
        self.seen: set[str] = set()
        self.total_bytes = 0
        self.unpacked = 0
        self.members = 0
        # Attachments go one after another into one file: creating a file each costs more
        # than writing them.
        self.spool_path = workdir / "attachments.bin"
        self.spool = self.spool_path.open("wb")  # noqa: SIM115 - closed in finish
        raw_path = workdir / RAW_NAME
        self.raw = _RawWriter(raw_path)
        self.staged.raw_archive = raw_path

    def count_member(self, declared_size: int) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise UploadTooLarge(f"The archive holds more than {self.limits.max_members} members.")
        self._count_bytes(declared_size)

    def _count_bytes(self, size: int) -> None:
        self.total_bytes += size
        if self.total_bytes > self.limits.max_bytes:
            raise UploadTooLarge(f"The upload unpacks to more than {self.limits.max_bytes} bytes.")

    def count_unpacked(self, size: int, *, compressed: int) -> None:
        """Count ``size`` more bytes really unpacked from an archive of ``compressed`` bytes."""
        self.unpacked += size
        self.check_expansion(compressed, self.unpacked)

    def check_expansion(self, compressed: int, unpacked: int) -> None:
        """Refuse an archive whose ``compressed`` bytes read so far unpack to ``unpacked``, more
        than ``max_ratio`` times as many (once past the floor): a compression bomb is stopped
        after a few tens of MB, not after the gigabytes it would fill the spool folder with."""
        limits = self.limits
        if unpacked <= limits.ratio_floor or unpacked <= limits.max_ratio * compressed:
            return
        raise UploadTooLarge(
            f"The archive unpacks to more than {limits.max_ratio:g} times its compressed size "
            f"({unpacked} bytes from {compressed} compressed bytes): refused as a "
            f"compression bomb. {RATIO_SETTING} sets the ratio, checked past "
            f"{RATIO_FLOOR_SETTING} ({limits.ratio_floor}) unpacked bytes."
        )

    def add(self, name: str, stream: Readable, *, counted: bool) -> None:
        """Stage one file. ``counted``: its declared size was already counted against limits."""
        if name in self.seen:
            self.staged.warn(name, "a file of this name came earlier in the upload; skipped")
            return
        self.seen.add(name)
        kind = allure.file_kind(name)
        if kind == "extra":
            return
        if kind == "other":
            self.staged.warn(name, "not an allure-results file; ignored")
            return
        if kind == "attachment":
            self._attachment(name, stream, counted=counted)
            return
        data = self._read_json_bytes(name, stream, counted=counted)
        if data is None:
            return
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            self.staged.warn(name, f"not valid JSON: {exc}")
            return
        try:
            self._document(name, kind, document, data)
        except ValueError as exc:
            self.staged.warn(name, str(exc))

    def _document(self, name: str, kind: str, document: Any, data: bytes) -> None:
        if kind == "result":
            self.staged.results.append(allure.parse_result(document, name, data.decode()))
        elif kind == "container":
            container = allure.parse_container(document, name, data.decode())
            if container.children and container.has_fixtures:
                self.staged.containers.append(container)
        elif kind == "executor":
            if not isinstance(document, dict):
                raise ValueError("executor.json holds a JSON object")
            self.staged.executor = document
        elif kind == "categories":
            if not isinstance(document, list):
                raise ValueError("categories.json holds a JSON array")
            self.staged.categories = document
        elif kind == "environment":
            self.staged.environment = document
        self._keep_raw(name, data)

    def _read_json_bytes(self, name: str, stream: Readable, *, counted: bool) -> bytes | None:
        data = stream.read(MAX_JSON_BYTES + 1)
        if not counted:
            self._count_bytes(len(data))
        if len(data) > MAX_JSON_BYTES:
            self.staged.warn(name, f"larger than {MAX_JSON_BYTES} bytes; skipped")
            return None
        if name == "environment.properties":
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
            self.staged.environment = allure.parse_properties(text)
            self._keep_raw(name, data)
            return None
        return data

    def _keep_raw(self, name: str, data: bytes) -> None:
        text = data.decode("utf-8", errors="replace")
        self.raw.write(orjson.dumps({"file": name, "text": text}) + b"\n")
        self.staged.raw_files += 1

    def _attachment(self, name: str, stream: Readable, *, counted: bool) -> None:
        digest = hashlib.sha256()
        offset = self.spool.tell()
        size = 0
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            self.spool.write(chunk)
            size += len(chunk)
            if not counted:
                self._count_bytes(len(chunk))
        self.staged.attachments[name] = StagedAttachment(
            name, self.spool_path, offset, size, digest.hexdigest()
        )

    def finish(self) -> Staged:
        self.raw.close()
        self.spool.close()
        return self.staged

    def abort(self) -> None:
        self.raw.close()
        self.spool.close()


def stage_files(files: list[tuple[str, IO[bytes]]], workdir: Path, limits: Limits) -> Staged:
    """Stage loose files (names already checked)."""
    stager = _Stager(workdir, limits)
    try:
        for name, stream in files:
            stream.seek(0)
            stager.add(name, stream, counted=False)
    except BaseException:
        stager.abort()
        raise
    return stager.finish()


def stage_archive(name: str, stream: IO[bytes], workdir: Path, limits: Limits) -> Staged:
    """Stage the members of one ``.zip`` or ``.tar[.gz]`` archive."""
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    if size == 0:
        raise EmptyFile(f"The archive {name!r} is empty.", file=name)
    stream.seek(0)
    stager = _Stager(workdir, limits)
    try:
        if name.lower().endswith(".zip"):
            _stage_zip(name, stream, size, stager)
        else:
            _stage_tar(name, stream, stager)
    except BaseException:
        stager.abort()
        raise
    return stager.finish()


def _stage_zip(name: str, stream: IO[bytes], size: int, stager: _Stager) -> None:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InvalidArchive(f"{name!r} is not a readable zip archive: {exc}") from None
    with archive:
        members = []
        # The central directory first: a bomb is refused before a byte is unpacked.
        for info in archive.infolist():
            file_name = member_file_name(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafePath(f"Archive member {info.filename!r} is a link.")
            if info.is_dir() or not file_name:
                continue
            stager.count_member(info.file_size)
            members.append((file_name, info))
        stager.check_expansion(size, stager.total_bytes)

        # The central directory may lie: what the members really unpack to is counted too.
        def count(chunk: int) -> None:
            stager.count_unpacked(chunk, compressed=size)

        for file_name, info in members:
            try:
                with archive.open(info) as member:
                    capped = _Capped(member, info.file_size, name, on_read=count)
                    stager.add(file_name, capped, counted=True)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise InvalidArchive(
                    f"{name!r}: member {info.filename!r} cannot be read: {exc}"
                ) from None


def _stage_tar(name: str, stream: IO[bytes], stager: _Stager) -> None:
    try:
        # Tar headers declare no compressed sizes: the expansion is followed as it inflates.
        for member in read_tar(stream, on_inflate=stager.check_expansion):
            file_name = member_file_name(member.name)
            if member.kind == "link":
                raise UnsafePath(f"Archive member {member.name!r} is a link.")
            if member.kind == "special":
                raise UnsafePath(f"Archive member {member.name!r} is not a regular file.")
            if member.kind == "dir" or not file_name:
                continue
            stager.count_member(member.size)
            stager.add(file_name, member, counted=True)
    except TarError as exc:
        raise InvalidArchive(f"{name!r} cannot be read as a .tar.gz archive: {exc}") from None


class _Capped(io.RawIOBase):
    """A zip member that may not unpack to more than it declared (a lying bomb stops here)."""

    def __init__(
        self,
        member: IO[bytes],
        declared: int,
        archive: str,
        *,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        self._member = member
        self._left = declared
        self._archive = archive
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._member.read(size if size >= 0 else CHUNK)
        self._left -= len(chunk)
        if self._left < 0:
            raise InvalidArchive(f"{self._archive!r}: a member unpacks to more than it declares.")
        if self._on_read is not None:
            self._on_read(len(chunk))
        return chunk
