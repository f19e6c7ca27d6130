"""The web page in a real headless browser: Debian's Chromium driven by Playwright.

Playwright drives the system's ``/usr/bin/chromium`` (``apt-get install chromium``); its own
browser download (``playwright install``) is never used.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")
httpx = pytest.importorskip("httpx", reason="the [serve-test] extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="the [serve-test] extra is not installed")

try:
    from ._server import Server
except ImportError:  # tests/ is not a package
    from _server import Server

CHROMIUM = Path(os.environ.get("BOUNDARY_NLP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "page-token-0123456789abcdef"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)  # .ci/run installs it: a missing browser is a CI fault
        pytest.skip(message)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("page")
    with (
        httpx.Client() as client,
        Server("--ledger", str(folder / "ledger.sqlite3"), log=folder / "server.log") as running,
    ):
        yield running.wait(client)


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("page-token")
    with (
        httpx.Client() as client,
        Server(
            "--ledger", str(folder / "ledger.sqlite3"), "--token", TOKEN, log=folder / "server.log"
        ) as running,
    ):
        yield running.wait(client)


@pytest.fixture
def page(browser):
    context = browser.new_context()
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(15_000)
    yield opened
    context.close()
    assert not errors, errors


def classify(page, message: str) -> None:
    page.fill("#message", message)
    page.click("#classify")
    page.wait_for_selector("#result:not([hidden])")


def test_typing_a_favor_shows_courtesy_and_its_advice(page, server):
    page.goto(server.url + "/")
    classify(page, "开完会顺便帮我取个快递")
    assert page.inner_text("#label") == "人情帮忙 courtesy"
    assert "顺路" in page.inner_text("#advice")
    assert page.inner_text("#reply").strip()
    marked = page.locator("#highlighted mark").all_inner_texts()
    assert any("快递" in term for term in marked), marked


def test_a_message_with_a_prohibited_ask_shows_the_asks_and_the_refusal(page, server):
    page.goto(server.url + "/")
    classify(page, "会议纪要发群里，另外帮我把考勤记录改一下")
    assert page.inner_text("#label") == "越界禁止 prohibited"
    assert page.locator("#parts li").count() == 2
    assert page.inner_text("#advice").strip()


def test_recording_for_a_client_shows_the_ledger(page, server):
    page.goto(server.url + "/")
    page.fill("#message", "帮我带杯咖啡")
    page.fill("#client", "张总")
    page.click("#record")
    page.wait_for_selector("#ledger:not([hidden])")
    assert "1 次" in page.inner_text("#courtesy-count")
    assert "帮我带杯咖啡" in page.inner_text("#history")
    assert "within" in page.inner_text("#degree")


def test_with_a_token_the_page_asks_for_it_and_then_works(page, token_server):
    page.goto(token_server.url + "/")
    page.wait_for_selector("#token-box:not([hidden])")
    page.fill("#message", "帮我带杯咖啡")
    page.click("#classify")
    page.wait_for_selector("#status.error")
    assert "token" in page.inner_text("#status")
    page.fill("#token", TOKEN)
    page.click("#token-save")
    classify(page, "帮我带杯咖啡")
    assert page.inner_text("#label") == "人情帮忙 courtesy"
