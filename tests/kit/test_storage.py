"""Object storage: the same behaviour on a local folder and on a real S3 endpoint (moto).

Every test that takes ``storage`` runs once per backend, on a fresh, empty namespace.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import resource
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aioboto3
import httpx
import pytest
from structlog.testing import capture_logs

from testops_kit import testing
from testops_kit.errors import TestOpsError
from testops_kit.settings import StorageSettings
from testops_kit.storage import (
    MULTIPART_PART_SIZE,
    FilePart,
    ObjectNotFound,
    Storage,
    StorageUnavailable,
    check_key,
    open_storage,
    parse_storage_url,
)

MiB = 1024 * 1024


async def stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def random_chunks(total: int, chunk_size: int) -> list[bytes]:
    """``total`` random bytes cut into chunks of ``chunk_size`` (the last one shorter)."""
    return [os.urandom(min(chunk_size, total - at)) for at in range(0, total, chunk_size)]


async def sha256_of(storage: Storage, key: str) -> str:
    digest = hashlib.sha256()
    async for chunk in await storage.open(key):
        digest.update(chunk)
    return digest.hexdigest()


async def keys(storage: Storage, prefix: str = "") -> list[str]:
    return [info.key async for info in storage.list(prefix)]


@functools.cache
def _s3_session() -> Any:
    """One session for the tests' own S3 client: a new one re-reads botocore's models."""
    return aioboto3.Session()


async def leftovers(settings: StorageSettings) -> list[str]:
    """Half-written data a put may leave behind: staging files, unfinished multipart uploads."""
    scheme, location, prefix = parse_storage_url(settings.resolved_storage_url)
    if scheme == "file":
        return sorted(path.name for path in (Path(location) / ".staging").iterdir())
    secret = settings.s3_secret_access_key
    async with _s3_session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
    ) as client:
        answer = await client.list_multipart_uploads(Bucket=location, Prefix=prefix)
    return sorted(upload["Key"] for upload in answer.get("Uploads", []))


@pytest.fixture
def settings(storage_settings_factory: Callable[[str], dict[str, Any]]) -> StorageSettings:
    return StorageSettings(**storage_settings_factory("objects"))


@pytest.fixture
async def storage(settings: StorageSettings) -> AsyncIterator[Storage]:
    async with open_storage(settings) as opened:
        yield opened


@pytest.fixture
def s3_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings of the S3 test endpoint, for the tests that are about S3 only."""
    if "s3" not in testing.test_storages():
        pytest.skip(f"S3 is not among {testing.TEST_STORAGES_ENV}")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    return {
        "storage_url": f"s3://{testing.TEST_BUCKET}/s3-only",
        "s3_endpoint_url": endpoint,
        "s3_region": "us-east-1",
        "s3_access_key_id": "testing",
        "s3_secret_access_key": "testing-secret",
    }


# Writing and reading


async def test_put_stores_the_bytes_of_every_chunk_and_returns_their_count(
    storage: Storage,
) -> None:
    chunks = [b"hello ", os.urandom(300_000), b"", os.urandom(5), b" world"]

    size = await storage.put("runs/1/report.bin", stream(*chunks), content_type="text/plain")

    data = b"".join(chunks)
    assert size == len(data)
    assert await sha256_of(storage, "runs/1/report.bin") == hashlib.sha256(data).hexdigest()


async def test_an_object_bigger_than_a_multipart_part_round_trips_byte_identically(
    storage: Storage,
) -> None:
    chunks = random_chunks(20 * MiB + 12_345, 1_500_000)
    expected = hashlib.sha256(b"".join(chunks)).hexdigest()
    assert sum(map(len, chunks)) > 2 * MULTIPART_PART_SIZE

    size = await storage.put("big/object", stream(*chunks))

    assert size == 20 * MiB + 12_345
    assert await sha256_of(storage, "big/object") == expected
    info = await storage.stat("big/object")
    assert info is not None
    assert info.size == size


async def test_put_many_of_thousands_of_files_holds_few_open_at_once(tmp_path: Path) -> None:
    """A report is thousands of small files, each its own source: they are opened one at a
    time, not kept open until the end (the descriptor limit is often 1,024)."""
    files = []
    for n in range(3000):
        path = tmp_path / f"f{n}.txt"
        path.write_bytes(f"file {n}".encode())
        files.append(FilePart(key=f"many/{n}.txt", path=path, offset=0, length=path.stat().st_size))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, in_use + 400), hard))
    settings = StorageSettings(storage_url=f"file://{tmp_path / 'objects'}")
    async with open_storage(settings) as storage:
        try:
            stored = await storage.put_many(files, concurrency=8)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        listed = [info.key async for info in storage.list("many/")]
        digest = await sha256_of(storage, "many/2999.txt")

    assert stored == 3000
    assert len(listed) == 3000
    assert digest == hashlib.sha256(b"file 2999").hexdigest()


async def test_put_file_stores_a_local_file(storage: Storage, tmp_path: Path) -> None:
    data = os.urandom(2 * MiB + 17)
    source = tmp_path / "upload.bin"
    source.write_bytes(data)

    size = await storage.put_file("files/upload.bin", source)

    assert size == len(data)
    assert await (await storage.open("files/upload.bin")).read() == data


async def test_put_replaces_an_existing_object(storage: Storage) -> None:
    await storage.put_bytes("doc", b"the first, longer version")

    await storage.put_bytes("doc", b"second")

    assert await (await storage.open("doc")).read() == b"second"
    info = await storage.stat("doc")
    assert info is not None
    assert info.size == 6


async def test_an_empty_object_can_be_stored_and_read(storage: Storage) -> None:
    assert await storage.put("empty", stream()) == 0

    obj = await storage.open("empty")

    assert (obj.size, obj.content_length) == (0, 0)
    assert await obj.read() == b""
    assert [(info.key, info.size) async for info in storage.list()] == [("empty", 0)]


# Byte ranges

RANGE_DATA = bytes(range(256)) * 4  # 1,024 bytes, each position recognisable


RANGES = [  # (start, end) asked -> (first, last) byte returned
    ((None, None), (0, 1023)),
    ((100, None), (100, 1023)),
    ((10, 19), (10, 19)),
    ((None, 9), (0, 9)),
    ((512, 512), (512, 512)),
]


async def test_open_with_a_range_returns_only_those_bytes(storage: Storage) -> None:
    await storage.put_bytes("ranged", RANGE_DATA)

    for (start, end), (first, last) in RANGES:
        obj = await storage.open("ranged", start=start, end=end)

        assert (obj.size, obj.start, obj.end) == (1024, first, last), (start, end)
        assert obj.content_length == last - first + 1, (start, end)
        assert await obj.read() == RANGE_DATA[first : last + 1], (start, end)


async def test_a_range_ending_beyond_the_object_is_clamped_to_its_last_byte(
    storage: Storage,
) -> None:
    await storage.put_bytes("ranged", RANGE_DATA)

    obj = await storage.open("ranged", start=1000, end=5000)

    assert (obj.size, obj.start, obj.end, obj.content_length) == (1024, 1000, 1023, 24)
    assert await obj.read() == RANGE_DATA[1000:]


async def test_a_range_across_chunks_of_a_big_object_returns_those_bytes(
    storage: Storage,
) -> None:
    data = os.urandom(3 * MiB)
    await storage.put_bytes("three-mib", data)

    obj = await storage.open("three-mib", start=MiB - 10, end=2 * MiB + 9)

    assert obj.content_length == MiB + 20
    assert await obj.read() == data[MiB - 10 : 2 * MiB + 10]


# Metadata and missing objects


async def test_stat_and_exists_describe_a_present_object(storage: Storage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    await storage.put_bytes("a/b/c.txt", b"12345")

    info = await storage.stat("a/b/c.txt")

    assert info is not None
    assert (info.key, info.size) == ("a/b/c.txt", 5)
    assert before <= info.last_modified <= datetime.now(UTC) + timedelta(seconds=5)
    assert await storage.exists("a/b/c.txt") is True


async def test_stat_and_exists_of_a_missing_key_say_it_is_not_there(storage: Storage) -> None:
    await storage.put_bytes("present", b"x")

    assert await storage.stat("missing") is None
    assert await storage.exists("missing") is False
    assert await storage.stat("present/below") is None


async def test_a_key_that_is_only_the_folder_of_other_keys_does_not_exist(
    storage: Storage,
) -> None:
    await storage.put_bytes("folder/inner", b"x")

    assert await storage.stat("folder") is None
    assert await storage.exists("folder") is False
    with pytest.raises(ObjectNotFound):
        await storage.open("folder")


async def test_open_of_a_missing_key_raises_object_not_found(storage: Storage) -> None:
    with pytest.raises(ObjectNotFound) as raised:
        await storage.open("nowhere/to/be/found")

    assert isinstance(raised.value, TestOpsError)
    assert raised.value.status_code == 404
    assert raised.value.code == "object_not_found"


# Deleting


async def test_delete_removes_the_object_and_is_idempotent(storage: Storage) -> None:
    await storage.put_bytes("x/gone", b"bye")
    await storage.put_bytes("x/kept", b"stay")

    await storage.delete("x/gone")
    await storage.delete("x/gone")
    await storage.delete("never/existed")

    assert await storage.exists("x/gone") is False
    assert await keys(storage) == ["x/kept"]


async def test_delete_many_removes_every_named_key_across_batches(storage: Storage) -> None:
    # S3 deletes at most 1,000 keys per request, so 1,050 names take two batches. Only a
    # sample of them is stored, to stay quick; it covers both batches and their edges.
    names = [f"many/{n:04d}" for n in range(1_050)]
    stored = [*names[::25], *names[998:1002], names[-1], "kept/one"]
    limit = asyncio.Semaphore(16)

    async def put(key: str) -> None:
        async with limit:
            await storage.put_bytes(key, b"x")

    await asyncio.gather(*(put(key) for key in stored))

    await storage.delete_many(names)

    assert await keys(storage) == ["kept/one"]


# Listing


async def test_list_returns_exactly_the_keys_under_a_prefix_in_key_order_with_sizes(
    storage: Storage,
) -> None:
    for key, data in [
        ("b/5", b"55555"),
        ("a/b/3", b"333"),
        ("a/2", b"22"),
        ("ab/4", b"4444"),
        ("a/1", b"1"),
        ("a.txt", b"dot"),
    ]:
        await storage.put_bytes(key, data)

    under_a_folder = [(info.key, info.size) async for info in storage.list("a/")]
    starting_with_a = await keys(storage, "a")

    assert under_a_folder == [("a/1", 1), ("a/2", 2), ("a/b/3", 3)]
    assert starting_with_a == ["a.txt", "a/1", "a/2", "a/b/3", "ab/4"]
    assert await keys(storage) == ["a.txt", "a/1", "a/2", "a/b/3", "ab/4", "b/5"]
    assert await keys(storage, "c/") == []


async def test_an_object_still_being_written_is_neither_listed_nor_found(
    storage: Storage,
) -> None:
    await storage.put_bytes("done", b"complete")
    halfway, finish = asyncio.Event(), asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"first half, "
        halfway.set()
        await finish.wait()
        yield b"second half"

    writing = asyncio.create_task(storage.put("in/flight", slow()))
    await halfway.wait()

    assert await keys(storage) == ["done"]
    assert await storage.exists("in/flight") is False

    finish.set()
    assert await writing == 23
    assert await keys(storage) == ["done", "in/flight"]


# The local folder's staging area


@pytest.fixture
def dead_pid() -> int:
    """The id of a process that has already exited."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


async def test_open_clears_half_written_files_a_dead_process_left(
    tmp_path: Path, dead_pid: int
) -> None:
    (tmp_path / ".staging").mkdir()
    (tmp_path / ".staging" / f"{dead_pid}-0123abcd").write_bytes(b"half")

    async with open_storage(StorageSettings(storage_url=f"file://{tmp_path}")) as storage:
        assert await keys(storage) == []

    assert list((tmp_path / ".staging").iterdir()) == []


async def test_open_keeps_the_files_another_live_process_is_writing(tmp_path: Path) -> None:
    writing = tmp_path / ".staging" / f"{os.getppid()}-0123abcd"
    writing.parent.mkdir()
    writing.write_bytes(b"half")

    async with open_storage(StorageSettings(storage_url=f"file://{tmp_path}")) as storage:
        assert await keys(storage) == []

    assert writing.read_bytes() == b"half"


# Failed writes


async def failing_after(total: int) -> AsyncIterator[bytes]:
    for chunk in random_chunks(total, MiB):
        yield chunk
    raise RuntimeError("the source broke")


@pytest.mark.parametrize("sent", [1000, MULTIPART_PART_SIZE + MiB], ids=["small", "past-one-part"])
async def test_a_put_whose_source_fails_leaves_no_object(
    storage: Storage, settings: StorageSettings, sent: int
) -> None:
    with pytest.raises(RuntimeError, match="the source broke"):
        await storage.put("broken", failing_after(sent))

    assert await storage.exists("broken") is False
    assert await keys(storage) == []
    assert await leftovers(settings) == []


async def test_a_put_whose_source_fails_keeps_the_previous_version(storage: Storage) -> None:
    await storage.put_bytes("kept", b"previous")

    with pytest.raises(RuntimeError, match="the source broke"):
        await storage.put("kept", failing_after(MULTIPART_PART_SIZE + MiB))

    assert await (await storage.open("kept")).read() == b"previous"


async def test_a_cancelled_put_leaves_no_object(
    storage: Storage, settings: StorageSettings
) -> None:
    sent = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        for chunk in random_chunks(MULTIPART_PART_SIZE + MiB, MiB):
            yield chunk
        sent.set()
        await asyncio.Event().wait()

    writing = asyncio.create_task(storage.put("cancelled", stalls()))
    await sent.wait()
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing

    assert await keys(storage) == []
    assert await leftovers(settings) == []


# Keys

INVALID_KEYS = ["../x", "a/../b", "/abs", "a//b", "", "a/./b", ".", "a/", "a\\b", "a\x00b"]


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_an_invalid_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        check_key(key)


@pytest.mark.parametrize("key", ["a", "a/b/c.txt", "blobs/ab/abcdef", "a/.hidden", "x..y", "é/ü"])
def test_a_relative_slash_separated_key_is_accepted(key: str) -> None:
    assert check_key(key) == key


async def test_every_operation_refuses_an_invalid_key(storage: Storage) -> None:
    operations: dict[str, Callable[[str], Awaitable[object]]] = {
        "put": lambda key: storage.put_bytes(key, b"x"),
        "open": storage.open,
        "stat": storage.stat,
        "exists": storage.exists,
        "delete": storage.delete,
        "delete_many": lambda key: storage.delete_many(["fine", key]),
    }
    accepted = []
    for key in INVALID_KEYS:
        for name, operation in operations.items():
            try:
                await operation(key)
            except ValueError as exc:
                refused = str(exc).startswith("invalid object key")
            else:
                refused = False
            if not refused:
                accepted.append((name, key))

    assert accepted == []
    assert await keys(storage) == []


# Presigned URLs and health


async def test_a_presigned_url_reads_the_object_without_credentials_on_s3_only(
    storage: Storage, storage_backend: str
) -> None:
    data = os.urandom(10_000)
    await storage.put_bytes("shared/report.html", data, content_type="text/html")

    url = await storage.presigned_get_url("shared/report.html", expires_s=60)

    if storage_backend == "file":
        assert url is None
        return
    assert url is not None
    assert "testing-secret" not in url
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.content == data


async def test_check_passes_on_a_usable_storage(storage: Storage) -> None:
    await storage.check()


async def test_check_raises_storage_unavailable_when_the_bucket_does_not_exist(
    s3_settings: dict[str, Any],
) -> None:
    settings = StorageSettings(**{**s3_settings, "storage_url": "s3://no-such-bucket/x"})

    async with open_storage(settings) as storage:
        with pytest.raises(StorageUnavailable) as raised:
            await storage.check()

    assert raised.value.status_code == 503
    assert raised.value.code == "storage_unavailable"
    assert "no-such-bucket" in raised.value.detail
    assert "testing-secret" not in raised.value.detail


# Secrets


async def test_the_s3_secret_never_appears_in_the_log_output(
    s3_settings: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-that-must-not-leak"
    settings = StorageSettings(**{**s3_settings, "s3_secret_access_key": secret})
    caplog.set_level(logging.DEBUG)

    with capture_logs() as events:
        async with open_storage(settings) as storage:
            await storage.check()
            await storage.put_bytes("logged/object", b"payload")
            await (await storage.open("logged/object")).read()
            await storage.delete("logged/object")

    assert [event["event"] for event in events] == ["storage_ready"]
    assert secret not in repr(events)
    assert caplog.records  # botocore logged its requests at debug level
    assert secret not in caplog.text


# Writes a dead process never finished


async def test_unfinished_multipart_writes_are_aborted_on_s3(
    s3_settings: dict[str, Any],
) -> None:
    settings = StorageSettings(
        **{**s3_settings, "storage_url": f"s3://{testing.TEST_BUCKET}/unfinished"}
    )
    async with _s3_session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing-secret",
    ) as client:
        await client.create_multipart_upload(
            Bucket=testing.TEST_BUCKET, Key="unfinished/attachments/ab/abc"
        )

    # moto reports every upload as begun in 2010, so only the abort itself can be checked here.
    async with open_storage(settings) as storage:
        aborted = await storage.abort_incomplete_writes(older_than_s=0)

    assert aborted == 1
    assert await leftovers(settings) == []


# Folders in, objects out: put_tree and get_many


def _tree(folder: Path) -> dict[str, bytes]:
    """A small report-like folder: files at the top and two levels down."""
    files = {
        "index.html": b"<html>report</html>",
        "data/test-results/a1.json": b'{"id": "a1"}',
        "data/test-results/b2.json": os.urandom(70_000),
        "widgets/summary.json": b"{}",
        "empty.txt": b"",
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


async def test_put_tree_stores_every_file_under_the_prefix_by_its_path(
    storage: Storage, tmp_path: Path
) -> None:
    files = _tree(tmp_path / "report")

    stored = await storage.put_tree("reports/7/k1/", tmp_path / "report")

    assert stored == len(files)
    assert await keys(storage, "reports/7/k1/") == sorted(f"reports/7/k1/{name}" for name in files)
    for name, data in files.items():
        assert await (await storage.open(f"reports/7/k1/{name}")).read() == data


async def test_put_tree_leaves_symbolic_links_out(storage: Storage, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_bytes(b"not part of the report")
    files = _tree(tmp_path / "report")
    (tmp_path / "report" / "link.txt").symlink_to(secret)
    (tmp_path / "report" / "linked-folder").symlink_to(tmp_path / "report" / "data")

    stored = await storage.put_tree("reports/8/k1/", tmp_path / "report")

    assert stored == len(files)
    assert await keys(storage, "reports/8/k1/") == sorted(f"reports/8/k1/{name}" for name in files)
    assert not await storage.exists("reports/8/k1/link.txt")


async def test_put_tree_on_a_local_folder_moves_the_files_instead_of_copying_them(
    tmp_path: Path,
) -> None:
    _tree(tmp_path / "report")
    inode = (tmp_path / "report" / "data" / "test-results" / "b2.json").stat().st_ino
    settings = StorageSettings(storage_url=f"file://{tmp_path / 'objects'}")
    async with open_storage(settings) as storage:
        stored = await storage.put_tree("reports/9/k1/", tmp_path / "report")
        assert await keys(storage, "reports/9/") != []

    moved = tmp_path / "objects" / "reports" / "9" / "k1" / "data" / "test-results" / "b2.json"
    assert stored == 5
    assert moved.stat().st_ino == inode
    assert not (tmp_path / "report").exists()


async def test_put_tree_refuses_a_prefix_that_is_not_a_folder(tmp_path: Path) -> None:
    _tree(tmp_path / "report")
    settings = StorageSettings(storage_url=f"file://{tmp_path / 'objects'}")
    async with open_storage(settings) as storage:
        with pytest.raises(ValueError, match="ends with '/'"):
            await storage.put_tree("reports/9/k1", tmp_path / "report")


async def test_get_many_writes_each_object_to_its_file(storage: Storage, tmp_path: Path) -> None:
    objects = {f"blobs/{n:02d}": os.urandom(1000 * n) for n in range(12)}
    for key, data in objects.items():
        await storage.put_bytes(key, data)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "03").write_bytes(b"an older file, replaced")

    await storage.get_many(
        [(key, tmp_path / "out" / key.split("/")[1]) for key in objects], concurrency=4
    )

    assert {f"blobs/{path.name}": path.read_bytes() for path in (tmp_path / "out").iterdir()} == (
        objects
    )


async def test_get_many_of_a_missing_object_raises_object_not_found(
    storage: Storage, tmp_path: Path
) -> None:
    await storage.put_bytes("blobs/there", b"x")

    with pytest.raises(ObjectNotFound):
        await storage.get_many(
            [("blobs/there", tmp_path / "there"), ("blobs/missing", tmp_path / "missing")]
        )


async def test_open_clears_what_an_earlier_start_with_the_same_pid_left(tmp_path: Path) -> None:
    """In a container the process has the same pid after a restart: its earlier instance's
    half-written files are still recognised as left behind."""
    import socket

    earlier = tmp_path / ".staging" / f"{os.getpid()}.{'0' * 12}.{socket.gethostname()}~0123abcd"
    earlier.parent.mkdir()
    earlier.write_bytes(b"half")

    async with open_storage(StorageSettings(storage_url=f"file://{tmp_path}")) as storage:
        assert await keys(storage) == []

    assert not earlier.exists()
