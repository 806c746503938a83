"""Database URLs as settings give them and logs may show them; imports nothing of the kit, so
that the settings can use it without importing the database layer."""

from __future__ import annotations

from sqlalchemy.engine import make_url


def normalize_database_url(url: str) -> str:
    """Name the async driver: ``postgres(ql)://`` → asyncpg, ``sqlite://`` → aiosqlite."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgres":  # the scheme many hosts hand out; SQLAlchemy no longer knows it
        backend = "postgresql"
    if backend == "postgresql" and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend not in {"postgresql", "sqlite"}:
        raise ValueError(f"unsupported database backend {backend!r}: use PostgreSQL or SQLite")
    return parsed.render_as_string(hide_password=False)


def redact_database_url(url: str) -> str:
    """The URL with its password hidden, for logs."""
    return make_url(url).render_as_string(hide_password=True)
