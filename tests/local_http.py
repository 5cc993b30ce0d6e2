"""An in-process HTTP server (standard library, 127.0.0.1) that plays the internet for download tests.

Routes are registered per test: `server.file(path, data)` serves bytes (honouring Range), `server.redirect`,
`server.html`, `server.cut(path, data, at)` closes the connection after `at` bytes on the first request only,
`server.drive(file_id, data)` answers like Google Drive (a virus-scan confirmation page whose form leads to the
file). Every request is logged in `server.requests` as (method, path with query, Range header).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

# One line, as Drive serves it (gdown reads the page line by line).
CONFIRMATION_PAGE = (
    "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>"
    "<p>Google Drive can't scan this file for viruses.</p>"
    '<form id="download-form" action="{base}/download" method="get">'
    '<input type="hidden" name="id" value="{id}"><input type="hidden" name="confirm" value="t">'
    '<input type="hidden" name="uuid" value="0123"></form></body></html>\n'
)


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, tuple] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.cut_done: set[str] = set()
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def file(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self.routes[path] = ("file", data, content_type)
        return self.url(path)

    def redirect(self, path: str, target: str) -> str:
        self.routes[path] = ("redirect", target)
        return self.url(path)

    def html(self, path: str, text: str) -> str:
        self.routes[path] = ("file", text.encode(), "text/html; charset=utf-8")
        return self.url(path)

    def cut(self, path: str, data: bytes, at: int) -> str:
        self.routes[path] = ("cut", data, at)
        return self.url(path)

    def missing(self, path: str) -> str:
        self.routes[path] = ("404",)
        return self.url(path)

    def drive(self, file_id: str, data: bytes, name: str) -> None:
        """`/uc?id=X` -> the confirmation page; its form -> `/download?id=X&confirm=t` -> the file."""
        self.routes[f"drive:{file_id}"] = ("drive", data, name)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_state: LocalServer

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        state = self.server_state
        state.requests.append(("GET", self.path, self.headers.get("Range")))
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path in ("/uc", "/download") and f"drive:{query.get('id', [''])[0]}" in state.routes:
            _, data, name = state.routes[f"drive:{query['id'][0]}"]
            if parts.path == "/uc":
                return self._send(CONFIRMATION_PAGE.format(base="https://drive.usercontent.google.com",
                                                           id=query["id"][0]).encode(), "text/html; charset=utf-8")
            disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
            return self._send(data, "application/octet-stream", disposition)
        route = state.routes.get(parts.path)
        if route is None or route[0] == "404":
            self.send_error(404, "Not Found")
            return None
        if route[0] == "redirect":
            self.send_response(302)
            self.send_header("Location", route[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if route[0] == "cut" and parts.path not in state.cut_done and not self.headers.get("Range"):
            state.cut_done.add(parts.path)
            data, at = route[1], route[2]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:at])
            self.wfile.flush()
            self.close_connection = True
            return None
        return self._send(route[1], route[2] if route[0] == "file" else "application/octet-stream")

    def _send(self, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        start = 0
        match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
        if match and int(match.group(1)) <= len(data):
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) - start))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture(name="server")
def server_fixture() -> Iterator[LocalServer]:
    local = LocalServer()
    yield local
    local.close()


@pytest.fixture(name="drive_to_local")
def drive_to_local_fixture(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> LocalServer:
    """Send gdown's requests for drive.google.com / drive.usercontent.google.com to the local server, so its real
    confirmation-page flow runs against `server.drive(...)`."""
    import requests

    original = requests.adapters.HTTPAdapter.send

    def send(self, request, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        request.url = re.sub(r"^https://(drive|docs|drive\.usercontent)\.google\.com", server.base, request.url)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return server
