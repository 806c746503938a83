"""The gateway's API documentation in a real browser (Debian's Chromium driven by Playwright),
with every request that would leave loopback blocked and recorded: the pages must work with no
internet access."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect
from tests.e2e.stack import API, Deployment

CHROMIUM = Path("/usr/bin/chromium")
RENDER_WITHIN_MS = 30_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)",
)


@dataclass
class GuardedPage:
    """A page whose requests may only go to loopback; ``outside`` lists every one that tried
    to leave, and ``errors`` every uncaught script error."""

    page: Page
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def stays_on_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session (both deployments)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def guarded(browser: Browser) -> AsyncIterator[GuardedPage]:
    context = await browser.new_context()
    page = await context.new_page()
    guarded = GuardedPage(page=page)

    async def guard(route: Route) -> None:
        if stays_on_loopback(route.request.url):
            await route.continue_()
        else:
            guarded.outside.append(route.request.url)
            await route.abort("blockedbyclient")

    await page.route("**/*", guard)
    page.on("pageerror", lambda error: guarded.errors.append(str(error)))
    try:
        yield guarded
    finally:
        await context.close()


async def test_swagger_ui_calls_the_api_with_the_token_given_in_authorize_and_no_internet(
    guarded: GuardedPage,
    deployment: Deployment,
    ci: httpx.AsyncClient,
    unique: Callable[[str], str],
) -> None:
    name = unique("Seen in Swagger UI")
    seeded = await ci.post(f"{API}/test-cases", json={"name": name})
    assert seeded.status_code == 201, seeded.text
    page = guarded.page
    token = deployment.tokens["ci"]

    await page.goto(f"{deployment.url}{API}/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "TestOps API", timeout=RENDER_WITHIN_MS
    )
    await page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".modal-ux")
    await expect(dialog).to_contain_text("bearerAuth")
    await dialog.locator("input").fill(token)
    await dialog.locator("button.modal-btn.authorize").click()
    await expect(dialog.locator("button.modal-btn", has_text="Logout")).to_be_visible()
    await dialog.locator("button.btn-done").click()
    operation = page.locator(".opblock.opblock-get").filter(
        has=page.locator(
            '.opblock-summary-path[data-path="/api/v1/projects/{project_key}/test-cases"]'
        )
    )
    await operation.locator(".opblock-summary-control").click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator('tr[data-param-name="project_key"] input').fill("DEFAULT")
    async with page.expect_request(
        lambda r: urlsplit(r.url).path == f"{API}/projects/DEFAULT/test-cases"
    ) as sent:
        await operation.locator("button.execute").click()

    answer = operation.locator(".live-responses-table tr.response")
    await expect(answer.locator(".response-col_status")).to_have_text(
        "200", timeout=RENDER_WITHIN_MS
    )
    await expect(answer.locator(".response-col_description")).to_contain_text(name)
    request = await sent.value
    assert await request.header_value("authorization") == f"Bearer {token}"
    assert guarded.outside == []
    assert guarded.errors == []


async def test_redoc_renders_every_service_with_no_internet(
    guarded: GuardedPage, deployment: Deployment
) -> None:
    page = guarded.page

    await page.goto(f"{deployment.url}{API}/redoc")

    await expect(page.locator(".api-info h1")).to_contain_text(
        "TestOps API", timeout=RENDER_WITHIN_MS
    )
    menu = page.locator(".menu-content")
    for tag in ("test-cases", "runs", "executions"):
        await expect(menu).to_contain_text(tag, ignore_case=True)
    assert guarded.outside == []
    assert guarded.errors == []
