"""An executor as a process of its own (``python -m testops_executor``), for what an app inside
the test process cannot show: a real HTTP stream, a ``kill -9``, a second process on the same
queue."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from testops_executor.settings import ExecutorSettings
from testops_kit.testing import PrincipalAuth, free_port, wait_for

ENV_PREFIX = "TESTOPS_EXECUTOR_"


def settings_environment(
    settings: ExecutorSettings, port: int, extra: Mapping[str, str]
) -> dict[str, str]:
    """The environment that gives a ``testops-executor`` process ``settings``, with
    ``extra`` variables of its own."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)}
    env.update(extra)
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, list):
            text = ",".join(value)
        else:
            text = str(value)
        env[f"{ENV_PREFIX}{name.upper()}"] = text
    env.update(
        {
            f"{ENV_PREFIX}HOST": "127.0.0.1",
            f"{ENV_PREFIX}PORT": str(port),
            f"{ENV_PREFIX}LOG_FORMAT": "json",
        }
    )
    return env


@dataclass
class ExecutorProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        # Signs the test principal into every request, as the gateway would.
        self.client = httpx.AsyncClient(
            base_url=self.url, trust_env=False, timeout=30, auth=PrincipalAuth("executor")
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])

    async def ready(self) -> None:
        async def answers() -> bool | None:
            if self.process.poll() is not None:
                raise RuntimeError(f"the executor exited:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if (await self.client.get("/readyz")).status_code == 200:
                    return True
            return None

        await wait_for(answers, within=60, interval=0.1)

    async def kill(self) -> None:
        """``kill -9``, and reap it: a zombie's pid would still look alive."""
        self.process.kill()
        await asyncio.to_thread(self.process.wait, 30)

    async def terminate(self, *, within: float) -> bool:
        """Send TERM (what a service manager does to stop it); whether it exited in time."""
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, within)
        except subprocess.TimeoutExpired:
            return False
        return True

    async def stop(self) -> None:
        """A graceful stop (TERM); ``kill -9`` when it does not end in time."""
        await self.client.aclose()
        if self.process.poll() is None and not await self.terminate(within=20):
            await self.kill()


def spawn_executor(
    settings: ExecutorSettings, log: Path, extra_env: Mapping[str, str]
) -> ExecutorProcess:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "testops_executor"],
            env=settings_environment(settings, port, extra_env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ExecutorProcess(process=process, url=f"http://127.0.0.1:{port}", log=log)
