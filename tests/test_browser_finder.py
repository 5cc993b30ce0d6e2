"""Which Chromium the browser tests use, and what happens without one (skip naming the fix, or fail in CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import browser


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def no_system_browser(tmp_path, monkeypatch):
    """PATH without any chromium, and Playwright's browser cache in an empty folder."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "ms-playwright"))
    return empty


@pytest.mark.parametrize("name", browser.SYSTEM_NAMES)
def test_the_system_chromium_on_path_comes_first(no_system_browser, name):
    fake = _executable(no_system_browser / name)
    found = browser.find_chromium()
    assert found == browser.Chromium(str(fake), "system")
    assert found.executable == str(fake)


def test_playwrights_own_chromium_when_there_is_no_system_one(no_system_browser):
    assert browser.find_chromium() is None
    expected = Path(browser.playwright_chromium_path())
    assert Path(no_system_browser.parent / "ms-playwright") in expected.parents  # follows PLAYWRIGHT_BROWSERS_PATH
    _executable(expected)
    found = browser.find_chromium()
    assert found == browser.Chromium(str(expected), "playwright")
    assert found.executable is None  # Playwright launches its own browser by default


def test_module_entry_point_exit_code_tells_make_whether_to_download(no_system_browser):
    missing = subprocess.run([sys.executable, "-m", "tests.browser"], capture_output=True, text=True)
    assert missing.returncode == 1 and "playwright install chromium" in missing.stderr
    _executable(no_system_browser / "chromium")
    found = subprocess.run([sys.executable, "-m", "tests.browser"], capture_output=True, text=True)
    assert found.returncode == 0 and "(system)" in found.stdout


def test_without_a_browser_the_tests_skip_naming_the_fix(monkeypatch):
    monkeypatch.setattr(browser, "_chromium_for_tests", lambda: None)
    monkeypatch.delenv(browser.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="playwright install chromium") as skipped:
        browser.require_chromium()
    assert "\n" not in str(skipped.value)


def test_ci_turns_a_missing_browser_into_a_failure(monkeypatch):
    monkeypatch.setattr(browser, "_chromium_for_tests", lambda: None)
    monkeypatch.setenv(browser.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="playwright install chromium"):
        browser.require_chromium()

