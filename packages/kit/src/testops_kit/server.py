"""Run a service under uvicorn with the kit's logging."""

from __future__ import annotations

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
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
