"""Browser tests: the console's pages in a real Chromium, driven by Playwright, against the
session's running system (``system`` of tests/conftest.py: API, worker and simulators on
loopback ports of their own).

The browser is Debian's Chromium at ``/usr/bin/chromium`` (``OMS_CHROMIUM`` to use
another), launched by its path: Playwright's own browser downloads cannot work here and are
never asked for. Where it is missing, every test of this folder is skipped with the reason
(``make test`` installs it first when it can: as root, with apt-get).

One browser for the session; each test opens tabs (``tab``, or ``open_tab(...)`` for
another language or viewport), each in a context of its own (its own cookies). Every tab
records what a user would not see but should never happen: a console error (a Content
Security Policy violation, a script error), an uncaught exception, a script, style sheet
or image that failed to load. A test fails if any tab it opened recorded one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Playwright, ViewportSize, async_playwright, expect

from tests.browser.helpers import LAPTOP, OpenTab, Tab

CHROMIUM = Path(os.environ.get("OMS_CHROMIUM", "/usr/bin/chromium"))
# Headless, as root (no sandbox), and quiet on a closed network: without the background
# networking flags Chromium keeps trying to reach Google's services.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Playwright's waits, in milliseconds: a page of the console answers in tens, but the
# machine may be busy with other suites.
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists() and shutil.which(str(CHROMIUM)) is None:
        return (
            f"Chromium is not installed at {CHROMIUM}: the browser tests need Debian's "
            "chromium package (apt-get install chromium; make test installs it when run as "
            "root)"
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = chromium_missing()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reason = chromium_missing()
    if reason is not None:
        terminalreporter.write_line(f"browser tests (tests/browser) skipped: {reason}")


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    launched = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
    )
    yield launched
    await launched.close()


@pytest.fixture
async def open_tab(browser: Browser, system: Any) -> AsyncIterator[OpenTab]:
    """``await open_tab(locale="zh-CN", viewport=TABLET)``: a new tab with cookies of its
    own. At the end of the test, no tab may have recorded a problem."""
    contexts = []
    tabs: list[Tab] = []

    async def opener(locale: str = "en-US", viewport: ViewportSize = LAPTOP) -> Tab:
        context = await browser.new_context(
            base_url=system.api_url,
            locale=locale,
            viewport=viewport,
            timezone_id="UTC",
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        tab = Tab(await context.new_page())
        tab.watch()
        tabs.append(tab)
        return tab

    yield opener
    for context in contexts:
        await context.close()
    problems = [p for tab in tabs for p in tab.problems]
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)


@pytest.fixture
async def tab(open_tab: OpenTab) -> Tab:
    return await open_tab()
