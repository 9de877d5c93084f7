"""SIGKILL a real `judgecache score` at seeded random points: no finished label is lost or
corrupt, and the rerun pays only for the pairs still missing (diskcache and Redis)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rel_common import SPEC, console_script, count_lines, env_for, pairs, read_jsonl, write_jsonl

from judgecache.envelope import Envelope
from judgecache.redis_server import LocalRedisServer
from judgecache.store import open_store

pytestmark = pytest.mark.slow

N = 160
KILLS = 4


def _score_cmd(src: Path, cache: str, out: Path) -> list[str]:
    # The default 30 s lease TTL on purpose: a rerun must take over a dead run's leases at once.
    return [console_script(), "score", str(src), "--judge", SPEC, "--cache", cache, "-o", str(out),
            "--no-progress", "--concurrency", "4", "--chunk-size", "32"]  # fmt: skip


def _kill_when(proc: subprocess.Popen[str], calls: Path, at: int) -> bool:
    """SIGKILL ``proc`` once ``calls`` has ``at`` lines; False if it finished first."""
    while proc.poll() is None:
        if count_lines(calls) >= at:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return True
        time.sleep(0.002)
    return False


def _snapshot(cache: str) -> dict[str, str]:
    """Every stored entry, each checked to decode (a torn write would fail here)."""
    store = open_store(cache)
    try:
        keys = list(store.keys())
        entries = dict(zip(keys, store.get_many(keys), strict=True))
    finally:
        store.close()
    for raw in entries.values():
        assert raw is not None
        Envelope.from_json(raw)  # raises StorageError on a corrupt entry
    return {k: v for k, v in entries.items() if v is not None}


def _kill_and_rerun(tmp_path: Path, cache: str, seed: int) -> None:
    rng = random.Random(seed)
    src = write_jsonl(tmp_path / "in.jsonl", pairs(N))
    calls = tmp_path / "calls.txt"
    env = env_for(calls, JC_DELAY_S="0.01")
    before: dict[str, str] = {}
    kills = 0
    for _ in range(KILLS):
        stored = len(before)
        at = count_lines(calls) + rng.randint(1, max(2, (N - stored) // 2))
        proc = subprocess.Popen(_score_cmd(src, cache, tmp_path / "out.jsonl"), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        killed = _kill_when(proc, calls, at)
        after = _snapshot(cache)
        lost = {k for k in before if after.get(k) != before[k]}
        assert not lost, f"finished labels lost or changed by a killed run: {sorted(lost)[:3]}"
        before = after
        kills += killed
    assert kills == KILLS  # each kill point lies before the end of its run
    paid_before = count_lines(calls)
    missing = N - len(before)
    final = subprocess.run(_score_cmd(src, cache, tmp_path / "out.jsonl"), env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert final.returncode == 0, final.stderr
    assert count_lines(calls) - paid_before == missing  # the rerun paid only for what was missing
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == [str(i) for i in range(N)]
    assert all(r["label"] == 3 for r in rows)  # "topic i words" vs "words about topic i"
    assert len(_snapshot(cache)) == N


def test_sigkill_diskcache(tmp_path: Path) -> None:
    _kill_and_rerun(tmp_path, f"diskcache://{tmp_path / 'cache'}", seed=14)


@pytest.mark.redis
def test_sigkill_redis(tmp_path: Path, doomed_redis: tuple[str, Callable[[], None]]) -> None:
    url, _ = doomed_redis
    _kill_and_rerun(tmp_path, f"{url}/0", seed=15)


@pytest.mark.redis
def test_redis_killed_and_restarted_mid_run(tmp_path: Path) -> None:
    server = LocalRedisServer()
    url = server.start()
    src = write_jsonl(tmp_path / "in.jsonl", pairs(N))
    calls = tmp_path / "calls.txt"
    try:
        cmd = _score_cmd(src, f"{url}/0?reconnect_s=30", tmp_path / "out.jsonl")
        proc = subprocess.Popen(cmd, env=env_for(calls, JC_DELAY_S="0.01"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        while proc.poll() is None and count_lines(calls) < N // 3:
            time.sleep(0.002)
        server.kill()
        restart = threading.Timer(0.5, server.start)
        restart.start()
        _, err = proc.communicate(timeout=300)
        restart.join()
        assert proc.returncode == 0, err
        rows = read_jsonl(tmp_path / "out.jsonl")
        assert len(rows) == N and all("error" not in r for r in rows), json.dumps(rows[:2])
    finally:
        server.stop()
