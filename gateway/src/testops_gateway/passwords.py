"""Passwords, hashed with Argon2id (argon2-cffi) off the event loop.

Checking a sign-in costs the same whether the user exists or not: an unknown user's password is
checked against a hash of a random password made at start-up::

    passwords = Passwords()
    stored = await passwords.hash("correct horse")
    await passwords.verify(stored, "correct horse")   # True
    await passwords.verify(None, "anything")          # False, after as much work
"""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import Annotated

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, Request

MIN_LENGTH = 8
MAX_LENGTH = 1024
"""Longer passwords would only make hashing a way to spend the gateway's CPU."""


def generate_password() -> str:
    """A password to hand out once (``create-user``): 144 random bits, URL-safe."""
    return secrets.token_urlsafe(18)


class Passwords:
    """Hashes and checks passwords; at most ``concurrency`` at a time (each takes 64 MiB).
    Made in the event loop that uses it."""

    def __init__(self, hasher: PasswordHasher | None = None, *, concurrency: int = 0) -> None:
        self.hasher = hasher or PasswordHasher()  # Argon2id, RFC 9106's low-memory parameters
        self._slots = asyncio.Semaphore(concurrency or max(2, os.cpu_count() or 2))
        self._dummy: str | None = None
        self._dummy_made = asyncio.Lock()

    async def warm_up(self) -> None:
        """Make the dummy hash now, so that no sign-in waits for it (and is told apart by the
        wait)."""
        await self._dummy_hash()

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await anyio.to_thread.run_sync(self.hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; with no hash (unknown user, service
        account), False after the same work as a real check."""
        if stored is None:
            stored = await self._dummy_hash()
            password = password + "\x00"  # never the dummy's own password
        async with self._slots:
            return await anyio.to_thread.run_sync(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than the hasher's."""
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return False

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _dummy_hash(self) -> str:
        async with self._dummy_made:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(32))
            return self._dummy


def app_passwords(request: Request) -> Passwords:
    """The app's :class:`Passwords` (made in its lifespan)."""
    passwords: Passwords = request.app.state.passwords
    return passwords


PasswordsDep = Annotated[Passwords, Depends(app_passwords)]
