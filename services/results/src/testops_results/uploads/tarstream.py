"""A streaming reader of ``.tar`` and ``.tar.gz`` archives, for ingesting allure-results.

An allure-results archive holds tens of thousands of small files; the standard library's
``tarfile`` spends most of an upload's time on their headers. This reader handles what an
archive of a folder contains — regular files and folders, with long names as GNU or pax
headers — in one pass over the stream, and reports everything else (links, devices, sparse
files) so the caller can refuse it::

    for member in read_tar(stream):
        if member.kind == "file":
            data = member.read_all()       # or: for chunk in member.chunks(): ...

A member's data must be consumed (or left alone: it is skipped) before the next member.

``on_inflate`` sees a gzipped archive expand as it is read: it is called with the compressed
bytes consumed and the bytes inflated so far, after every step of at most :data:`CHUNK` out,
and may raise to stop the reading (a compression bomb)::

    read_tar(stream, on_inflate=lambda compressed, inflated: check(compressed, inflated))
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Literal

BLOCK = 512
CHUNK = 1024 * 1024
MAX_META = 1024 * 1024
"""Largest GNU long name or pax header accepted: each is read whole into memory."""

MemberKind = Literal["file", "dir", "link", "special"]
InflateHook = Callable[[int, int], None]
"""Called with (compressed bytes consumed, bytes inflated) as a gzipped archive is read."""


class TarError(Exception):
    """The stream is not a tar archive this reader understands."""


class _Source:
    """Bytes of the (decompressed) archive, read ahead in large chunks."""

    def __init__(self, stream: IO[bytes], on_inflate: InflateHook | None = None) -> None:
        self._stream = stream
        self._on_inflate = on_inflate
        self._compressed = 0  # bytes the inflater has consumed
        self._produced = 0  # and those it has made of them
        head = stream.read(2)
        if len(head) == 1:  # a raw stream may answer fewer bytes than asked
            head += stream.read(1)
        self._gzip = head == b"\x1f\x8b"
        self._inflater = zlib.decompressobj(wbits=47) if self._gzip else None
        self._pending = head
        self._buffer = b""
        self._offset = 0
        self._eof = False

    def _fill(self, wanted: int) -> None:
        # Pieces are joined once: a large member read whole is not copied once per chunk.
        parts = [self._buffer[self._offset :]]
        have = len(parts[0])
        self._offset = 0
        while have < wanted and not self._eof:
            raw = self._pending or self._stream.read(CHUNK)
            self._pending = b""
            if not raw:
                if self._inflater is not None:
                    parts.append(self._inflater.flush())
                    self._inflated(0, len(parts[-1]))
                self._eof = True
                break
            if self._inflater is None:
                parts.append(raw)
                have += len(raw)
                continue
            try:
                # At most CHUNK out per call: a small stream of zeros inflates to gigabytes.
                out = self._inflater.decompress(raw, CHUNK)
                self._pending = self._inflater.unconsumed_tail
                # Concatenated gzip members make one stream.
                if self._inflater.eof and self._inflater.unused_data:
                    self._pending = self._inflater.unused_data
                    self._inflater = zlib.decompressobj(wbits=47)
            except zlib.error as exc:
                raise TarError(f"not a readable gzip stream: {exc}") from None
            self._inflated(len(raw) - len(self._pending), len(out))
            parts.append(out)
            have += len(out)
        self._buffer = b"".join(parts)

    def _inflated(self, compressed: int, produced: int) -> None:
        self._compressed += compressed
        self._produced += produced
        if self._on_inflate is not None:
            self._on_inflate(self._compressed, self._produced)

    def read(self, size: int) -> bytes:
        if len(self._buffer) - self._offset < size:
            self._fill(size)
            if len(self._buffer) - self._offset < size:
                raise TarError("the archive ends in the middle of a member")
        start = self._offset
        self._offset = start + size
        return self._buffer[start : start + size]

    def read_some(self, limit: int) -> bytes:
        if len(self._buffer) == self._offset:
            self._fill(1)
        available = min(limit, len(self._buffer) - self._offset)
        if available <= 0:
            raise TarError("the archive ends in the middle of a member")
        start = self._offset
        self._offset = start + available
        return self._buffer[start : start + available]

    def skip(self, size: int) -> None:
        while size > 0:
            size -= len(self.read_some(min(size, CHUNK)))


@dataclass(slots=True)
class Member:
    name: str
    size: int
    kind: MemberKind
    _source: _Source
    _left: int = 0

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        while self._left > 0:
            chunk = self._source.read_some(min(chunk_size, self._left))
            self._left -= len(chunk)
            yield chunk

    def read_all(self) -> bytes:
        data = self._source.read(self._left)
        self._left = 0
        return data

    def read(self, size: int = -1) -> bytes:
        """File-like reading: ``size`` bytes, fewer only at the end (all that is left when
        negative)."""
        if size < 0 or size >= self._left:
            return self.read_all()
        chunk = self._source.read(size)
        self._left -= size
        return chunk


def _number(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256, for sizes past 8 GiB
        value = int.from_bytes(field[1:], "big")
        return value
    text = field.split(b"\x00", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarError("a member header is damaged") from None


def _text(field: bytes) -> str:
    return field.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position)
        if space == -1:
            break
        try:
            length = int(data[position:space])
        except ValueError:
            raise TarError("a pax header is damaged") from None
        if length <= 0:
            raise TarError("a pax header is damaged")
        record = data[space + 1 : position + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        position += length
    return records


_KINDS: dict[bytes, MemberKind] = {
    b"0": "file",
    b"\x00": "file",
    b"7": "file",
    b"5": "dir",
    b"1": "link",
    b"2": "link",
    b"3": "special",
    b"4": "special",
    b"6": "special",
}


def read_tar(stream: IO[bytes], *, on_inflate: InflateHook | None = None) -> Iterator[Member]:
    """The members of the tar (optionally gzipped) archive in ``stream``, in order;
    ``on_inflate`` follows the expansion of a gzipped one (see the module's docstring)."""
    source = _Source(stream, on_inflate)
    long_name: str | None = None
    pax: dict[str, str] = {}
    previous: Member | None = None
    first = True
    while True:
        if previous is not None:
            source.skip(previous._left)
            source.skip(-previous.size % BLOCK)
            previous = None
        try:
            header = source.read(BLOCK)
        except TarError:
            if first:
                raise TarError("not a tar archive") from None
            raise
        if header == bytes(BLOCK):
            return  # end of archive (what follows is padding)
        field = header[148:156]
        if _number(field) != sum(header) - sum(field) + 8 * 32:
            raise TarError("not a tar archive" if first else "a member header is damaged")
        first = False
        size = _number(header[124:136])
        flag = header[156:157]
        if flag in (b"L", b"x", b"g", b"K"):
            if size > MAX_META:
                raise TarError("a long name or pax header is too large")
            data = source.read(size)
            source.skip(-size % BLOCK)
            if flag == b"L":
                long_name = _text(data)
            elif flag == b"x":
                pax = _pax(data)
            continue
        kind = _KINDS.get(flag)
        if kind is None:
            raise TarError(f"members of type {flag!r} (sparse or vendor files) are not supported")
        name = _text(header[0:100])
        if header[257:262] == b"ustar" and header[345:500].strip(b"\x00"):
            name = f"{_text(header[345:500])}/{name}"
        name = pax.get("path", long_name or name)
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise TarError("a pax header is damaged") from None
        long_name, pax = None, {}
        data_size = size if kind == "file" else 0
        member = Member(name=name, size=data_size, kind=kind, _source=source, _left=data_size)
        if kind in ("dir", "link") and size:  # no data follows a device or fifo (POSIX)
            source.skip(size + (-size % BLOCK))
        yield member
        previous = member
