"""Swagger UI and ReDoc for the gateway's document, with no internet access.

The JavaScript, CSS and favicon are the ones the ``fastapi-offline`` package ships in its
``static`` folder (only that folder is used, not its app class); the pages point at them under
``{prefix}/docs/assets/``. Include the router in the app::

    app.include_router(docs_router())

which serves

- ``GET /api/v1/docs``: Swagger UI (the token given in "Authorize" is kept across reloads),
- ``GET /api/v1/redoc``: ReDoc,
- ``GET /api/v1/docs/assets/{name}``: the assets, cached by browsers for a day; 404 for a name
  that is not one of them.

The routes are left out of the OpenAPI document.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS_PACKAGE = "fastapi_offline"
ASSET_CONTENT_TYPES: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
ASSET_CACHE_CONTROL = "public, max-age=86400"
SWAGGER_UI_PARAMETERS: dict[str, Any] = {
    "persistAuthorization": True,
    # No badge from the online validator: the page must not reach out of the network.
    "validatorUrl": None,
}


def content_security_policy(api_origin: str = "") -> str:
    """What the docs pages may load: only the gateway's own assets and API (and ``api_origin``,
    the public URL, when clients reach the API elsewhere). ReDoc's bundle draws its footer
    logo from a CDN that no setting turns off; the browser must not even try."""
    connect = "'self'" + (f" {api_origin}" if api_origin else "")
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        # Both pages start their bundle with an inline script; ReDoc runs a worker from a blob.
        f"script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src {connect}"
    )


def assets_folder() -> Path:
    """The folder of ``fastapi-offline``'s static files (an installed package is a folder)."""
    return Path(str(files(ASSETS_PACKAGE) / "static"))


def docs_router(
    *,
    prefix: str = "/api/v1",
    openapi_url: str = "/api/v1/openapi.json",
    title: str = "TestOps API",
    api_origin: str = "",
) -> APIRouter:
    """The routes of the two documentation pages and of their assets, under ``prefix``; the pages
    load the document from ``openapi_url``. Assets are streamed from the package's folder."""
    router = APIRouter(include_in_schema=False)
    assets_url = f"{prefix}/docs/assets"
    folder = assets_folder()
    policy = {"Content-Security-Policy": content_security_policy(api_origin)}

    @router.get(f"{prefix}/docs", response_class=HTMLResponse)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} — Swagger UI",
            swagger_js_url=f"{assets_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets_url}/swagger-ui.css",
            swagger_favicon_url=f"{assets_url}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
        page.headers.update(policy)
        return page

    @router.get(f"{prefix}/redoc", response_class=HTMLResponse)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} — ReDoc",
            redoc_js_url=f"{assets_url}/redoc.standalone.js",
            redoc_favicon_url=f"{assets_url}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(policy)
        return page

    @router.get(assets_url + "/{name}")
    async def docs_asset(name: str) -> FileResponse:
        content_type = ASSET_CONTENT_TYPES.get(name)
        if content_type is None:
            raise HTTPException(status_code=404, detail=f"No documentation asset {name!r}")
        return FileResponse(
            folder / name, media_type=content_type, headers={"Cache-Control": ASSET_CACHE_CONTROL}
        )

    return router
