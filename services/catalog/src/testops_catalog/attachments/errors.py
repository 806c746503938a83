from __future__ import annotations

from testops_kit.errors import InvalidRequest, NotFound, TestOpsError


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    title = "Attachment not found"


class AttachmentTooLarge(TestOpsError):
    status_code = 413
    code = "attachment_too_large"
    title = "Attachment too large"


class UnsafePath(InvalidRequest):
    """A file name that is empty or names a folder as well as a file."""

    code = "unsafe_path"
    title = "Unsafe file name"
