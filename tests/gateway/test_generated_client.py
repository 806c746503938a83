"""A client generated from the gateway's document builds and works: the document is one a
code generator takes without complaint, and the code it makes talks to the gateway."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import uvicorn
from tests.gateway.conftest import TOKEN_SCOPES, StartGateway, Upstreams

from testops_gateway.auth import token_line
from testops_gateway.main import create_app
from testops_gateway.settings import GatewaySettings
from testops_kit.testing import free_port, gateway_principal_settings, wait_for

PACKAGE = "test_ops_api_client"


def generate(document: Path, output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(output),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_a_python_client_generated_from_the_document_lists_test_cases(
    start_gateway: StartGateway,
    upstreams: Upstreams,
    tokens: dict[str, str],
    gateway_database_url: str,
    tmp_path: Path,
    unique: Callable[[str], str],
) -> None:
    name = unique("generated")
    async with start_gateway() as gateway:
        document = (await gateway.get("/api/v1/openapi.json")).json()
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))

    generated = await asyncio.to_thread(generate, path, tmp_path / PACKAGE)

    assert generated.returncode == 0, generated.stdout + generated.stderr
    # Anything the generator could not express is reported as a warning.
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout
    # The generated code, run in a child interpreter against a real gateway server.
    port = free_port()
    lines = [token_line(name, TOKEN_SCOPES[name], token) for name, token in tokens.items()]
    settings = GatewaySettings(
        **upstreams.urls(),
        tokens=";".join(lines),
        rate_limit_per_s=0,
        port=port,
        database_url=gateway_database_url,
        **gateway_principal_settings(),
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    serving = asyncio.create_task(server.serve())
    try:

        async def started() -> bool | None:
            return True if server.started else None

        await wait_for(started, within=20)
        script = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
from {PACKAGE} import AuthenticatedClient
from {PACKAGE}.api.tags import create_tag, list_tags
from {PACKAGE}.models import TagCreate
client = AuthenticatedClient(base_url="http://127.0.0.1:{port}", token={tokens["root"]!r})
created = create_tag.sync_detailed("DEFAULT", client=client, body=TagCreate(name={name!r}))
assert created.status_code == 201, created
page = list_tags.sync("DEFAULT", client=client, limit=500)
print(sorted(tag.name for tag in page.items))
"""
        ran = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.should_exit = True
        await serving

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert name in ran.stdout
    async with upstreams.catalog.client() as catalog:
        listed = (await catalog.get("/api/v1/tags", params={"limit": 500})).json()["items"]
    assert name in {tag["name"] for tag in listed}
