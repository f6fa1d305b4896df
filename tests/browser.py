"""The browser-test harness: Debian's Chromium through Playwright, air-gapped, one browser per test session.

Used by tests/test_browser.py (the chat), tests/test_widget_browser.py (the portal
widget) and tests/test_admin_browser.py (the admin page) through two fixtures in
tests/conftest.py: ``browser`` (launched once per session, skipped when
/usr/bin/chromium is missing) and ``open_page`` (a fresh context per page,
closed after the test).

Every page gets its own context (cookies, storage, routing), so no test sees
another's conversation or network log, and every context a test opened is
closed when it ends: an open event stream would otherwise hold up the server's
shutdown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in {"data", "blob", "about"} or parsed.hostname == "127.0.0.1"


@dataclass
class Network:
    """Every URL the page asked for (routed or not); anything not on 127.0.0.1 is refused (an air gap).

    ``console`` holds the console messages of the page and its frames (CSP reports land there).
    """

    seen: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def route(self, route: Any) -> None:
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()

    @property
    def air_gapped(self) -> bool:
        return bool(self.seen) and not self.refused and all(is_local(url) for url in self.seen)


@contextmanager
def launch() -> Iterator[Any]:
    """Chromium, or a skip when it is not installed (``make system-deps`` installs it)."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: install Debian's chromium (make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class PageOpener:
    """Opens ``url`` in a fresh, air-gapped, zh-CN context; :meth:`close` closes every context it opened."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.contexts: list[Any] = []

    def __call__(
        self,
        url: str,
        network: Network | None = None,
        width: int = 1280,
        height: int = 900,
        init_script: str | None = None,
    ) -> Any:
        network = network if network is not None else Network()
        context = self.browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        self.contexts.append(context)
        context.route("**/*", network.route)
        context.on("request", lambda request: network.seen.append(request.url))
        page = context.new_page()
        page.on("console", lambda message: network.console.append(f"{message.type}: {message.text}"))
        if init_script:
            page.add_init_script(init_script)
        page.goto(url)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()  # open event streams would otherwise hold up the server's shutdown
        self.contexts.clear()


__all__ = ["ARGS", "CHROMIUM", "Network", "PageOpener", "is_local", "launch"]
