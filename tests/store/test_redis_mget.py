"""The one-pass ``MGET`` reader: the same values as redis-py, and a clean retreat from anything else."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.connection import ConnectionPool, SSLConnection

from judgecache.store import redis_store
from judgecache.store.redis_mget import (
    UnexpectedReplyError,
    _read_values,
    mget,
    pack_mget,
    supports,
)
from judgecache.store.redis_store import RedisStore

pytestmark = pytest.mark.redis

VALUES = {
    "empty": b"",
    "json": '{"label": 2, "inputs": {"doc": "caf\u00e9 \u2014 \U0001f375"}}'.encode(),
    "crlf": b"line one\r\nline two\r\n$5\r\n*3\r\n",  # protocol bytes inside a value
    "binary": bytes(range(256)),
    "large": b"x" * (3 * (1 << 20) + 7),  # many socket reads for one value
}


@pytest.fixture
def client(redis_server: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_server)
    yield c
    c.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_reads_what_redis_py_reads(redis_server: str, protocol: int) -> None:
    c = redis.Redis.from_url(redis_server, protocol=protocol)
    prefix = uuid.uuid4().hex
    keys = [f"{prefix}:{name}" for name in VALUES]
    c.mset(dict(zip(keys, VALUES.values(), strict=True)))
    c.rpush(f"{prefix}:list", "not a string")  # MGET answers nil for another type
    asked = [keys[0], f"{prefix}:absent", *keys[1:], f"{prefix}:list", keys[1]]

    got = mget(c.connection_pool, asked)

    assert got == c.mget(asked)
    assert got[1] is None and got[-2] is None and got[-1] == VALUES["json"]
    assert mget(c.connection_pool, asked) == got  # the connection went back clean
    c.close()


def test_store_reads_one_pass_and_falls_back(
    redis_server: str, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: list[list[bytes | None]] = []

    def spy(pool: ConnectionPool, keys: list[str]) -> list[bytes | None]:
        answered.append(mget(pool, keys))  # the real reader, watched
        return answered[-1]

    monkeypatch.setattr(redis_store, "mget", spy)
    store = RedisStore(redis_server, f"mget-{uuid.uuid4().hex}")
    store.set_many({"a": "1", "b": "\u00e9"})
    assert list(store.read_many(["a", "x", "b"])) == [b"1", None, "\u00e9".encode()]
    assert answered == [[b"1", None, "\u00e9".encode()]]  # read in one pass, not by redis-py
    # A key that is not ASCII cannot be packed by length in characters: redis-py reads it.
    store.set("\u00e9", "2")
    assert list(store.read_many(["a", "\u00e9"])) == [b"1", b"2"]
    # The server drops every connection: the next read reconnects and answers the same.
    client.client_kill_filter(_type="normal", skipme=True)
    assert list(store.read_many(["a", "x", "b"])) == [b"1", None, "\u00e9".encode()]
    store.close()


def test_tls_connections_are_read_through_redis_py() -> None:
    assert not supports(ConnectionPool(connection_class=SSLConnection))
    assert supports(ConnectionPool())


def test_pack_refuses_keys_that_are_not_ascii() -> None:
    with pytest.raises(UnexpectedReplyError, match="ASCII"):
        pack_mget(["caf\u00e9"])


def _reply(data: bytes, n: int, *, step: int = 0) -> list[bytes | None]:
    """Parse ``data`` as the reply to an ``n``-key MGET, sent whole or ``step`` bytes at a time
    by another thread (the reader sees it in as many pieces as the socket gives)."""
    ours, theirs = socket.socketpair()
    ours.settimeout(10)

    def send() -> None:
        if step:
            for i in range(0, len(data), step):
                theirs.sendall(data[i : i + step])
        else:
            theirs.sendall(data)
        theirs.close()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        return _read_values(ours, n)
    finally:
        ours.close()
        sender.join()


def test_parses_a_reply_in_any_number_of_pieces() -> None:
    reply = b"*4\r\n$3\r\nabc\r\n$-1\r\n_\r\n$6\r\na\r\nb\r\n\r\n"
    want = [b"abc", None, None, b"a\r\nb\r\n"]
    assert _reply(reply, 4) == want
    assert _reply(reply, 4, step=1) == want


@pytest.mark.parametrize(
    ("reply", "n", "error"),
    [
        (b"-ERR wrong number of arguments\r\n", 1, UnexpectedReplyError),
        (b"*2\r\n$1\r\na\r\n", 1, UnexpectedReplyError),  # another count
        (b"*1\r\n:5\r\n", 1, UnexpectedReplyError),  # an integer
        (b"*1\r\n>2\r\n", 1, UnexpectedReplyError),  # a RESP3 push in the middle
        (b"*1\r\n$3\r\nabcd\r\n", 1, UnexpectedReplyError),  # longer than its length
        (b"*1\r\n$1\r\na\r\n+OK\r\n", 1, UnexpectedReplyError),  # bytes after the reply
        (b"*2\r\n$1\r\na\r\n$5\r\nab", 2, ConnectionError),  # closed mid-value
    ],
)
def test_anything_else_is_refused(reply: bytes, n: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        _reply(reply, n)
