"""Bearer tokens with scopes: how they are made, stored (hashed) and checked.

A token is shown once, when it is made; the gateway keeps only its SHA-256, in a line that
names it and its scopes::

    ci:read,write,execute:sha256:3f0a…

Tokens are 256 random bits, so a plain SHA-256 is as hard to reverse as the token is to guess;
a slow password hash would only slow every request down.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

SCOPES = ("read", "write", "execute", "admin")
TOKEN_PREFIX = "tst_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What a token's name may be: 1–64 ASCII letters, digits, ``.``, ``_``, ``-``, starting with
a letter or digit."""
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class InvalidTokenLine(ValueError):
    """A configured token line that cannot be read; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Token:
    name: str
    scopes: frozenset[str]
    digest: bytes


def digest_of(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    """A new random token; the prefix lets secret scanners recognise a leaked one."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_line(name: str, scopes: Iterable[str], token: str) -> str:
    """The line that configures ``token`` (its hash, never the token itself)."""
    return f"{name}:{','.join(scopes)}:sha256:{digest_of(token).hex()}"


def parse_scopes(text: str) -> list[str]:
    scopes = [scope.strip() for scope in text.split(",") if scope.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise ValueError(
            f"scopes must be a comma list of {', '.join(SCOPES)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    return scopes


def parse_token_line(line: str) -> Token:
    """Read ``name:scopes:sha256:<hex>``."""
    parts = line.split(":")
    if len(parts) != 4 or parts[2] != "sha256":
        raise InvalidTokenLine("a token line is name:scopes:sha256:<64 hex digits>")
    name, scopes, _, hex_digest = parts
    if not NAME.fullmatch(name):
        raise InvalidTokenLine(f"token name {name!r}: letters, digits, '.', '_', '-'")
    if not _HEX_DIGEST.match(hex_digest):
        raise InvalidTokenLine(f"token {name!r}: the hash must be 64 lowercase hex digits")
    try:
        scope_list = parse_scopes(scopes)
    except ValueError as exc:
        raise InvalidTokenLine(f"token {name!r}: {exc}") from None
    return Token(name=name, scopes=frozenset(scope_list), digest=bytes.fromhex(hex_digest))


def load_tokens(lines: Iterable[str]) -> list[Token]:
    tokens = [parse_token_line(line) for line in lines]
    names = [token.name for token in tokens]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidTokenLine(f"token names must be unique: {', '.join(duplicates)}")
    return tokens


class TokenStore:
    """The configured tokens; :meth:`find` compares in constant time."""

    def __init__(self, tokens: Iterable[Token]) -> None:
        self._tokens = tuple(tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def find(self, presented: str) -> Token | None:
        digest = digest_of(presented)
        found = None
        # Every configured token is compared, matched or not: the time taken says nothing
        # about which token (or how much of one) was right.
        for token in self._tokens:
            if hmac.compare_digest(token.digest, digest):
                found = token
        return found
