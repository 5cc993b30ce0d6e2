"""Shared plumbing for real-browser tests: the app served on a free loopback port, and a Chromium to drive it.

A fresh machine may have no browser at all, so the tests look for one in the order a user is likely to have
it: the system's `chromium` / `chromium-browser` (Debian's package, what CI installs), then the Chromium that
`python -m playwright install chromium` downloads (what `make test` tries when there is none). Without either
the browser tests skip with one line naming that fix, except where `TRYON_REQUIRE_BROWSER=1` (CI) makes a
missing browser a failure, so CI can never pass by skipping them.

`python -m tests.browser` prints the browser it finds (exit 1 when none): the Makefile asks it before
downloading one.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec

import pytest

SYSTEM_NAMES = ("chromium", "chromium-browser")
REQUIRE_ENV = "TRYON_REQUIRE_BROWSER"
FIX = "no Chromium found: run `python -m playwright install chromium` (or `apt-get install chromium`)"


@dataclass(frozen=True)
class Chromium:
    """A browser to launch: `executable` is None for Playwright's own download (its default)."""

    path: str
    source: str  # "system" or "playwright"

    @property
    def executable(self) -> str | None:
        return self.path if self.source == "system" else None


def playwright_chromium_path() -> str | None:
    """Where `playwright install chromium` puts its Chromium (under PLAYWRIGHT_BROWSERS_PATH, default
    ~/.cache/ms-playwright), whether or not it is there; None when Playwright is not installed."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        return p.chromium.executable_path


def find_chromium() -> Chromium | None:
    """The system's Chromium on PATH, else Playwright's downloaded one, else None."""
    for name in SYSTEM_NAMES:
        path = shutil.which(name)
        if path:
            return Chromium(path, "system")
    path = playwright_chromium_path()
    return Chromium(path, "playwright") if path and os.access(path, os.X_OK) else None


@lru_cache(maxsize=1)
def _chromium_for_tests() -> Chromium | None:
    return find_chromium()


def require_chromium() -> Chromium:
    """The browser for this test run; skip (or fail under TRYON_REQUIRE_BROWSER=1) when there is none."""
    if find_spec("playwright") is None:
        found, reason = None, "Playwright is not installed: run `pip install -r requirements-dev.txt`"
    else:
        found, reason = _chromium_for_tests(), FIX
    if found is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason} ({REQUIRE_ENV}=1 makes this a failure)", pytrace=False)
        pytest.skip(reason)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(app) -> Iterator[str]:
    """Launch a built Blocks app in this process and yield its URL."""
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@contextmanager
def browser_page() -> Iterator[object]:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium.executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            yield page
        finally:
            browser.close()


if __name__ == "__main__":
    found = find_chromium()
    print(f"{found.path} ({found.source})" if found else FIX, file=sys.stdout if found else sys.stderr)
    sys.exit(0 if found else 1)
