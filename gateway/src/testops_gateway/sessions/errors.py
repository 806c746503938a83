from __future__ import annotations

from testops_kit.errors import TestOpsError


class InvalidCredentials(TestOpsError):
    status_code = 401
    code = "invalid_credentials"
    title = "Invalid credentials"


class SignInThrottled(TestOpsError):
    status_code = 429
    code = "sign_in_throttled"
    title = "Too many failed sign-ins"
