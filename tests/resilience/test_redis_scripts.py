"""The script channel against real Redis servers: replies, pipelining, failures, lifetimes.

Most tests run their own ``asyncio.run``: a loop of their own, ended (and its connection
closed) before the assertions about leaks and reconnection.
"""

from __future__ import annotations

import asyncio
import datetime
import gc
import ipaddress
import shutil
import signal
import ssl
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from storage.config import RedisConfig
from storage.redis import RedisHandle
from storage.redis_scripts import AsyncScriptRunner, Endpoint, ScriptChannels
from tests.redis_server import RedisServer, free_port, wait_for
from tools.resilience.rate_limit import GCRA_LUA

ECHO = "return {KEYS[1], ARGV[1]}"
# Every reply type a script can return, decoded as redis-py does with decode_responses.
TYPES = """
local ok = redis.call('SET', KEYS[1], ARGV[1])
return {1, 'two', false, {3, 'four', {}}, ok, redis.call('GET', KEYS[1]), tonumber(ARGV[2]), -7}
"""
SET = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])"


def channels_for(url: str, timeout_s: float = 0.5, **kwargs: Any) -> ScriptChannels:
    return ScriptChannels(
        Endpoint.from_url(url, connect_timeout_s=timeout_s, socket_timeout_s=timeout_s, **kwargs)
    )


def commands(server: RedisServer, name: str) -> int:
    client = server.client()
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))


@pytest.fixture
def resource_warnings() -> Iterator[Callable[[], list[str]]]:
    """``resource_warnings()``: ResourceWarnings (unclosed transports, sockets) so far."""
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)

        def collected() -> list[str]:
            gc.collect()
            return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]

        yield collected


# Replies


def test_replies_equal_the_sync_redis_py_scripts(redis_url: str, redis_prefix: str) -> None:
    sync = redis.Redis.from_url(redis_url, decode_responses=True)
    channels = channels_for(redis_url)
    gcra = [10**9, 1] * 2  # 1000 s interval, burst 1: the second call in a row is refused

    async def main() -> list[Any]:
        types = channels.script(TYPES)
        limit = channels.script(GCRA_LUA)
        out = [await types(keys=[f"{redis_prefix}:a"], args=["vé", "42"])]
        out += [await limit(keys=[f"{redis_prefix}:ga", f"{redis_prefix}:gb"], args=gcra)]
        out += [await limit(keys=[f"{redis_prefix}:ga", f"{redis_prefix}:gb"], args=gcra)]
        await channels.aclose()
        return out

    try:
        ours = asyncio.run(main())
        theirs = [
            sync.register_script(TYPES)(keys=[f"{redis_prefix}:b"], args=["vé", "42"]),
            sync.register_script(GCRA_LUA)(
                keys=[f"{redis_prefix}:gc", f"{redis_prefix}:gd"], args=gcra
            ),
            sync.register_script(GCRA_LUA)(
                keys=[f"{redis_prefix}:gc", f"{redis_prefix}:gd"], args=gcra
            ),
        ]
    finally:
        sync.close()
    assert ours[:2] == theirs[:2]
    assert ours[0] == [1, "two", None, [3, "four", []], "OK", "vé", 42, -7]
    assert ours[1] == [1, 0, 0]
    # Refused, by the first limit; retry_after (µs) depends on when each call ran.
    for refused in (ours[2], theirs[2]):
        allowed, retry_us, index = refused
        assert (allowed, index) == (0, 1)
        assert isinstance(retry_us, int)
        assert 10**9 - 5_000_000 < retry_us <= 10**9


def test_error_replies_raise_response_error_and_the_channel_goes_on(redis_url: str) -> None:
    channels = channels_for(redis_url)

    async def main() -> None:
        with pytest.raises(redis.ResponseError, match="boom"):
            await channels.script("return redis.error_reply('boom')")()
        with pytest.raises(redis.ResponseError):
            await channels.script("return nosuchfunction()")()
        with pytest.raises(redis.DataError):
            await channels.script(ECHO)(keys=["k"], args=[None])
        assert await channels.script(ECHO)(keys=["k"], args=[1.5]) == ["k", "1.5"]
        await channels.aclose()

    asyncio.run(main())


def test_concurrent_calls_each_get_their_own_reply_over_one_connection(
    redis_server: RedisServer,
) -> None:
    channels = channels_for(redis_server.url)
    client = redis_server.client()
    before = int(client.info("stats")["total_connections_received"])
    evalsha = int(client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))

    async def main() -> list[Any]:
        echo = channels.script(ECHO)
        await echo(keys=["warm"], args=["up"])  # loads the script: EVALSHA from here on
        replies = await asyncio.gather(*(echo(keys=[f"k{i}"], args=[i]) for i in range(200)))
        await channels.aclose()
        return replies

    try:
        assert asyncio.run(main()) == [[f"k{i}", str(i)] for i in range(200)]
        assert int(client.info("stats")["total_connections_received"]) - before == 1
        # One round trip per call: 201 EVALSHAs (the first one answered NOSCRIPT, then EVAL).
        stats = client.info("commandstats")
        assert int(stats["cmdstat_evalsha"]["calls"]) - evalsha == 201
    finally:
        client.close()


def test_cancelled_waiters_do_not_shift_the_replies(redis_url: str) -> None:
    channels = channels_for(redis_url)

    async def main() -> None:
        echo = channels.script(ECHO)
        await echo(keys=["warm"], args=["up"])
        tasks = [asyncio.create_task(echo(keys=[f"k{i}"], args=[i])) for i in range(100)]
        await asyncio.sleep(0)  # every request is written, no reply read yet
        for task in tasks[::2]:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for i, result in enumerate(results):
            if i % 2:
                assert result == [f"k{i}", str(i)]
            else:
                assert isinstance(result, asyncio.CancelledError)
        for i in range(20):
            assert await echo(keys=[f"after{i}"], args=[i]) == [f"after{i}", str(i)]
        await channels.aclose()

    asyncio.run(main())


def test_noscript_after_script_flush_recovers_transparently(redis_server: RedisServer) -> None:
    channels = channels_for(redis_server.url)
    client = redis_server.client()

    async def main() -> None:
        echo = channels.script(ECHO)
        assert await echo(keys=["a"], args=[1]) == ["a", "1"]
        client.script_flush()
        replies = await asyncio.gather(*(echo(keys=[f"k{i}"], args=[i]) for i in range(20)))
        assert replies == [[f"k{i}", str(i)] for i in range(20)]
        evals = commands(redis_server, "eval")
        assert await echo(keys=["b"], args=[2]) == ["b", "2"]  # cached again by the EVAL
        assert commands(redis_server, "eval") == evals
        await channels.aclose()

    try:
        asyncio.run(main())
    finally:
        client.close()


# Connection options


def test_password_from_the_url_or_the_config_and_a_clear_error_without(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path, args=("--requirepass", "s3cret")).start()
    try:
        url = f"redis://127.0.0.1:{server.port}/0"

        async def call(channels: ScriptChannels) -> Any:
            try:
                return await channels.script(ECHO)(keys=["k"], args=["v"])
            finally:
                await channels.aclose()

        assert asyncio.run(call(channels_for(f"redis://:s3cret@127.0.0.1:{server.port}/0"))) == [
            "k",
            "v",
        ]
        assert asyncio.run(call(channels_for(url, password="s3cret"))) == ["k", "v"]
        with pytest.raises(redis.AuthenticationError, match="Authentication required"):
            asyncio.run(call(channels_for(url)))
        with pytest.raises(redis.AuthenticationError, match="invalid"):
            asyncio.run(call(channels_for(url, password="wrong")))

        # An ACL user: AUTH username password.
        server.client().acl_setuser(
            "svc", enabled=True, passwords=["+pw"], commands=["+@all"], keys=["*"]
        )
        assert asyncio.run(call(channels_for(f"redis://svc:pw@127.0.0.1:{server.port}/0"))) == [
            "k",
            "v",
        ]
    finally:
        server.kill()


def test_handle_sends_the_config_password_and_selects_the_url_db(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, args=("--requirepass", "s3cret")).start()
    handle = RedisHandle.from_config(
        RedisConfig(url=f"redis://:s3cret@127.0.0.1:{server.port}/3", key_prefix="t")
    )
    assert handle is not None
    assert handle.scripts.endpoint.password == "s3cret"  # moved out of the URL by the config
    client = server.client()
    try:

        async def main() -> Any:
            reply = await handle.register_async_script(SET)(keys=[handle.key("k")], args=["v"])
            await handle.aclose()
            return reply

        assert asyncio.run(main()) == "v"
        assert client.execute_command("SELECT", 3)
        assert client.get("t:k") == "v"
        client.execute_command("SELECT", 0)
        assert client.get("t:k") is None
    finally:
        client.close()
        handle.close()
        server.kill()


def test_unix_socket_url_with_db_query(tmp_path: Path) -> None:
    directory = Path(tempfile.mkdtemp(prefix="rs-"))  # short: socket paths are limited
    socket_path = directory / "redis.sock"
    server = RedisServer(
        tmp_path, args=("--unixsocket", str(socket_path), "--unixsocketperm", "700")
    ).start()
    channels = channels_for(f"unix://{socket_path}?db=2")
    client = server.client()
    try:

        async def main() -> Any:
            try:
                return await channels.script(SET)(keys=["k"], args=["unix"])
            finally:
                await channels.aclose()

        assert asyncio.run(main()) == "unix"
        client.execute_command("SELECT", 2)
        assert client.get("k") == "unix"
    finally:
        client.close()
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    # Here, not at the top: cryptography comes with the dev dependencies (langgraph-api).
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_rediss_with_a_ca_file_or_without_verification(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    tls_port = free_port()
    server = RedisServer(
        tmp_path,
        args=(
            *("--tls-port", str(tls_port), "--tls-auth-clients", "no"),
            *("--tls-cert-file", str(cert), "--tls-key-file", str(key)),
            *("--tls-ca-cert-file", str(cert)),
        ),
    ).start()
    base = f"rediss://127.0.0.1:{tls_port}/0"

    async def call(channels: ScriptChannels) -> Any:
        try:
            return await channels.script(ECHO)(keys=["k"], args=["tls"])
        finally:
            await channels.aclose()

    try:
        assert asyncio.run(call(channels_for(f"{base}?ssl_ca_certs={cert}"))) == ["k", "tls"]
        assert asyncio.run(call(channels_for(f"{base}?ssl_cert_reqs=none"))) == ["k", "tls"]
        with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            asyncio.run(call(channels_for(base)))  # the system CAs do not know this one
    finally:
        server.kill()


def test_url_options_are_honoured_or_refused_at_construction(redis_url: str) -> None:
    endpoint = Endpoint.from_url(
        "rediss://u@cache.internal:6380/4?ssl_cert_reqs=none&socket_timeout=0.3",
        connect_timeout_s=0.05,
        socket_timeout_s=0.05,
        password="p",
    )
    assert (endpoint.host, endpoint.port, endpoint.db) == ("cache.internal", 6380, 4)
    assert (endpoint.username, endpoint.password) == ("u", "p")
    assert endpoint.socket_timeout_s == 0.3  # the URL wins, as in redis-py's from_url
    assert endpoint.connect_timeout_s == 0.05
    assert endpoint.ssl_context is not None
    assert endpoint.ssl_context.verify_mode == ssl.CERT_NONE
    assert not endpoint.ssl_context.check_hostname
    assert (
        Endpoint.from_url(
            "redis://h?health_check_interval=5", connect_timeout_s=1, socket_timeout_s=1
        ).ssl_context
        is None
    )

    with pytest.raises(ValueError, match="client_name"):
        RedisHandle.from_config(RedisConfig(url=f"{redis_url}?client_name=agent"))
    with pytest.raises(ValueError, match="rediss://"):
        Endpoint.from_url("redis://h/0?ssl_cert_reqs=none", connect_timeout_s=1, socket_timeout_s=1)
    with pytest.raises(ValueError, match="ssl_cert_reqs"):
        Endpoint.from_url(
            "rediss://h/0?ssl_cert_reqs=maybe", connect_timeout_s=1, socket_timeout_s=1
        )


# Failures


def test_hung_server_times_out_every_waiter_then_the_channel_recovers(
    redis_server: RedisServer,
) -> None:
    timeout_s = 0.2
    channels = channels_for(redis_server.url, timeout_s=timeout_s)

    async def main() -> None:
        echo = channels.script(ECHO)
        assert await echo(keys=["a"], args=[1]) == ["a", "1"]
        redis_server.pause()
        try:
            started = time.monotonic()
            first = asyncio.create_task(echo(keys=["b"], args=[2]))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(echo(keys=["c"], args=[3]))
            results = await asyncio.gather(first, second, return_exceptions=True)
            elapsed = time.monotonic() - started
        finally:
            redis_server.resume()
        assert all(isinstance(result, redis.TimeoutError) for result in results)
        assert timeout_s * 0.9 <= elapsed < timeout_s + 0.3  # the oldest waiter's deadline
        assert await echo(keys=["d"], args=[4]) == ["d", "4"]  # a new connection
        await channels.aclose()

    asyncio.run(main())


def test_hung_server_during_the_handshake_times_out(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, args=("--requirepass", "s3cret")).start()
    channels = channels_for(server.url, timeout_s=0.2, password="s3cret")

    async def main() -> None:
        echo = channels.script(ECHO)
        server.pause()
        try:
            with pytest.raises(redis.TimeoutError):
                await echo(keys=["a"], args=[1])  # the kernel accepts; AUTH gets no answer
        finally:
            server.resume()
        assert await echo(keys=["a"], args=[1]) == ["a", "1"]
        await channels.aclose()

    try:
        asyncio.run(main())
    finally:
        server.kill()


def test_killed_server_raises_connection_error_then_a_later_call_reconnects(
    redis_server: RedisServer,
) -> None:
    channels = channels_for(redis_server.url)

    async def main() -> None:
        echo = channels.script(ECHO)
        assert await echo(keys=["a"], args=[1]) == ["a", "1"]
        redis_server.kill()
        with pytest.raises(redis.ConnectionError):
            await echo(keys=["b"], args=[2])
        with pytest.raises(redis.ConnectionError, match="error connecting"):
            await echo(keys=["b"], args=[2])  # refused, fast
        redis_server.start()
        assert await echo(keys=["c"], args=[3]) == ["c", "3"]
        await channels.aclose()

    asyncio.run(main())


def test_waiters_pending_when_the_server_dies_get_connection_error(
    redis_server: RedisServer,
) -> None:
    channels = channels_for(redis_server.url, timeout_s=2)

    async def main() -> None:
        echo = channels.script(ECHO)
        assert await echo(keys=["a"], args=[1]) == ["a", "1"]
        redis_server.pause()
        tasks = [asyncio.create_task(echo(keys=[f"k{i}"], args=[i])) for i in range(5)]
        await asyncio.sleep(0.05)  # written, unanswered
        assert redis_server._process is not None
        redis_server._process.send_signal(signal.SIGKILL)  # still frozen: no reply escapes
        started = time.monotonic()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, redis.ConnectionError) for r in results), results
        assert time.monotonic() - started < 1  # at once, not after the 2 s timeout
        redis_server.kill()
        redis_server.start()
        assert await echo(keys=["b"], args=[2]) == ["b", "2"]
        await channels.aclose()

    asyncio.run(main())


# Lifetimes


def test_aclose_leaves_no_open_transport(
    redis_server: RedisServer, resource_warnings: Callable[[], list[str]]
) -> None:
    handle = RedisHandle.from_config(RedisConfig(url=redis_server.url, key_prefix="t"))
    assert handle is not None
    client = redis_server.client()

    async def main() -> None:
        echo = handle.register_async_script(ECHO)
        assert await echo(keys=["a"], args=[1]) == ["a", "1"]
        assert len(handle.scripts) == 1
        conn = handle.scripts.current()._conn
        assert conn is not None
        await handle.aclose()
        assert len(handle.scripts) == 0
        assert conn.closed
        assert conn._transport is None  # connection_lost ran: the socket is closed
        assert await echo(keys=["b"], args=[2]) == ["b", "2"]  # a fresh channel
        await handle.aclose()

    try:
        asyncio.run(main())
        assert wait_for(lambda: len(client.client_list()) == 1)  # only this client is left
    finally:
        client.close()
        handle.close()
    assert resource_warnings() == []


def test_a_loop_that_ends_without_aclose_closes_and_drops_its_channel(
    redis_server: RedisServer, resource_warnings: Callable[[], list[str]]
) -> None:
    channels = channels_for(redis_server.url)

    async def main() -> None:
        assert await channels.script(ECHO)(keys=["a"], args=[1]) == ["a", "1"]

    asyncio.run(main())
    gc.collect()
    assert len(channels) == 0
    assert resource_warnings() == []


def test_each_event_loop_gets_its_own_channel(redis_url: str) -> None:
    channels = channels_for(redis_url)
    echo = channels.script(ECHO)
    seen: list[int] = []

    async def main(tag: str) -> list[Any]:
        seen.append(id(channels.current()))
        replies = [await echo(keys=[tag], args=[i]) for i in range(50)]
        await channels.aclose()
        return replies

    assert asyncio.run(main("first")) == [["first", str(i)] for i in range(50)]
    assert asyncio.run(main("second")) == [["second", str(i)] for i in range(50)]

    # And two loops at once, in two threads.
    results: dict[str, list[Any]] = {}

    def run(tag: str) -> None:
        results[tag] = asyncio.run(main(tag))

    threads = [threading.Thread(target=run, args=(tag,)) for tag in ("t1", "t2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {tag: [[tag, str(i)] for i in range(50)] for tag in ("t1", "t2")}
    assert len(channels) == 0


async def test_the_handle_runner_on_the_test_loop(redis_url: str, redis_prefix: str) -> None:
    handle = RedisHandle.from_config(RedisConfig(url=redis_url, key_prefix=redis_prefix))
    assert handle is not None
    runner = handle.register_async_script(SET)
    assert isinstance(runner, AsyncScriptRunner)
    try:
        assert await runner(keys=[handle.key("k")], args=["v"]) == "v"
        assert handle.sync.get(handle.key("k")) == "v"
    finally:
        await handle.aclose()
