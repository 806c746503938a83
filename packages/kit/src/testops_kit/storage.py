"""Object storage: one async interface over a local folder or an S3 bucket.

The backend is chosen by ``STORAGE_URL``: ``file:///abs/path`` or ``s3://bucket/prefix``::

    async with open_storage(settings) as storage:
        await storage.put("blobs/ab/abcd…", chunks(), content_type="image/png")
        obj = await storage.open("blobs/ab/abcd…", start=0, end=99)  # first 100 bytes
        async for chunk in obj:
            ...

Keys are relative, ``/``-separated paths without ``..``. Bodies always stream: ``put`` consumes
an async byte iterator (S3 switches to a multipart upload past one part), ``open`` yields chunks.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import re
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from stat import S_ISREG
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
from anyio.abc import TaskGroup

from testops_kit.errors import NotFound, ServiceUnavailable
from testops_kit.logging import get_logger
from testops_kit.processes import left_by_gone_process, tagged
from testops_kit.settings import StorageSettings

CHUNK_SIZE = 1024 * 1024
"""Bytes per chunk when reading objects and files."""

MULTIPART_PART_SIZE = 8 * 1024 * 1024
"""S3 part size: objects larger than this are sent as a multipart upload."""

_KEY = re.compile(r"^(?!/)(?!.*//)[^\x00\\]+$")

log = get_logger(__name__)

_aioboto3_session: Any = None


class ObjectNotFound(NotFound):
    code = "object_not_found"
    title = "Object not found"


class StorageUnavailable(ServiceUnavailable):
    code = "storage_unavailable"
    title = "Object storage unavailable"


STORAGE_UNAVAILABLE_DESCRIPTION = (
    "Service unavailable: the database is busy (`database_busy`) or cannot be reached "
    "(`database_unavailable`), or object storage does not answer (`storage_unavailable`); "
    "try again after `Retry-After` seconds"
)
"""The 503 of an operation that uses object storage as well as the database."""


class InvalidStorageUrl(ValueError):
    """``STORAGE_URL`` is neither ``file:///…`` nor ``s3://bucket[/prefix]``."""


@dataclass(frozen=True, slots=True)
class FilePart:
    """``length`` bytes of a local file from ``offset``: what :meth:`Storage.put_many` writes."""

    key: str
    path: Path
    offset: int
    length: int
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime


class ObjectStream:
    """An object being read: its full ``size``, the byte span returned, and the chunks."""

    def __init__(
        self, *, size: int, start: int, end: int, chunks: AsyncIterator[bytes], close: Any = None
    ) -> None:
        self.size = size
        self.start = start
        self.end = end
        self._chunks = chunks
        self._close = close

    @property
    def content_length(self) -> int:
        return self.end - self.start + 1 if self.size else 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks:
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        close, self._close = self._close, None
        if close is not None:
            await close()

    async def read(self) -> bytes:
        """The whole span in memory: for small objects only."""
        return b"".join([chunk async for chunk in self])


def check_key(key: str) -> str:
    """Refuse keys that are absolute, empty, or climb out with ``..``."""
    if not _KEY.match(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid object key {key!r}")
    return key


def _span(size: int, start: int | None, end: int | None) -> tuple[int, int]:
    first = start or 0
    last = size - 1 if end is None else min(end, size - 1)
    return first, last


class Storage(ABC):
    """What every backend offers. Missing objects raise :class:`ObjectNotFound`."""

    description: str

    @abstractmethod
    async def put(
        self, key: str, data: AsyncIterable[bytes], *, content_type: str | None = None
    ) -> int:
        """Store the bytes of ``data`` under ``key`` (replacing it) and return their count."""

    async def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> int:
        """Store a local file's bytes under ``key``."""
        return await self.put(key, read_file_chunks(path), content_type=content_type)

    async def put_many(
        self, parts: Sequence[FilePart], *, skip_existing: bool = False, concurrency: int = 8
    ) -> int:
        """Store each part under its key, ``concurrency`` at a time; with ``skip_existing``,
        keys already present are left as they are. Returns how many objects were written."""
        limiter = anyio.Semaphore(concurrency)
        written = 0

        async def put_one(part: FilePart) -> None:
            nonlocal written
            async with limiter:
                if skip_existing and await self.exists(part.key):
                    return
                await self.put(
                    part.key,
                    read_file_chunks(part.path, offset=part.offset, length=part.length),
                    content_type=part.content_type,
                )
                written += 1

        async with first_error_task_group() as group:
            for part in parts:
                group.start_soon(put_one, part)
        return written

    async def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> int:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.put(key, one(), content_type=content_type)

    async def put_tree(
        self,
        prefix: str,
        folder: Path,
        *,
        content_type: Callable[[str], str | None] = lambda name: None,
        concurrency: int = 8,
    ) -> int:
        """Store every regular file under ``folder`` as ``prefix`` + its ``/``-separated path
        in the folder (symbolic links are left out), and return how many.

        ``folder`` is handed over: a backend may move it into place rather than copy it, so the
        caller must not use it afterwards, only remove whatever is left of it. ``prefix`` ends
        with ``/`` and names a place nothing else writes to (a new build's folder, say).
        ``content_type(path)`` gives each file's type.
        """
        parts = await anyio.to_thread.run_sync(_tree_parts, folder, prefix, content_type)
        await self.put_many(parts, concurrency=concurrency)
        return len(parts)

    async def get_many(self, objects: Sequence[tuple[str, Path]], *, concurrency: int = 8) -> None:
        """Write each object ``key`` to its local ``path`` (replacing the file),
        ``concurrency`` at a time."""
        limiter = anyio.Semaphore(concurrency)

        async def get_one(key: str, path: Path) -> None:
            async with limiter:
                stream = await self.open(key)
                try:
                    async with await anyio.open_file(path, "wb") as file:
                        async for chunk in stream:
                            await file.write(chunk)
                finally:
                    await stream.aclose()

        async with first_error_task_group() as group:
            for key, path in objects:
                group.start_soon(get_one, key, path)

    @abstractmethod
    async def open(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> ObjectStream:
        """Read ``key`` from byte ``start`` to byte ``end`` (inclusive; default: all of it)."""

    @abstractmethod
    async def stat(self, key: str) -> ObjectInfo | None:
        """Size and modification time of ``key``, or None when it does not exist."""

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""

    async def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            await self.delete(key)

    @abstractmethod
    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""

    async def presigned_get_url(self, key: str, *, expires_s: int = 3600) -> str | None:
        """A URL that reads ``key`` without credentials for a while; None where unsupported."""
        return None

    async def abort_incomplete_writes(self, *, older_than_s: int) -> int:
        """Drop writes that were begun that long ago and never finished (a process died while
        writing); returns how many. Local folders clear theirs when opened."""
        return 0

    @abstractmethod
    async def check(self) -> None:
        """Raise :class:`StorageUnavailable` when the storage cannot be used."""


@asynccontextmanager
async def first_error_task_group() -> AsyncIterator[TaskGroup]:
    """A task group that fails with the first error of its tasks (``ObjectNotFound``, say),
    not with an exception group around it."""
    try:
        async with anyio.create_task_group() as group:
            yield group
    except BaseExceptionGroup as failed:
        errors, _ = failed.split(Exception)
        if errors is None:
            raise
        first: BaseException = errors
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from failed


async def read_file_chunks(
    path: Path, chunk_size: int = CHUNK_SIZE, *, offset: int = 0, length: int | None = None
) -> AsyncIterator[bytes]:
    """The bytes of a local file (``length`` of them from ``offset``), read off the event loop."""
    async with await anyio.open_file(path, "rb") as file:
        if offset:
            await file.seek(offset)
        left = length
        while left is None or left > 0:
            chunk = await file.read(chunk_size if left is None else min(chunk_size, left))
            if not chunk:
                break
            if left is not None:
                left -= len(chunk)
            yield chunk


class LocalStorage(Storage):
    """Objects as files under one folder. Writes land in a temp file first, then are renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._staging = self.root / ".staging"
        self.description = f"file://{self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def start(self) -> None:
        await anyio.to_thread.run_sync(self._prepare)

    def _prepare(self) -> None:
        self._staging.mkdir(parents=True, exist_ok=True)
        # Half-written files of processes that died; several processes may share the folder.
        for leftover in self._staging.iterdir():
            if left_by_gone_process(leftover.name):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def _staging_file(self) -> Path:
        return self._staging / tagged(uuid.uuid4().hex)

    async def put(
        self, key: str, data: AsyncIterable[bytes], *, content_type: str | None = None
    ) -> int:
        target = self._path(key)
        staging = self._staging_file()
        size = 0
        try:
            async with await anyio.open_file(staging, "wb") as file:
                async for chunk in data:
                    await file.write(chunk)
                    size += len(chunk)
            await anyio.to_thread.run_sync(_move_into_place, staging, target)
        except BaseException:
            with contextlib.suppress(OSError):
                staging.unlink()
            raise
        return size

    async def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> int:
        target = self._path(key)
        staging = self._staging_file()

        def copy() -> int:
            try:
                shutil.copyfile(path, staging)
                size = staging.stat().st_size
                _move_into_place(staging, target)
                return size
            except BaseException:
                with contextlib.suppress(OSError):
                    staging.unlink()
                raise

        return await anyio.to_thread.run_sync(copy)

    async def put_many(
        self, parts: Sequence[FilePart], *, skip_existing: bool = False, concurrency: int = 8
    ) -> int:
        # Small files are written faster by a few threads taking a share each than by
        # several thread hops per file.
        shares = [parts[index::concurrency] for index in range(min(concurrency, len(parts)))]
        counts: list[int] = []

        async def put_share(share: Sequence[FilePart]) -> None:
            counts.append(await anyio.to_thread.run_sync(self._put_share, share, skip_existing))

        async with first_error_task_group() as group:
            for share in shares:
                group.start_soon(put_share, share)
        return sum(counts)

    def _put_share(self, parts: Sequence[FilePart], skip_existing: bool) -> int:
        written = 0
        # One source open at a time: parts cut from one file come one after another, and a
        # share of thousands of small files must not hold thousands of descriptors.
        source_path: Path | None = None
        source: Any = None
        try:
            for part in parts:
                target = self._path(part.key)
                if skip_existing and target.is_file():
                    continue
                if part.path != source_path:
                    if source is not None:
                        source.close()
                        source = None
                    source = part.path.open("rb")
                    source_path = part.path
                staging = self._staging_file()
                try:
                    with staging.open("wb") as out:
                        source.seek(part.offset)
                        left = part.length
                        while left > 0:
                            chunk = source.read(min(CHUNK_SIZE, left))
                            if not chunk:
                                raise OSError(f"{part.path} ends before {part.length} bytes")
                            out.write(chunk)
                            left -= len(chunk)
                    _move_into_place(staging, target)
                except BaseException:
                    with contextlib.suppress(OSError):
                        staging.unlink()
                    raise
                written += 1
        finally:
            if source is not None:
                source.close()
        return written

    async def put_tree(
        self,
        prefix: str,
        folder: Path,
        *,
        content_type: Callable[[str], str | None] = lambda name: None,
        concurrency: int = 8,
    ) -> int:
        # A folder on the same file system is renamed into place at once, however many files
        # it holds; anything else (another file system, links inside) is copied file by file.
        adopted = await anyio.to_thread.run_sync(self._adopt_tree, prefix, folder)
        if adopted is not None:
            return adopted
        return await super().put_tree(
            prefix, folder, content_type=content_type, concurrency=concurrency
        )

    def _adopt_tree(self, prefix: str, folder: Path) -> int | None:
        if not prefix.endswith("/"):
            raise ValueError(f"A tree's prefix ends with '/': {prefix!r}.")
        target = self._path(prefix.rstrip("/"))
        files = 0
        for _root, dirs, names in os.walk(folder):
            for name in (*dirs, *names):
                if os.path.islink(os.path.join(_root, name)):
                    return None
            files += len(names)
        if target.exists():
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(folder, target)
        except OSError:
            return None
        return files

    async def get_many(self, objects: Sequence[tuple[str, Path]], *, concurrency: int = 8) -> None:
        shares = [objects[index::concurrency] for index in range(min(concurrency, len(objects)))]
        async with first_error_task_group() as group:
            for share in shares:
                group.start_soon(anyio.to_thread.run_sync, self._get_share, share)

    def _get_share(self, objects: Sequence[tuple[str, Path]]) -> None:
        for key, path in objects:
            try:
                shutil.copyfile(self._path(key), path)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise ObjectNotFound(f"No object {key!r}.") from None

    async def open(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> ObjectStream:
        path = self._path(key)
        try:
            file = await anyio.open_file(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"No object {key!r}.") from None
        size = (await anyio.to_thread.run_sync(os.fstat, file.wrapped.fileno())).st_size
        first, last = _span(size, start, end)

        async def chunks() -> AsyncIterator[bytes]:
            await file.seek(first)
            left = last - first + 1
            while left > 0:
                chunk = await file.read(min(CHUNK_SIZE, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

        return ObjectStream(size=size, start=first, end=last, chunks=chunks(), close=file.aclose)

    async def stat(self, key: str) -> ObjectInfo | None:
        try:
            info = await anyio.to_thread.run_sync(self._path(key).stat)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not S_ISREG(info.st_mode):  # a folder holding other keys is not an object
            return None
        return ObjectInfo(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(_remove_with_empty_parents, path, self.root)

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        infos = await anyio.to_thread.run_sync(self._walk, prefix)
        for info in infos:
            yield info

    def _walk(self, prefix: str) -> builtins.list[ObjectInfo]:
        found: builtins.list[ObjectInfo] = []
        # Only the folder the prefix's complete segments name can hold its keys.
        folders = prefix.split("/")[:-1]
        plain = all(name not in ("", ".", "..") for name in folders)
        start = self.root.joinpath(*folders) if plain else self.root
        for folder, dirs, files in os.walk(start):
            if Path(folder) == self.root:
                dirs[:] = [d for d in dirs if d != self._staging.name]
            for name in files:
                path = Path(folder) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    info = path.stat()
                    found.append(
                        ObjectInfo(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))
                    )
        found.sort(key=lambda info: info.key)
        return found

    async def check(self) -> None:
        if not await anyio.to_thread.run_sync(os.access, self.root, os.W_OK):
            raise StorageUnavailable(f"{self.description} is not writable.")


def _tree_parts(
    folder: Path, prefix: str, content_type: Callable[[str], str | None]
) -> builtins.list[FilePart]:
    """A part per regular file under ``folder`` (links left out), in path order."""
    parts: builtins.list[FilePart] = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        dirs[:] = [name for name in dirs if not os.path.islink(os.path.join(root, name))]
        for name in sorted(names):
            path = Path(root, name)
            info = path.lstat()
            if not S_ISREG(info.st_mode):
                continue
            relative = path.relative_to(folder).as_posix()
            parts.append(FilePart(prefix + relative, path, 0, info.st_size, content_type(relative)))
    return parts


def _move_into_place(staging: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)


def _remove_with_empty_parents(path: Path, root: Path) -> None:
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        path.unlink()
    parent = path.parent
    while parent != root:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


class _ClientErrors:
    """The aioboto3 client, with failures of the store (not a missing key) raised as
    :class:`StorageUnavailable` so that a client sees 503, not 500."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get_paginator(self, name: str) -> Any:
        return self._client.get_paginator(name)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                return await method(*args, **kwargs)
            except ClientError as exc:
                if _is_missing(exc):
                    raise
                code = exc.response.get("Error", {}).get("Code", "error")
                raise StorageUnavailable(f"Object storage refused {name}: {code}.") from exc
            except BotoCoreError as exc:
                raise StorageUnavailable(
                    f"Object storage cannot be reached ({type(exc).__name__})."
                ) from exc

        return call


class S3Storage(Storage):
    """Objects in an S3 bucket under an optional prefix, through aioboto3."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix}"

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(
        self, key: str, data: AsyncIterable[bytes], *, content_type: str | None = None
    ) -> int:
        target = self._key(key)
        extra = {"ContentType": content_type} if content_type else {}
        buffer = bytearray()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in data:
                buffer += chunk
                size += len(chunk)
                while len(buffer) >= MULTIPART_PART_SIZE:
                    if upload_id is None:
                        created = await self._client.create_multipart_upload(
                            Bucket=self.bucket, Key=target, **extra
                        )
                        upload_id = created["UploadId"]
                    part = bytes(buffer[:MULTIPART_PART_SIZE])
                    del buffer[:MULTIPART_PART_SIZE]
                    parts.append(await self._upload_part(target, upload_id, len(parts) + 1, part))
            if upload_id is None:
                await self._client.put_object(
                    Bucket=self.bucket, Key=target, Body=bytes(buffer), **extra
                )
                return size
            if buffer or not parts:
                parts.append(
                    await self._upload_part(target, upload_id, len(parts) + 1, bytes(buffer))
                )
            await self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=target,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            return size
        except BaseException:
            if upload_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(
                        self._client.abort_multipart_upload(
                            Bucket=self.bucket, Key=target, UploadId=upload_id
                        )
                    )
            raise

    async def _upload_part(
        self, key: str, upload_id: str, number: int, body: bytes
    ) -> dict[str, Any]:
        answer = await self._client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    async def open(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> ObjectStream:
        from botocore.exceptions import ClientError

        info = await self.stat(key)
        if info is None:
            raise ObjectNotFound(f"No object {key!r}.")
        first, last = _span(info.size, start, end)
        if info.size == 0 or last < first:
            return ObjectStream(size=info.size, start=first, end=last, chunks=_no_chunks())
        try:
            answer = await self._client.get_object(
                Bucket=self.bucket, Key=self._key(key), Range=f"bytes={first}-{last}"
            )
        except ClientError as exc:
            if _is_missing(exc):
                raise ObjectNotFound(f"No object {key!r}.") from None
            raise
        body = answer["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in body.iter_chunks(CHUNK_SIZE):
                yield chunk

        async def close() -> None:
            body.close()

        return ObjectStream(size=info.size, start=first, end=last, chunks=chunks(), close=close)

    async def stat(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            answer = await self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return ObjectInfo(key, int(answer["ContentLength"]), answer["LastModified"])

    async def delete(self, key: str) -> None:
        await self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def delete_many(self, keys: Iterable[str]) -> None:
        batch: list[dict[str, str]] = []
        for key in keys:
            batch.append({"Key": self._key(key)})
            if len(batch) == 1000:
                await self._delete_batch(batch)
                batch = []
        if batch:
            await self._delete_batch(batch)

    async def _delete_batch(self, batch: list[dict[str, str]]) -> None:
        answer = await self._client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
        )
        if answer.get("Errors"):
            raise StorageUnavailable(f"{len(answer['Errors'])} objects could not be deleted.")

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        from botocore.exceptions import BotoCoreError, ClientError

        paginator = self._client.get_paginator("list_objects_v2")
        pages = aiter(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix))
        while True:
            try:
                page = await anext(pages)
            except StopAsyncIteration:
                return
            except (BotoCoreError, ClientError) as exc:
                raise StorageUnavailable(f"Object storage cannot list {prefix!r}.") from exc
            for item in page.get("Contents", []):
                yield ObjectInfo(
                    item["Key"][len(self.prefix) :], int(item["Size"]), item["LastModified"]
                )

    async def abort_incomplete_writes(self, *, older_than_s: int) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        aborted = 0
        paginator = self._client.get_paginator("list_multipart_uploads")
        try:
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < cutoff:
                        await self._client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable("Object storage cannot list unfinished writes.") from exc
        return aborted

    async def presigned_get_url(self, key: str, *, expires_s: int = 3600) -> str | None:
        url: str = await self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=expires_s,
        )
        return url

    async def check(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise StorageUnavailable(f"{self.description} does not answer: {exc}") from None


async def _no_chunks() -> AsyncIterator[bytes]:
    empty: tuple[bytes, ...] = ()
    for chunk in empty:
        yield chunk


def _is_missing(exc: Any) -> bool:
    error = exc.response.get("Error", {})
    return str(error.get("Code")) in {"404", "NoSuchKey", "NotFound"}


def parse_storage_url(url: str) -> tuple[str, str, str]:
    """``("file", "/abs/path", "")`` or ``("s3", bucket, prefix)``."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise InvalidStorageUrl(f"{url!r}: a file URL needs an absolute path (file:///…)")
        return "file", unquote(parts.path), ""
    if parts.scheme == "s3":
        if not parts.netloc:
            raise InvalidStorageUrl(f"{url!r}: an S3 URL names its bucket (s3://bucket/prefix)")
        return "s3", parts.netloc, parts.path.strip("/")
    raise InvalidStorageUrl(f"{url!r}: STORAGE_URL must start with file:/// or s3://")


@asynccontextmanager
async def open_storage(settings: StorageSettings) -> AsyncIterator[Storage]:
    """The storage ``settings`` name, ready to use until the block ends."""
    scheme, location, prefix = parse_storage_url(settings.resolved_storage_url)
    if scheme == "file":
        local = LocalStorage(Path(location))
        await local.start()
        log.info("storage_ready", storage=local.description)
        yield local
        return
    import aioboto3
    from botocore.config import Config

    global _aioboto3_session
    if _aioboto3_session is None:
        # Made once per process: a session loads botocore's service models, which is slow.
        _aioboto3_session = aioboto3.Session()
    session = _aioboto3_session
    secret = settings.s3_secret_access_key
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            session.client(
                "s3",
                endpoint_url=settings.s3_endpoint_url,
                region_name=settings.s3_region,
                aws_access_key_id=settings.s3_access_key_id,
                aws_secret_access_key=secret.get_secret_value() if secret else None,
                config=Config(
                    signature_version="s3v4",
                    retries={"max_attempts": 3, "mode": "standard"},
                    max_pool_connections=settings.s3_max_connections,
                    s3={"addressing_style": "path"} if settings.s3_endpoint_url else None,
                ),
            )
        )
        s3 = S3Storage(_ClientErrors(client), location, prefix)
        log.info("storage_ready", storage=s3.description, endpoint=settings.s3_endpoint_url)
        yield s3


def storage_ready(storage: Storage) -> Any:
    """A readiness check for ``/readyz``."""

    async def check() -> None:
        await storage.check()

    return check
