from __future__ import annotations

from testops_kit.errors import NotFound


class TokenNotFound(NotFound):
    code = "token_not_found"
    title = "Token not found"
