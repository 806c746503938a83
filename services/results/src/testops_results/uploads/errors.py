"""Why an upload is refused. Each leaves nothing behind."""

from __future__ import annotations

from typing import ClassVar

from testops_kit.errors import InvalidRequest, TestOpsError, field_error


class NoFiles(InvalidRequest):
    code = "no_files"
    title = "No files"


class EmptyFile(InvalidRequest):
    code = "empty_file"
    title = "Empty file"

    def __init__(self, detail: str, *, file: str) -> None:
        super().__init__(detail, errors=[field_error(["body", "files"], f"{file!r} is empty")])


class UnsafePath(InvalidRequest):
    code = "unsafe_path"
    title = "Unsafe path"


class InvalidArchive(InvalidRequest):
    code = "invalid_archive"
    title = "Invalid archive"


class UploadTooLarge(TestOpsError):
    status_code: ClassVar[int] = 413
    code = "upload_too_large"
    title = "Upload too large"
