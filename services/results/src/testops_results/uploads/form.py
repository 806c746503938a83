"""The multipart body of an upload: text fields and up to ``max_upload_files`` files.

Starlette spools each file part to a temporary file as it arrives (in memory up to 1 MiB,
then on disk), so a large upload never sits in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartParser

from testops_kit.errors import InvalidRequest, field_error
from testops_kit.schemas import reject_nul
from testops_results.uploads.errors import UploadTooLarge
from testops_results.uploads.service import IncomingFile

# A part stays in memory until it passes this size, then moves to a temporary file. Starlette's
# 1 MiB would let 10,000 files of up to 1 MiB each sit in memory at once; at 16 KiB a result
# file usually stays in memory and an attachment goes to disk.
MultiPartParser.spool_max_size = 16 * 1024

FILES_FIELD = "files"
TEXT_FIELDS = ("run_name", "branch", "commit", "ci_url", "execution_id", "build_report")


class UploadFields(BaseModel):
    """The text fields of an upload."""

    model_config = ConfigDict(str_strip_whitespace=True)

    run_name: str | None = Field(default=None, min_length=1, max_length=255)
    branch: str | None = Field(default=None, max_length=255)
    commit: str | None = Field(default=None, max_length=255)
    ci_url: str | None = Field(default=None, max_length=2048)
    execution_id: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$"
    )
    build_report: bool = False

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return reject_nul(value) if isinstance(value, str) else value

    @field_validator("branch", "commit", "ci_url", "execution_id", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


@asynccontextmanager
async def upload_form(request: Request, *, max_files: int) -> AsyncIterator[FormData]:
    """The parsed form, its temporary files removed when the block ends."""
    try:
        form = await request.form(max_files=max_files, max_fields=100)
    except HTTPException as exc:
        if "Too many files" in str(exc.detail):
            raise UploadTooLarge(
                f"An upload may carry at most {max_files} files; send one .zip or .tar.gz "
                "archive instead."
            ) from None
        raise InvalidRequest(f"The multipart body cannot be read: {exc.detail}") from None
    try:
        yield form
    finally:
        await form.close()


def read_fields(form: FormData, *, require_run_name: bool) -> UploadFields:
    """The text fields, validated; a file where text belongs (or text where files) is a 422."""
    values: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = form.get(name)
        if isinstance(value, UploadFile):
            raise InvalidRequest(
                f"{name} is a text field.", errors=[field_error(["body", name], "expected text")]
            )
        if value is not None:
            values[name] = value
    if require_run_name and "run_name" not in values:
        raise RequestValidationError(
            [{"loc": ("body", "run_name"), "msg": "Field required", "type": "missing"}]
        )
    try:
        fields = UploadFields.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
    return fields


def read_files(form: FormData) -> list[IncomingFile]:
    files: list[IncomingFile] = []
    for value in form.getlist(FILES_FIELD):
        if not isinstance(value, UploadFile):
            raise InvalidRequest(
                "files holds files, not text.",
                errors=[field_error(["body", FILES_FIELD], "expected a file")],
            )
        files.append(
            IncomingFile(name=value.filename or "", stream=value.file, size=value.size or 0)
        )
    return files


UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["run_name", "files"],
                    "properties": {
                        "run_name": {"type": "string", "minLength": 1, "maxLength": 255},
                        "files": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "format": "binary"},
                            "description": (
                                "allure-results files (`*-result.json`, `*-container.json`, "
                                "`*-attachment.*`, `environment.properties`, `executor.json`, "
                                "`categories.json`), or one `.zip`/`.tar.gz` archive of them."
                            ),
                        },
                        "branch": {"type": "string", "maxLength": 255},
                        "commit": {"type": "string", "maxLength": 255},
                        "ci_url": {"type": "string", "maxLength": 2048},
                        "execution_id": {
                            "type": "string",
                            "format": "uuid",
                            "description": "The execution that produced these results.",
                        },
                        "build_report": {
                            "type": "boolean",
                            "default": False,
                            "description": "Queue the run's Allure report once it is uploaded.",
                        },
                    },
                }
            }
        },
    }
}


def shard_body() -> dict[str, Any]:
    """The upload body of ``POST /runs/{id}/files``: the same, without the run's own fields."""
    schema = UPLOAD_BODY["requestBody"]["content"]["multipart/form-data"]["schema"]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["files"],
                        "properties": {"files": schema["properties"]["files"]},
                    }
                }
            },
        }
    }
