"""Run a service under uvicorn with the kit's logging."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from testops_kit.logging import configure_logging, get_logger
from testops_kit.migrations import upgrade
from testops_kit.principal import MissingKey
from testops_kit.settings import DatabaseSettings, ServiceSettings

S = TypeVar("S", bound=DatabaseSettings)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Serve ``app`` on the settings' host and port until interrupted."""
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    get_logger(__name__).info(
        "starting", service=settings.service_name, host=settings.host, port=settings.port
    )
    # The objects of start-up (FastAPI, pydantic, SQLAlchemy, the app: >100,000) leave the
    # collector's reach; otherwise every full collection walks them all, a ~60 ms pause every
    # few dozen requests (bench/README.md).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def database_service_main(
    *,
    prog: str,
    description: str,
    settings_class: type[S],
    create_app: Callable[[S], FastAPI],
    migrations: Path,
    argv: list[str] | None = None,
) -> None:
    """The command line of a service that owns a database: ``serve`` (default) or ``migrate``.

    ``migrate`` applies the migrations and exits: the deploy step before new replicas start.
    ``serve`` without a key the app needs (:class:`~testops_kit.principal.MissingKey`) says which
    setting gives it and exits with 2.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate"],
        help="serve (default) or migrate the database to the newest revision and exit",
    )
    args = parser.parse_args(argv)
    settings = settings_class()
    if args.command == "migrate":
        configure_logging(level=settings.log_level, fmt=settings.log_format)
        asyncio.run(upgrade(migrations, settings.resolved_database_url))
        return
    try:
        app = create_app(settings)
    except MissingKey as exc:  # a setting to give, not a bug: say which, without a traceback
        sys.stderr.write(f"{prog}: refusing to start: {exc}\n")
        raise SystemExit(2) from None
    serve(app, settings)
