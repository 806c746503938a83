"""``read_tar``: the streaming tar reader of uploads, checked against what ``tarfile`` reads.

Every archive here is written by Python's ``tarfile`` (USTAR, GNU and PAX formats, plain and
gzipped) or derived from such bytes by a documented patch; ``tarfile`` reading the same bytes is
the oracle for names, kinds, sizes and contents.
"""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import tarfile
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import pytest

from testops_results.uploads.tarstream import BLOCK, CHUNK, Member, TarError, read_tar

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
BIG = 3 * 1024 * 1024 + 17  # a few MiB, not a multiple of anything the reader uses

# Longer than the 100 bytes of a header's name field; splittable for USTAR's prefix field.
LONG_FOLDER = "allure-results/" + "/".join(f"level-{i:02d}-of-a-deep-tree" for i in range(6))
LONG_NAME = f"{LONG_FOLDER}/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0-attachment.txt"
assert 155 < len(LONG_NAME) <= 255


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(f"{size}-{seed}").randbytes(size)


# --- building archives


@dataclass(frozen=True)
class Entry:
    """One member to write: a TarInfo and, for regular files, its content."""

    info: tarfile.TarInfo
    data: bytes | None = None


def file_entry(name: str, data: bytes) -> Entry:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 1_700_000_000
    return Entry(info, data)


def typed_entry(name: str, kind: bytes, *, linkname: str = "", size: int = 0) -> Entry:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 1_700_000_000
    info.size = size
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    return Entry(info)


def write_tar(entries: list[Entry], fmt: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt, encoding="utf-8") as archive:
        for entry in entries:
            archive.addfile(entry.info, io.BytesIO(entry.data) if entry.data is not None else None)
    return buffer.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0)


def standard_entries() -> list[Entry]:
    """What the format tests put in every archive: each interesting size, name and kind."""
    return [
        typed_entry("allure-results", tarfile.DIRTYPE),
        file_entry("allure-results/empty-attachment.txt", b""),
        file_entry("allure-results/a-511-attachment.bin", payload(511)),
        file_entry("allure-results/a-512-attachment.bin", payload(512)),
        file_entry("allure-results/a-513-attachment.bin", payload(513)),
        typed_entry(LONG_FOLDER, tarfile.DIRTYPE),
        file_entry(LONG_NAME, payload(1000, seed=1)),
        file_entry("allure-results/big-attachment.bin", payload(BIG)),
        file_entry("allure-results/résumé-attachment.txt", "ça marche".encode()),
        typed_entry("allure-results/latest", tarfile.SYMTYPE, linkname="a-511-attachment.bin"),
        typed_entry(
            "allure-results/hard", tarfile.LNKTYPE, linkname="allure-results/a-512-attachment.bin"
        ),
        typed_entry("allure-results/pipe", tarfile.FIFOTYPE),
        typed_entry("allure-results/null", tarfile.CHRTYPE),
        typed_entry("allure-results/disk", tarfile.BLKTYPE),
        file_entry("allure-results/last-result.json", b'{"uuid": "last"}'),
    ]


@cache
def standard_archive(fmt_name: str, compressed: bool) -> bytes:
    data = write_tar(standard_entries(), FORMATS[fmt_name])
    return gz(data) if compressed else data


# --- reading archives


@dataclass(frozen=True)
class Seen:
    """A member as a reader reports it (a directory's name without its trailing slash)."""

    name: str
    kind: str
    size: int
    content: bytes | None


def kind_of(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym() or info.islnk():
        return "link"
    assert info.ischr() or info.isblk() or info.isfifo(), info.type
    return "special"


def tarfile_view(data: bytes) -> list[Seen]:
    """What the standard library makes of ``data`` (plain, gzipped, or concatenated gzip)."""
    seen = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for info in archive:
            content = None
            if info.isreg():
                extracted = archive.extractfile(info)
                assert extracted is not None
                content = extracted.read()
            seen.append(Seen(info.name, kind_of(info), info.size if info.isreg() else 0, content))
    return seen


def read_whole(member: Member) -> bytes:
    return member.read_all()


def read_chunks(member: Member) -> bytes:
    return b"".join(member.chunks())


def read_small_chunks(member: Member) -> bytes:
    pieces = list(member.chunks(1000))
    assert all(len(piece) <= 1000 for piece in pieces)
    return b"".join(pieces)


def read_pieces(member: Member) -> bytes:
    """``read(n)`` in small pieces, as a file-like consumer does, until it answers b''."""
    step = 7 if member.size < 20_000 else 4093
    pieces = []
    while piece := member.read(step):
        assert len(piece) <= step
        pieces.append(piece)
    assert member.read(step) == b""
    return b"".join(pieces)


READERS: dict[str, Callable[[Member], bytes]] = {
    "read_all": read_whole,
    "chunks": read_chunks,
    "chunks-1000": read_small_chunks,
    "read-n": read_pieces,
}


def reader_view(data: bytes, read: Callable[[Member], bytes] = read_whole) -> list[Seen]:
    seen = []
    for member in read_tar(io.BytesIO(data)):
        content = read(member) if member.kind == "file" else None
        name = member.name.rstrip("/") if member.kind == "dir" else member.name
        seen.append(Seen(name, member.kind, member.size, content))
    return seen


def consume(data: bytes | io.RawIOBase) -> list[Seen]:
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    return [
        Seen(m.name, m.kind, m.size, m.read_all() if m.kind == "file" else None)
        for m in read_tar(stream)  # type: ignore[arg-type]
    ]


def headers(tar: bytes) -> list[bytes]:
    """Every header block of a plain tar, walked by hand (no member logic)."""
    found = []
    offset = 0
    while offset + BLOCK <= len(tar):
        header = tar[offset : offset + BLOCK]
        if header == bytes(BLOCK):
            break
        found.append(header)
        size = int(header[124:136].split(b"\x00")[0].strip() or b"0", 8)
        offset += BLOCK
        if header[156:157] in (b"0", b"\x00", b"7", b"L", b"K", b"x", b"g"):
            offset += -(-size // BLOCK) * BLOCK
    return found


def header_flags(tar: bytes) -> list[bytes]:
    return [header[156:157] for header in headers(tar)]


def with_checksum(header: bytearray) -> bytearray:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    return header


def patch_header(tar: bytes, offset: int, patch: Callable[[bytearray], None]) -> bytes:
    """``tar`` with the header at ``offset`` changed by ``patch`` and its checksum made right."""
    data = bytearray(tar)
    header = bytearray(data[offset : offset + BLOCK])
    patch(header)
    data[offset : offset + BLOCK] = with_checksum(header)
    return bytes(data)


class Trickle(io.RawIOBase):
    """A stream answering reads in the pieces given (then whatever is left), like a socket."""

    def __init__(self, data: bytes, pieces: list[int]) -> None:
        self._data = data
        self._pieces = list(pieces)
        self._offset = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        limit = self._pieces.pop(0) if self._pieces else len(self._data)
        if size >= 0:
            limit = min(limit, size)
        chunk = self._data[self._offset : self._offset + limit]
        self._offset += len(chunk)
        return chunk


# --- every format, plain and gzipped


@pytest.mark.parametrize("compressed", [False, True], ids=["tar", "tar.gz"])
@pytest.mark.parametrize("fmt_name", list(FORMATS))
@pytest.mark.parametrize("how", list(READERS))
def test_every_member_reads_as_tarfile_reads_it(fmt_name: str, compressed: bool, how: str) -> None:
    data = standard_archive(fmt_name, compressed)

    seen = reader_view(data, READERS[how])

    assert seen == tarfile_view(data)
    kinds = {s.name.rsplit("/", 1)[-1]: s.kind for s in seen}
    assert kinds["latest"] == kinds["hard"] == "link"
    assert kinds["pipe"] == kinds["null"] == kinds["disk"] == "special"
    assert kinds["allure-results"] == "dir"
    sizes = {s.name.rsplit("/", 1)[-1]: s.size for s in seen if s.kind == "file"}
    assert sizes["empty-attachment.txt"] == 0
    assert sizes["big-attachment.bin"] == BIG
    assert {sizes[f"a-{n}-attachment.bin"] for n in (511, 512, 513)} == {511, 512, 513}
    by_name = {s.name: s for s in seen}
    assert by_name[LONG_NAME].content == payload(1000, seed=1)
    assert by_name["allure-results/big-attachment.bin"].content == payload(BIG)
    assert by_name["allure-results/résumé-attachment.txt"].content == "ça marche".encode()


def test_each_format_stores_long_names_its_own_way() -> None:
    """The format tests above exercise GNU 'L' headers, pax 'path' records and the ustar prefix."""
    gnu = standard_archive("gnu", False)
    pax = standard_archive("pax", False)
    ustar = standard_archive("ustar", False)

    assert b"L" in header_flags(gnu)
    assert b"x" not in header_flags(gnu)
    assert b"x" in header_flags(pax)
    assert b"L" not in header_flags(pax)
    assert f"path={LONG_NAME}\n".encode() in pax
    assert b"L" not in header_flags(ustar)
    assert b"x" not in header_flags(ustar)
    split_names = [
        header[345:500].rstrip(b"\x00") + b"/" + header[:100].rstrip(b"\x00")
        for header in headers(ustar)
        if header[345:500].strip(b"\x00")
    ]
    assert LONG_NAME.encode() in split_names
    assert LONG_NAME.encode() not in ustar


def test_a_name_of_exactly_100_bytes_fills_the_name_field_without_a_nul() -> None:
    name = "n" * 90 + "-result.js"
    assert len(name) == 100
    for fmt in FORMATS.values():
        data = write_tar([file_entry(name, b"{}"), file_entry("after.txt", b"x")], fmt)
        assert reader_view(data) == tarfile_view(data)
        assert reader_view(data)[0].name == name


def test_a_ustar_prefix_field_is_joined_to_the_name() -> None:
    data = write_tar([file_entry(LONG_NAME, b"deep")], tarfile.USTAR_FORMAT)
    header = data[:BLOCK]
    prefix, name = header[345:500].rstrip(b"\x00"), header[:100].rstrip(b"\x00")
    assert prefix
    assert prefix + b"/" + name == LONG_NAME.encode()

    [member] = consume(data)

    assert (member.name, member.content) == (LONG_NAME, b"deep")


def test_a_gnu_longname_header_names_the_next_member_only() -> None:
    long_dir = LONG_FOLDER + "/"
    entries = [
        typed_entry(long_dir, tarfile.DIRTYPE),
        file_entry(LONG_NAME, b"one"),
        file_entry("short.txt", b"two"),
    ]
    data = write_tar(entries, tarfile.GNU_FORMAT)
    assert header_flags(data) == [b"L", b"5", b"L", b"0", b"0"]

    seen = consume(data)

    assert [(s.name.rstrip("/"), s.kind) for s in seen] == [
        (LONG_FOLDER, "dir"),
        (LONG_NAME, "file"),
        ("short.txt", "file"),
    ]
    assert reader_view(data) == tarfile_view(data)


def test_a_pax_path_record_names_the_next_member_only() -> None:
    entries = [file_entry(LONG_NAME, b"one"), file_entry("short.txt", b"two")]
    data = write_tar(entries, tarfile.PAX_FORMAT)
    assert header_flags(data) == [b"x", b"0", b"0"]

    assert [s.name for s in consume(data)] == [LONG_NAME, "short.txt"]
    assert reader_view(data) == tarfile_view(data)


def test_a_pax_size_record_overrides_the_header_size() -> None:
    content = payload(1500, seed=7)
    entry = file_entry("allure-results/sized-attachment.bin", content)
    entry.info.pax_headers = {"size": str(len(content))}
    data = write_tar([entry, file_entry("after.txt", b"after")], tarfile.PAX_FORMAT)
    assert header_flags(data)[:2] == [b"x", b"0"]
    file_header = BLOCK * 2  # the pax header and its one block of records come first
    assert data[file_header : file_header + 100].rstrip(b"\x00") == entry.info.name.encode()
    for header_size in (0, 10, 99_999):

        def set_size(header: bytearray, value: int = header_size) -> None:
            header[124:136] = b"%011o\x00" % value

        patched = patch_header(data, file_header, set_size)

        seen = consume(patched)

        assert [(s.name, s.size, s.content) for s in seen] == [
            (entry.info.name, 1500, content),
            ("after.txt", 5, b"after"),
        ]
        assert reader_view(patched) == tarfile_view(patched)


def test_a_base_256_size_field_is_read() -> None:
    content = payload(700, seed=3)
    data = write_tar([file_entry("a.bin", content), file_entry("b.txt", b"b")], tarfile.GNU_FORMAT)

    def base_256(header: bytearray) -> None:
        header[124:136] = b"\x80" + len(content).to_bytes(11, "big")

    patched = patch_header(data, 0, base_256)

    assert consume(patched) == tarfile_view(patched)
    assert consume(patched)[0].content == content


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_a_special_member_with_a_size_has_no_data_after_it(kind: bytes) -> None:
    """POSIX: no data records follow a device or fifo header, whatever its size field says."""
    entries = [typed_entry("dev", kind, size=700), file_entry("after.txt", b"after")]
    data = write_tar(entries, tarfile.USTAR_FORMAT)

    seen = consume(data)

    assert seen == tarfile_view(data)
    assert [(s.name, s.kind) for s in seen] == [("dev", "special"), ("after.txt", "file")]


def test_an_archive_of_only_folders_and_empty_files() -> None:
    entries = [
        typed_entry("a", tarfile.DIRTYPE),
        typed_entry("a/b", tarfile.DIRTYPE),
        file_entry("a/b/empty", b""),
        file_entry("a/empty-too", b""),
    ]
    for fmt in FORMATS.values():
        data = write_tar(entries, fmt)
        seen = consume(data)
        assert [(s.name, s.kind, s.size, s.content) for s in seen] == [
            ("a/", "dir", 0, None),
            ("a/b/", "dir", 0, None),
            ("a/b/empty", "file", 0, b""),
            ("a/empty-too", "file", 0, b""),
        ]
        assert reader_view(data) == tarfile_view(data)


def test_an_archive_without_members_has_none() -> None:
    empty = write_tar([], tarfile.PAX_FORMAT)
    assert len(empty) == tarfile.RECORDSIZE

    assert consume(empty) == [] == tarfile_view(empty)
    assert consume(gz(empty)) == []


def test_a_member_size_and_kind_are_what_the_header_says() -> None:
    data = standard_archive("pax", False)
    members = list(read_tar(io.BytesIO(data)))  # nothing read: every member is skipped

    expected = tarfile_view(data)
    assert [(m.name.rstrip("/"), m.kind, m.size) for m in members] == [
        (s.name, s.kind, s.size) for s in expected
    ]


# --- members left unread, or read in part


@pytest.mark.parametrize("compressed", [False, True], ids=["tar", "tar.gz"])
def test_members_left_unread_are_skipped(compressed: bool) -> None:
    data = standard_archive("gnu", compressed)
    expected = tarfile_view(data)
    wanted = {"allure-results/a-513-attachment.bin", "allure-results/last-result.json"}

    got = {}
    names = []
    for member in read_tar(io.BytesIO(data)):
        names.append(member.name.rstrip("/"))
        if member.name in wanted:
            got[member.name] = member.read_all()

    assert names == [s.name for s in expected]
    assert got == {s.name: s.content for s in expected if s.name in wanted}


@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(lambda m: m.read(1), id="one-byte"),
        pytest.param(lambda m: m.read(CHUNK + 5), id="past-a-chunk"),
        pytest.param(lambda m: next(m.chunks(100), b""), id="one-chunk"),
        pytest.param(lambda m: next(m.chunks(), b""), id="one-default-chunk"),
        pytest.param(lambda m: m.read(0), id="nothing"),
    ],
)
@pytest.mark.parametrize("compressed", [False, True], ids=["tar", "tar.gz"])
def test_members_read_in_part_are_skipped_to_their_end(
    partial: Callable[[Member], bytes], compressed: bool
) -> None:
    data = standard_archive("pax", compressed)
    expected = tarfile_view(data)

    seen = []
    for member in read_tar(io.BytesIO(data)):
        head = partial(member) if member.kind == "file" else b""
        seen.append((member.name.rstrip("/"), head))

    assert [name for name, _ in seen] == [s.name for s in expected]
    for (_, head), want in zip(seen, expected, strict=True):
        assert (want.content or b"").startswith(head)


def test_read_answers_exactly_what_was_asked_and_the_rest_at_the_end() -> None:
    content = payload(5000, seed=2)
    data = write_tar([file_entry("a.bin", content), file_entry("b.bin", b"bb")], tarfile.GNU_FORMAT)
    members = read_tar(io.BytesIO(data))
    member = next(members)

    assert member.read(0) == b""
    assert member.read(10) == content[:10]
    assert member.read(4000) == content[10:4010]
    assert member.read() == content[4010:]
    assert member.read() == b""
    assert member.read(5) == b""
    assert list(member.chunks()) == []
    following = next(members)
    assert (following.name, following.read(-1)) == ("b.bin", b"bb")


# --- gzip streams


def test_two_concatenated_gzip_members_make_one_archive() -> None:
    tar = standard_archive("ustar", False)
    for cut in (1, 1000, BLOCK * 3, len(tar) // 2 + 123, len(tar) - 1):
        data = gz(tar[:cut]) + gz(tar[cut:])

        assert reader_view(data) == tarfile_view(data) == tarfile_view(tar)


def test_concatenated_gzip_members_with_an_empty_member_between() -> None:
    tar = write_tar([file_entry("a.txt", b"a" * 3000), file_entry("b.txt", b"b")], FORMATS["gnu"])
    data = gz(tar[:1500]) + gz(b"") + gz(tar[1500:])

    assert reader_view(data) == tarfile_view(data) == tarfile_view(tar)


@pytest.mark.parametrize("where", ["before-boundary", "at-boundary", "after-boundary"])
def test_a_gzip_member_boundary_falls_anywhere_in_what_the_stream_answers(where: str) -> None:
    tar = write_tar([file_entry("a.txt", payload(4000)), file_entry("b.txt", b"b")], FORMATS["pax"])
    first, second = gz(tar[:2500]), gz(tar[2500:])
    boundary = len(first) + {"before-boundary": -3, "at-boundary": 0, "after-boundary": 5}[where]
    data = first + second

    seen = consume(Trickle(data, [2, boundary - 2, 1, 7]))

    assert seen == tarfile_view(data) == tarfile_view(tar)


def test_a_stream_answering_one_byte_at_a_time() -> None:
    tar = write_tar([file_entry("a.txt", payload(1300)), file_entry("b.txt", b"b")], FORMATS["gnu"])
    for data in (tar, gz(tar)):
        assert consume(Trickle(data, [1] * len(data))) == tarfile_view(data)


def test_an_archive_gzipped_by_the_gzip_program_reads_too() -> None:
    tar = standard_archive("gnu", False)
    try:
        zipped = subprocess.run(
            ["gzip", "-c", "-n", "-1"], input=tar, capture_output=True, check=True
        ).stdout
    except FileNotFoundError:  # no gzip program here: zlib's own gzip framing stands in
        compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
        zipped = compressor.compress(tar) + compressor.flush()

    assert reader_view(zipped) == tarfile_view(tar)


# --- what is not a readable archive


def truncated_points(tar: bytes) -> Iterator[int]:
    yield 1  # inside the first header
    yield 300
    yield BLOCK  # right after the first header
    yield BLOCK + 100  # inside the first member's data
    yield BLOCK + 1999  # one byte short of the first member's data
    yield BLOCK * 5 + 100  # inside the second header
    end_of_members = len(tar.rstrip(b"\x00"))
    yield -(-end_of_members // BLOCK) * BLOCK  # after the last member, before the end marker
    yield end_of_members + 3


@pytest.mark.parametrize("compressed", [False, True], ids=["tar", "tar.gz"])
def test_a_truncated_archive_raises_tar_error(compressed: bool) -> None:
    tar = write_tar(
        [file_entry("first.bin", payload(2000)), file_entry("last.txt", b"z" * 10)],
        FORMATS["pax"],
    )
    for cut in truncated_points(tar):
        data = gz(tar[:cut]) if compressed else tar[:cut]
        with pytest.raises(TarError):
            consume(data)


def test_a_truncated_gzip_stream_raises_tar_error() -> None:
    data = standard_archive("gnu", True)
    for cut in (5, 20, len(data) // 3, len(data) // 2):
        with pytest.raises(TarError):
            consume(data[:cut])


@pytest.mark.parametrize("how", list(READERS))
def test_a_member_cut_short_raises_tar_error_whichever_way_it_is_read(how: str) -> None:
    tar = write_tar([file_entry("a.bin", payload(BIG))], FORMATS["gnu"])
    with pytest.raises(TarError):
        reader_view(tar[: BLOCK + BIG // 2], READERS[how])


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("field", ["name", "size", "checksum", "flag"])
def test_a_damaged_header_raises_tar_error(which: int, field: str) -> None:
    tar = write_tar([file_entry("a.txt", b"a" * 600), file_entry("b.txt", b"b")], FORMATS["ustar"])
    offset = 0 if which == 0 else BLOCK * 3
    assert tar[offset : offset + 5] == (b"a.txt" if which == 0 else b"b.txt")
    data = bytearray(tar)
    position = {"name": 2, "size": 130, "checksum": 150, "flag": 156}[field]
    data[offset + position] ^= 0x01

    with pytest.raises(TarError):
        consume(bytes(data))
    with pytest.raises(TarError):
        consume(gz(bytes(data)))


def test_a_non_octal_checksum_raises_tar_error() -> None:
    tar = write_tar([file_entry("a.txt", b"a")], FORMATS["gnu"])
    data = bytearray(tar)
    data[148:156] = b"zzzzzz\x00 "

    with pytest.raises(TarError):
        consume(bytes(data))


def test_an_unsupported_member_type_raises_tar_error() -> None:
    tar = write_tar([file_entry("a.txt", b"a"), file_entry("b.txt", b"b")], FORMATS["gnu"])

    def sparse(header: bytearray) -> None:
        header[156:157] = b"S"

    with pytest.raises(TarError):
        consume(patch_header(tar, BLOCK * 2, sparse))


@pytest.mark.parametrize("size", [1, 100, 511, 512, 1024, 10_000, 1_000_000])
def test_random_bytes_raise_tar_error(size: int) -> None:
    data = payload(size, seed=99)
    with pytest.raises(TarError):
        consume(data)
    with pytest.raises(TarError):
        consume(b"\x1f\x8b" + data)  # the gzip magic, then garbage
    with pytest.raises(TarError):
        consume(gz(data))  # a sound gzip stream of garbage


def test_an_empty_stream_raises_tar_error() -> None:
    with pytest.raises(TarError):
        consume(b"")
    with pytest.raises(TarError):
        consume(gz(b""))


def test_a_damaged_gzip_stream_raises_tar_error() -> None:
    data = bytearray(standard_archive("pax", True))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(TarError):
        consume(bytes(data))


def test_a_wrong_gzip_checksum_raises_tar_error() -> None:
    data = bytearray(gz(write_tar([file_entry("a.txt", b"a" * 100)], FORMATS["gnu"])))
    data[-8] ^= 0xFF  # the CRC-32 of the gzip trailer

    with pytest.raises(TarError):
        consume(bytes(data))


# --- memory: what a small upload may make the reader hold


def gzipped_zeros_member(name: str, size: int) -> bytes:
    """A .tar.gz with one member of ``size`` zero bytes, compressed without holding them."""
    info = tarfile.TarInfo(name)
    info.size = size
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(info.tobuf(tarfile.GNU_FORMAT))]
    zeros = bytes(CHUNK)
    parts.extend(compressor.compress(zeros) for _ in range(size // CHUNK))
    parts.append(compressor.compress(bytes(-size % BLOCK + 2 * BLOCK)))
    parts.append(compressor.flush())
    return b"".join(parts)


def test_a_gzip_bomb_is_inflated_a_chunk_at_a_time() -> None:
    """256 MiB of zeros gzip to ~250 KiB; the reader must not inflate them all to read a header."""
    size = 256 * CHUNK
    data = gzipped_zeros_member("zeros-attachment.bin", size)
    assert len(data) < 2 * CHUNK

    tracemalloc.start()
    try:
        members = read_tar(io.BytesIO(data))
        member = next(members)
        first_header_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        total = sum(len(chunk) for chunk in member.chunks())
        assert list(members) == []
        streaming_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (member.name, member.size, total) == ("zeros-attachment.bin", size, size)
    assert first_header_peak < 8 * CHUNK
    assert streaming_peak < 8 * CHUNK


def test_on_inflate_follows_the_compressed_and_inflated_bytes_to_the_end() -> None:
    tar = standard_archive("gnu", False)
    data = gz(tar)
    seen: list[tuple[int, int]] = []

    members = list(read_tar(io.BytesIO(data), on_inflate=lambda c, i: seen.append((c, i))))

    assert len(members) == len(standard_entries())
    assert seen == sorted(seen)  # both only grow
    compressed, inflated = seen[-1]
    assert inflated == len(tar)
    assert len(data) - 18 <= compressed <= len(data)  # all but (at most) gzip's header and trailer


def test_on_inflate_stops_a_bomb_in_the_middle_of_a_member() -> None:
    size = 256 * CHUNK
    data = gzipped_zeros_member("zeros-attachment.bin", size)

    class Bomb(Exception):
        pass

    def refuse_past_8_chunks(compressed: int, inflated: int) -> None:
        if inflated > 8 * CHUNK:
            raise Bomb(f"{inflated} bytes from {compressed}")

    member = next(read_tar(io.BytesIO(data), on_inflate=refuse_past_8_chunks))
    read: list[int] = []

    def drain() -> None:
        for chunk in member.chunks():
            read.append(len(chunk))

    with pytest.raises(Bomb):
        drain()

    assert 7 * CHUNK <= sum(read) <= 8 * CHUNK


def test_a_plain_tar_inflates_nothing() -> None:
    seen: list[tuple[int, int]] = []

    list(read_tar(io.BytesIO(standard_archive("gnu", False)), on_inflate=lambda *n: seen.append(n)))

    assert seen == []


@pytest.mark.parametrize("flag", [b"L", b"x"])
def test_an_oversized_long_name_or_pax_header_raises_tar_error(flag: bytes) -> None:
    """64 MiB of 'name' (gzipped: 64 KiB) is refused, not read into memory whole."""
    size = 64 * CHUNK
    tar = write_tar([file_entry("a.txt", b"a")], FORMATS["gnu"])

    def huge(header: bytearray) -> None:
        header[0:13] = b"././@LongLink"
        header[124:136] = b"%011o\x00" % size
        header[156:157] = flag

    long_header = patch_header(tar, 0, huge)[:BLOCK]
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(long_header)]
    parts.extend(compressor.compress(bytes(CHUNK)) for _ in range(size // CHUNK))
    parts.append(compressor.compress(tar) + compressor.flush())
    data = b"".join(parts)

    tracemalloc.start()
    try:
        with pytest.raises(TarError):
            consume(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * CHUNK


def test_a_large_but_reasonable_pax_header_is_read() -> None:
    entry = file_entry(LONG_NAME, b"x")
    entry.info.pax_headers = {"comment": "c" * (512 * 1024)}
    data = write_tar([entry, file_entry("b.txt", b"b")], FORMATS["pax"])

    assert consume(data) == tarfile_view(data)
    assert [s.name for s in consume(gz(data))] == [LONG_NAME, "b.txt"]
