"""A real HTTP CRM for the tests: ``http.server`` on a free loopback port, in a thread.

It serves tau2-shaped records and misbehaves on request: the ``X-Tenant-ID`` header picks
the behaviour (``acme`` answers normally; ``slow``, ``boom``, ``garbled``, ``wrongshape``,
``busy`` and ``ghost`` fail in their own way), and a wrong Bearer key gets a 401.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

SLOW_S = 1.0


@dataclass
class CRMData:
    users: list[dict[str, Any]]
    orders: dict[str, dict[str, Any]]
    api_key: str
    hits: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, tenant: str) -> None:
        with self.lock:
            self.hits[tenant] = self.hits.get(tenant, 0) + 1

    def search(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if "email" in body:
            found = [u for u in self.users if u["email"].casefold() == body["email"].casefold()]
        elif "customer_id" in body:
            found = [u for u in self.users if u["user_id"] == body["customer_id"]]
        else:
            found = [
                u
                for u in self.users
                if u["name"]["first_name"].casefold() == body["first_name"].casefold()
                and u["name"]["last_name"].casefold() == body["last_name"].casefold()
                and u["address"]["zip"] == body["zip"]
            ]
        return found[: int(body.get("limit", 5))]


def _handler(data: CRMData) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default stderr access log."""

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _misbehave(self) -> bool:
            tenant = self.headers.get("X-Tenant-ID", "")
            data.count(tenant)
            if self.headers.get("Authorization") != f"Bearer {data.api_key}":
                self._send(401, json.dumps({"detail": "bad token"}).encode())
                return True
            if tenant == "slow":
                time.sleep(SLOW_S)
                return False
            if tenant == "boom":
                self._send(500, b'{"detail": "internal error"}')
                return True
            if tenant == "busy":
                self._send(429, b"{}", {"Retry-After": "7"})
                return True
            if tenant == "garbled":
                self._send(200, b'{"customers": [{"user_id": "x", "na')
                return True
            if tenant == "wrongshape":
                self._send(200, b'{"customers": "not a list", "order_id": 5}')
                return True
            if tenant == "ghost":
                self._send(404, b'{"detail": "no such tenant"}')
                return True
            return False

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self._misbehave():
                return
            if self.path != "/customers/search":
                self._send(404, b"{}")
                return
            self._send(200, json.dumps({"customers": data.search(body)}).encode())

        def do_GET(self) -> None:
            if self._misbehave():
                return
            order_id = unquote(self.path.removeprefix("/orders/"))
            order = data.orders.get(order_id)
            if not self.path.startswith("/orders/") or order is None:
                self._send(404, b'{"detail": "not found"}')
                return
            self._send(200, json.dumps(order).encode())

    return Handler


@contextmanager
def serve(data: CRMData) -> Iterator[str]:
    """Run the server; yields its base URL and shuts it down afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(data))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-crm", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
