"""A scripted OpenAI-compatible chat model for the tests: a real HTTP server on a free port.

``serve_model()`` runs ``http.server`` on a loopback port in a thread and serves
``POST /v1/chat/completions``, plain JSON or streamed as server-sent events, and
``GET /v1/models`` (the ``models`` it was given; a health probe reads it), so the code
under test talks to it through ``langchain_openai.ChatOpenAI`` and the ``openai`` client
exactly as it would to vLLM, Ollama or OpenAI. Each request takes the next reply from the
script (``server.script(...)``); every request is recorded with its arrival time.

Replies: ``Text`` (optionally slow to start or between tokens), ``ToolCalls`` (arguments
as a dict, or a raw string to send invalid JSON), ``Status`` (429 with ``Retry-After``,
500, ...), ``Hang`` (never answers until the server stops), ``Malformed`` (200 with a body
that is not JSON) and ``Reset`` (the connection is closed before any byte is sent).
Stdlib only, so it can be copied or cherry-picked anywhere.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Text:
    """An assistant message. ``delay_s`` passes before the response starts (before the first
    token when streaming); ``chunk_delay_s`` passes between streamed tokens."""

    content: str
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0


@dataclass(frozen=True)
class ToolCalls:
    """An assistant message asking for tool calls: ``(name, arguments)`` pairs, where a
    ``str`` is sent verbatim (so it can be invalid JSON) and anything else is JSON-encoded."""

    calls: list[tuple[str, Any]]
    content: str = ""
    delay_s: float = 0.0


@dataclass(frozen=True)
class Status:
    """An error response in OpenAI's shape, e.g. ``Status(429, retry_after="1")``."""

    code: int
    message: str = "scripted error"
    retry_after: str | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Hang:
    """Reads the request and never answers (until the server shuts down)."""


@dataclass(frozen=True)
class Malformed:
    """A 200 response whose body is cut off mid-JSON."""

    body: bytes = b'{"id": "chatcmpl-x", "choices": [{"index": 0, "message": {"role": "assi'


@dataclass(frozen=True)
class Reset:
    """The connection is reset (RST) after the request is read, before any response byte."""


Reply = Text | ToolCalls | Status | Hang | Malformed | Reset


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float  # time.monotonic()

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))


@dataclass
class ModelServer:
    """The script, the record and the server's address; built by ``serve_model()``."""

    base_url: str = ""
    default: Reply | None = None
    models: tuple[str, ...] = ("scripted",)
    api_key: str | None = None  # when set, another Bearer key gets a 401
    requests: list[RecordedRequest] = field(default_factory=list)
    _script: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one. When the script runs out, the
        ``default`` reply is used, or a 500 saying so if there is none."""
        with self._lock:
            self._script.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not yet used."""
        with self._lock:
            return len(self._script)

    def _next(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.popleft()
        return self.default or Status(500, "the test script has no reply for this request")


def _completion_id(server: ModelServer) -> str:
    return f"chatcmpl-{len(server.requests)}"


def _tool_call_payload(index: int, name: str, arguments: Any) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "index": index,
        "id": f"call_{index}_{name}",
        "type": "function",
        "function": {"name": name, "arguments": args},
    }


def _message(reply: Text | ToolCalls) -> tuple[dict[str, Any], str]:
    if isinstance(reply, Text):
        return {"role": "assistant", "content": reply.content}, "stop"
    calls = [_tool_call_payload(i, name, args) for i, (name, args) in enumerate(reply.calls)]
    for call in calls:
        del call["index"]
    return {"role": "assistant", "content": reply.content or None, "tool_calls": calls}, (
        "tool_calls"
    )


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default stderr access log."""

        def _sleep(self, seconds: float) -> bool:
            """Sleeps unless the server stops first; True if it is stopping."""
            return server._stopping.wait(seconds) if seconds > 0 else False

        def _send_json(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _event(self, payload: dict[str, Any] | str) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            self._chunk(f"data: {text}\n\n".encode())

        def _stream(self, reply: Text | ToolCalls, body: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            base = {
                "id": _completion_id(server),
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "scripted"),
            }

            def delta(d: dict[str, Any], finish: str | None = None) -> None:
                choice = {"index": 0, "delta": d, "finish_reason": finish}
                self._event({**base, "choices": [choice]})

            delta({"role": "assistant", "content": ""})
            if isinstance(reply, Text):
                for i, token in enumerate(reply.content.split(" ")):
                    if i and self._sleep(reply.chunk_delay_s):
                        return
                    delta({"content": token if i == 0 else " " + token})
                delta({}, "stop")
            else:
                if reply.content:
                    delta({"content": reply.content})
                for i, (name, args) in enumerate(reply.calls):
                    call = _tool_call_payload(i, name, args)
                    arguments = call["function"]["arguments"]
                    call["function"]["arguments"] = ""
                    delta({"tool_calls": [call]})
                    half = len(arguments) // 2
                    for part in (arguments[:half], arguments[half:]):
                        delta({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
                delta({}, "tool_calls")
            if (body.get("stream_options") or {}).get("include_usage"):
                self._event({**base, "choices": [], "usage": _usage()})
            self._event("[DONE]")
            self._chunk(b"")

        def _reset(self) -> None:
            """SO_LINGER 0 turns close() into a TCP RST: the client sees 'connection reset'."""
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def _refused(self) -> bool:
            key = server.api_key
            if key is None or self.headers.get("Authorization") == f"Bearer {key}":
                return False
            error = {"error": {"message": "Incorrect API key provided", "type": "invalid"}}
            self._send_json(401, json.dumps(error).encode(), {})
            return True

        def do_GET(self) -> None:
            if self._refused():
                return
            if self.path.rstrip("/") != "/v1/models":
                self._send_json(404, b'{"error": {"message": "not found"}}', {})
                return
            listed = [
                {"id": name, "object": "model", "owned_by": "tests"} for name in server.models
            ]
            self._send_json(200, json.dumps({"object": "list", "data": listed}).encode(), {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length) if length else b"{}"
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"unparsed": raw.decode(errors="replace")}
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send_json(404, b'{"error": {"message": "not found"}}', {})
                return
            if self._refused():
                return
            request = RecordedRequest(
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                received_at=time.monotonic(),
            )
            reply = server._next(request)
            if isinstance(reply, Hang):
                server._stopping.wait()
                self.close_connection = True
                return
            if isinstance(reply, Reset):
                self._reset()
                return
            if isinstance(reply, Malformed):
                self._send_json(200, reply.body, {})
                return
            if self._sleep(reply.delay_s):
                self.close_connection = True
                return
            if isinstance(reply, Status):
                kind = "rate_limit_error" if reply.code == 429 else "server_error"
                error = {"error": {"message": reply.message, "type": kind, "code": None}}
                headers = {"Retry-After": reply.retry_after} if reply.retry_after else {}
                self._send_json(reply.code, json.dumps(error).encode(), headers)
                return
            if request.stream:
                self._stream(reply, body)
                return
            message, finish = _message(reply)
            completion = {
                "id": _completion_id(server),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": _usage(),
            }
            self._send_json(200, json.dumps(completion).encode(), {})

    return Handler


@contextmanager
def serve_model(
    *replies: Reply,
    default: Reply | None = None,
    models: tuple[str, ...] = ("scripted",),
    api_key: str | None = None,
) -> Iterator[ModelServer]:
    """Run the model server with an initial script; shuts it down (ending hung requests)."""
    model = ModelServer(default=default, models=models, api_key=api_key)
    model.script(*replies)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(model))
    httpd.daemon_threads = True
    model.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.05,), name="scripted-model", daemon=True
    )
    thread.start()
    try:
        yield model
    finally:
        model._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
