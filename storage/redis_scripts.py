"""Lua scripts on the hot path, pipelined over one asyncio connection per event loop.

Why not ``redis.asyncio``: a guarded call costs one script call (the GCRA rate limit, or
a breaker transition), so the client's own overhead is most of the guard's cost. Measured
on loopback, an EVALSHA through ``redis.asyncio`` takes about 160 µs and the same round
trip over a bare ``asyncio.Protocol`` feeding ``hiredis.Reader`` about 80 µs: the other
half goes to the ``StreamReader`` buffering, checking a connection out of the pool and
back, and the per-connection command lock (coredis measured slower still).

How: each event loop gets one connection, opened on first use. A call packs its request
once, writes it straight away (concurrent calls never wait for each other's replies) and
waits on a future queued in write order; Redis answers a connection's requests in order,
so replies are matched first in, first out. Every request written gets exactly one
reply, which is why a waiter that gave up (cancelled, or timed out by its caller) keeps
its place in the queue and its reply is simply dropped.

Failures raise redis-py's exception types, so ``except (redis.RedisError, OSError)``
handlers stay as they are: a reply not received within the socket timeout means a hung
server, so the connection is aborted and every waiter gets ``redis.TimeoutError``; a lost
connection fails every waiter with ``redis.ConnectionError``; either way the next call
reconnects. Error replies become the exceptions redis-py would raise (``NoScriptError``,
``AuthenticationError``, ``ResponseError``...).

Scripts only: no pub/sub, blocking commands or transactions, which would hold or change
the shared connection. Replies are decoded as with ``decode_responses=True``.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import hiredis
import redis
from redis._parsers import BaseParser
from redis.connection import SSLConnection, UnixDomainSocketConnection, parse_url
from redis.exceptions import NoScriptError

from storage.per_loop import PerLoop

# URL options that tune redis-py's pools and retries: nothing to do with one pipelined
# connection whose every request has a deadline. ``protocol``: scripts reply the same in
# RESP2, which this channel speaks.
_IGNORED_OPTIONS = frozenset(
    {
        "max_connections",
        "timeout",
        "retry_on_timeout",
        "retry_on_error",
        "health_check_interval",
        "socket_read_size",
        "socket_keepalive",
        "protocol",
    }
)
_SSL_OPTIONS = frozenset({"ssl_cert_reqs", "ssl_ca_certs", "ssl_check_hostname"})
_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_NOT_ENOUGH_DATA = object()


def pack(*args: str | bytes | int | float) -> bytes:
    """One request as a RESP array of bulk strings (hiredis' packer, as redis-py uses)."""
    try:
        return hiredis.pack_command(args)
    except TypeError as exc:
        raise redis.DataError(f"cannot send {args!r} to Redis: {exc}") from None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to connect: parsed once, when the handle is built."""

    connect_timeout_s: float
    socket_timeout_s: float
    host: str = "localhost"
    port: int = 6379
    path: str | None = None
    ssl_context: ssl.SSLContext | None = None
    db: int = 0
    username: str | None = None
    # Kept out of repr: the endpoint appears in error messages and debugger output.
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        connect_timeout_s: float,
        socket_timeout_s: float,
        password: str | None = None,
    ) -> Endpoint:
        """Parse a redis://, rediss:// or unix:// URL the way redis-py does.

        As in redis-py's ``from_url``, what the URL says wins over the arguments. Options
        this channel cannot honour raise ``ValueError`` here rather than being ignored.
        """
        options = parse_url(url)
        kind = options.pop("connection_class", None)
        fields: dict[str, Any] = {
            "connect_timeout_s": options.pop("socket_connect_timeout", connect_timeout_s),
            "socket_timeout_s": options.pop("socket_timeout", socket_timeout_s),
            "password": options.pop("password", password),
            "username": options.pop("username", None),
            "db": options.pop("db", 0),
        }
        for name in ("host", "port", "path"):
            if name in options:
                fields[name] = options.pop(name)
        tls = {name: options.pop(name) for name in _SSL_OPTIONS & options.keys()}
        unsupported = sorted(options.keys() - _IGNORED_OPTIONS)
        if unsupported:
            raise ValueError(
                f"Redis URL option(s) {', '.join(unsupported)} not supported by the script "
                f"channel (storage.redis_scripts); supported: db, socket_timeout, "
                f"socket_connect_timeout, {', '.join(sorted(_SSL_OPTIONS))}"
            )
        if kind is SSLConnection:
            fields["ssl_context"] = _ssl_context(**tls)
        elif tls:
            raise ValueError(f"{', '.join(sorted(tls))} need a rediss:// URL")
        if kind is UnixDomainSocketConnection and "path" not in fields:
            raise ValueError("unix:// Redis URL without a socket path")
        return cls(**fields)

    @property
    def address(self) -> str:
        return self.path if self.path is not None else f"{self.host}:{self.port}"

    def handshake(self) -> list[bytes]:
        """AUTH and SELECT, sent before any script on a new connection."""
        requests = []
        if self.password is not None:
            if self.username:
                requests.append(pack("AUTH", self.username, self.password))
            else:
                requests.append(pack("AUTH", self.password))
        if self.db:
            requests.append(pack("SELECT", self.db))
        return requests


def _ssl_context(
    ssl_cert_reqs: str = "required",
    ssl_ca_certs: str | None = None,
    ssl_check_hostname: bool | None = None,
) -> ssl.SSLContext:
    if ssl_cert_reqs not in _CERT_REQS:
        raise ValueError(f"ssl_cert_reqs must be one of {', '.join(_CERT_REQS)}")
    context = ssl.create_default_context(cafile=ssl_ca_certs)
    verify = _CERT_REQS[ssl_cert_reqs]
    if verify != ssl.CERT_REQUIRED or ssl_check_hostname is False:
        context.check_hostname = False
    context.verify_mode = verify
    return context


class PipelinedConnection(asyncio.Protocol):
    """One socket: requests in write order, and their waiters in the same order."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        endpoint: Endpoint,
        on_lost: Callable[[PipelinedConnection], None],
    ) -> None:
        self.closed = False
        self._loop = loop
        self._timeout_s = endpoint.socket_timeout_s
        self._address = endpoint.address
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._reader = hiredis.Reader(
            encoding="utf-8",
            protocolError=redis.InvalidResponse,
            replyError=BaseParser.parse_error,
            notEnoughData=_NOT_ENOUGH_DATA,
        )
        self._waiters: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._lost: asyncio.Future[None] = loop.create_future()
        self._watch: asyncio.Task[None] | None = None

    def send(self, request: bytes) -> asyncio.Future[Any]:
        """Write one packed request; the future gets its reply or the connection's error."""
        loop = self._loop
        waiter = loop.create_future()
        deadline = loop.time() + self._timeout_s
        self._waiters.append((waiter, deadline))
        self._transport.write(request)  # type: ignore[union-attr]
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._check_deadline)
        return waiter

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        # asyncio.run and asyncio.Runner cancel every task before closing their loop: this
        # one then closes the socket, so a loop that ends without ``aclose`` leaks nothing.
        self._watch = self._loop.create_task(
            self._close_at_loop_shutdown(), name="redis-scripts-close-at-loop-shutdown"
        )

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiters = self._waiters
        while True:
            try:
                reply = reader.gets()
            except redis.InvalidResponse as exc:
                self._abort(redis.ConnectionError(f"invalid reply from Redis: {exc}"))
                return
            if reply is _NOT_ENOUGH_DATA:
                return
            if not waiters:
                self._abort(redis.ConnectionError("reply from Redis with no request waiting"))
                return
            waiter = waiters.popleft()[0]
            if waiter.done():  # its caller gave up; the reply belongs to nobody
                continue
            if isinstance(reply, redis.RedisError):
                waiter.set_exception(reply)
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = f": {exc}" if exc else ""
        self._fail(redis.ConnectionError(f"connection to Redis at {self._address} lost{reason}"))
        self._transport = None
        if not self._lost.done():
            self._lost.set_result(None)
        self._on_lost(self)

    # Closing

    def close(self) -> None:
        """Close once the written requests are flushed; waiters get ConnectionError."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    async def wait_closed(self) -> None:
        if self._watch is not None:
            await asyncio.wait([self._watch])

    def _abort(self, exc: redis.RedisError) -> None:
        """Fail every waiter with ``exc`` and drop the socket now."""
        self.closed = True
        self._fail(exc)
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, exc: redis.RedisError) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiters, self._waiters = self._waiters, deque()
        for waiter, _ in waiters:
            if not waiter.done():
                waiter.set_exception(exc)

    def _check_deadline(self) -> None:
        """One timer per connection, armed for the oldest waiter: replies come in order,
        so if the oldest request is answered in time every later one can still be."""
        self._timer = None
        if not self._waiters:
            return
        deadline = self._waiters[0][1]
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._check_deadline)
            return
        self._abort(
            redis.TimeoutError(
                f"Redis at {self._address} did not answer within {self._timeout_s} s"
            )
        )

    async def _close_at_loop_shutdown(self) -> None:
        try:
            await self._lost
        except asyncio.CancelledError:
            self.close()
            raise


class ScriptChannel:
    """The connection of one event loop: opened on first use, reopened after a failure."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._conn: PipelinedConnection | None = None
        self._connecting: asyncio.Task[PipelinedConnection] | None = None
        self._closed = False

    async def execute(self, request: bytes) -> Any:
        """Send one packed request and return its decoded reply."""
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connected()
        return await conn.send(request)

    async def _connected(self) -> PipelinedConnection:
        if self._closed:
            raise redis.ConnectionError("Redis script channel closed")
        task = self._connecting
        if task is None:
            task = asyncio.get_running_loop().create_task(self._open())
            task.add_done_callback(self._open_done)
            self._connecting = task
        # Shielded: one caller giving up must not cancel the connection the others wait for.
        return await asyncio.shield(task)

    def _open_done(self, task: asyncio.Task[PipelinedConnection]) -> None:
        self._connecting = None
        if not task.cancelled():
            task.exception()  # retrieved here, so a failure nobody awaited is not logged

    async def _open(self) -> PipelinedConnection:
        endpoint = self.endpoint
        loop = asyncio.get_running_loop()

        def protocol() -> PipelinedConnection:
            return PipelinedConnection(loop, endpoint, self._lost)

        try:
            async with asyncio.timeout(endpoint.connect_timeout_s):
                if endpoint.path is not None:
                    _, conn = await loop.create_unix_connection(protocol, endpoint.path)
                else:
                    _, conn = await loop.create_connection(
                        protocol,
                        endpoint.host,
                        endpoint.port,
                        ssl=endpoint.ssl_context,
                        server_hostname=endpoint.host if endpoint.ssl_context else None,
                    )
        except TimeoutError:
            raise redis.TimeoutError(f"timeout connecting to Redis at {endpoint.address}") from None
        except OSError as exc:
            raise redis.ConnectionError(
                f"error connecting to Redis at {endpoint.address}: {exc}"
            ) from exc
        try:
            requests = endpoint.handshake()
            if requests:
                # Pipelined too; every reply is awaited, so no failure goes unretrieved.
                replies = await asyncio.gather(
                    *(conn.send(request) for request in requests), return_exceptions=True
                )
                for reply in replies:
                    if isinstance(reply, BaseException):
                        raise reply
            if self._closed:
                raise redis.ConnectionError("Redis script channel closed")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _lost(self, conn: PipelinedConnection) -> None:
        # Drop it at once: a closed connection must not keep its ended loop alive.
        if self._conn is conn:
            self._conn = None

    async def aclose(self) -> None:
        """Close the connection; waiters still pending get ``redis.ConnectionError``."""
        self._closed = True
        task = self._connecting
        if task is not None:  # not cancelled: its other waiters get ConnectionError instead
            await asyncio.wait([task])
        conn = self._conn
        if conn is not None:
            conn.close()
            await conn.wait_closed()


class ScriptChannels:
    """One ``ScriptChannel`` per running event loop, as ``RedisHandle.aio`` does for clients.

    A channel belongs to its loop: when the loop ends its connection is closed (see
    ``PipelinedConnection``) and the channel is dropped with the loop.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._by_loop: PerLoop[ScriptChannel] = PerLoop(lambda: ScriptChannel(endpoint))

    def current(self) -> ScriptChannel:
        """The channel of the running loop (created, not yet connected, on first use)."""
        return self._by_loop.get()

    def __len__(self) -> int:
        return len(self._by_loop)

    def script(self, source: str) -> AsyncScriptRunner:
        return AsyncScriptRunner(self, source)

    async def aclose(self) -> None:
        """Close the running loop's channel (the others belong to other loops)."""
        channel = self._by_loop.pop()
        if channel is not None:
            await channel.aclose()


class AsyncScriptRunner:
    """``await script(keys=..., args=...)``: EVALSHA on the running loop's channel.

    On NOSCRIPT (script cache flushed, or a server that never saw it) the call is sent
    again once as EVAL, which also caches the script for the next calls.
    """

    def __init__(self, channels: ScriptChannels, source: str) -> None:
        self.channels = channels
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: Sequence[str] = (), args: Sequence[Any] = ()) -> Any:
        channel = self.channels.current()
        request = pack("EVALSHA", self.sha, len(keys), *keys, *args)
        try:
            return await channel.execute(request)
        except NoScriptError:
            return await channel.execute(pack("EVAL", self.source, len(keys), *keys, *args))
