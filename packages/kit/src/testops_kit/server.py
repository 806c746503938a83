"""Run a service under uvicorn with the kit's logging."""

from __future__ import annotations

import gc

import uvicorn
from fastapi import FastAPI

from testops_kit.logging import configure_logging, get_logger
from testops_kit.settings import ServiceSettings


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
