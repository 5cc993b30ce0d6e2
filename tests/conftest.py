"""Test-wide guards: no test may reach the network (loopback is allowed for the app and browser tests)."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

_real_connect = socket.socket.connect


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_local(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _restore_backend_registry():
    """Tests may install stand-in or tiny-weight backends; each test starts from the real registry."""
    from tryon import options
    from tryon.backends import base

    saved = [(table, dict(table)) for table in (base._BACKEND_PATHS, base._instances, options._registered)]
    yield
    for table, content in saved:
        table.clear()
        table.update(content)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Browser tests skip (or fail under TRYON_REQUIRE_BROWSER=1) before building and serving an app for nothing."""
    if item.get_closest_marker("browser"):
        from tests.browser import require_chromium

        require_chromium()
