"""Cache files and directories judgecache creates are owner-only (0700 dirs, 0600 files)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from rel_common import SPEC, console_script, env_for, pairs, write_jsonl

from judgecache.store.disk import DiskStore


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}


def _assert_private(root: Path) -> None:
    modes = _modes(root)
    assert modes, "nothing was created"
    for name, mode in modes.items():
        wanted = 0o700 if (root / name).is_dir() else 0o600
        assert mode == wanted, f"{name} is {oct(mode)}, expected {oct(wanted)}"


def test_disk_store_creates_private_dirs_and_files(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: without care, 0755 dirs and 0644 files
    try:
        store = DiskStore(tmp_path / "new" / "cache", "v")
        store.set_many({"short": '{"a": 1}', "long": '"' + "x" * 100_000 + '"'})
        store.incr_counters("g", {"n": 1})
        assert store.acquire_lease("k", "me", 5.0)
        store.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert any(p.suffix == ".val" for p in (tmp_path / "new").rglob("*"))  # the long value's file
    _assert_private(tmp_path / "new")


def test_cli_score_leaves_a_private_cache(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", pairs(5))
    cache = tmp_path / "cache"
    run = subprocess.run(
        [console_script(), "score", str(src), "--judge", SPEC, "--cache", f"diskcache://{cache}",
         "-o", str(tmp_path / "out.jsonl"), "--no-progress"],
        env=env_for(tmp_path / "calls"), capture_output=True, text=True, timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    _assert_private(cache)
