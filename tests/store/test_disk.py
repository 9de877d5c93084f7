"""diskcache:// specifics: no silent eviction, counted eviction, JSON text on disk, bad paths."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import diskcache
import pytest

from judgecache.envelope import Envelope
from judgecache.errors import ConfigError, StorageError
from judgecache.store.disk import DiskStore

KB = 1024


def envelope_json(i: int, pad: int = 0) -> str:
    return Envelope(
        label=1,
        score=0.9,
        raw_output="Relevant. " + "x" * pad,
        task="relevance",
        judge={"provider": "openai", "model": "gpt-4o", "version": ""},
        inputs={"query": f"q{i}", "doc": "Grüße 🎉"},
    ).to_json()


def test_default_never_evicts_even_past_a_size_limit_in_the_directory(tmp_path: Path) -> None:
    # A directory once used with a small diskcache size_limit (and eviction) keeps that setting
    # in its SQLite file; opening it without size_limit must still never drop an entry.
    legacy = diskcache.Cache(str(tmp_path / "v" / "values"), size_limit=50 * KB)
    legacy.close()
    store = DiskStore(tmp_path, "v")
    values = {f"k{i}": envelope_json(i, pad=2 * KB) for i in range(200)}  # ~0.5 MB, 10x the limit
    for k, v in values.items():
        store.set(k, v)
    store.set_many({f"m{i}": envelope_json(i, pad=2 * KB) for i in range(50)})
    assert store.count() == 250
    assert store.get_many(list(values)) == list(values.values())
    info = store.info()
    assert info["size_limit"] is None
    assert info["evictions"] == 0
    assert info["size_bytes"] > 400 * KB


def test_explicit_size_limit_evicts_oldest_and_counts_every_eviction(tmp_path: Path) -> None:
    limit = 64 * KB
    store = DiskStore(tmp_path, "v", size_limit=limit)
    for i in range(150):
        store.set(f"k{i:03d}", envelope_json(i, pad=2 * KB))
    store.set_many({f"m{i:03d}": envelope_json(i, pad=2 * KB) for i in range(50)})
    assert store.add("last", envelope_json(999, pad=2 * KB)) is True

    info = store.info()
    assert info["size_limit"] == limit
    assert info["evictions"] > 0
    assert info["entries"] + info["evictions"] == 201  # nothing vanished uncounted
    assert info["size_bytes"] <= limit
    assert store.get("k000") is None  # least recently stored went first
    assert store.get("last") is not None
    assert DiskStore(tmp_path, "v", size_limit=limit).info()["evictions"] == info["evictions"]


def test_values_on_disk_are_the_json_text_not_pickles(tmp_path: Path) -> None:
    store = DiskStore(tmp_path, "v")
    small, large = envelope_json(1), envelope_json(2, pad=64 * KB)
    store.set_many({"small": small, "large": large})
    store.close()

    values_dir = tmp_path / "v" / "values"
    with sqlite3.connect(values_dir / "cache.db") as db:
        rows = {
            key: (raw, mode, typeof, value, filename)
            for key, raw, mode, typeof, value, filename in db.execute(
                "SELECT key, raw, mode, typeof(value), value, filename FROM Cache"
            )
        }
    raw, mode, typeof, value, _ = rows["small"]
    assert (raw, mode, typeof, value) == (1, 1, "text", small)  # diskcache MODE_RAW: the string
    raw, mode, _, value, filename = rows["large"]
    assert (raw, mode, value) == (1, 3, None)  # MODE_TEXT: a UTF-8 file beside the database
    assert (values_dir / filename).read_text(encoding="utf-8") == large


class _Payload:
    """Unpickling this touches a marker file: it shows whether a pickle would have executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


def test_refuses_to_unpickle_entries_written_by_someone_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "code-ran"
    foreign = diskcache.Cache(str(tmp_path / "v" / "values"))
    foreign.set("evil", _Payload(marker))  # plain diskcache pickles non-str values
    foreign.set(("tuple", "key"), "x")  # and non-str keys
    foreign.set("good", "1")
    foreign.close()
    store = DiskStore(tmp_path, "v")
    # Never loaded: read as a miss, named in a warning, counted; the good entries still read.
    assert store.get_many(["evil", "good"]) == [None, "1"]
    assert "cache entry evil is not JSON text" in caplog.text
    assert sorted(store.keys()) == ["evil", "good"]  # the pickled key row is skipped
    assert store.info()["unreadable_seen"] == 2 and store.info()["entries"] == 3
    assert not marker.exists()
    # The payload is live: a plain diskcache reader would have run it.
    diskcache.Cache(str(tmp_path / "v" / "values")).get("evil")
    assert marker.exists()
    store.set("evil", '{"repaired": true}')  # the next answer overwrites the bad row
    assert store.get("evil") == '{"repaired": true}'


def test_only_text_values_are_accepted(tmp_path: Path) -> None:
    store = DiskStore(tmp_path, "v")
    with pytest.raises(TypeError, match="JSON text"):
        store.set("k", {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="JSON text"):
        store.set_many({"k": b"bytes"})  # type: ignore[dict-item]
    assert store.count() == 0


def test_path_that_is_a_file_gives_storage_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "cache"
    not_a_dir.write_text("I am a file")
    with pytest.raises(StorageError, match=str(not_a_dir)):
        DiskStore(not_a_dir, "v")


def test_corrupt_database_gives_storage_error(tmp_path: Path) -> None:
    values_dir = tmp_path / "v" / "values"
    values_dir.mkdir(parents=True)
    (values_dir / "cache.db").write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(StorageError, match="diskcache at"):
        DiskStore(tmp_path, "v")


@pytest.mark.parametrize("size_limit", [0, -1, 1.5, "1GB"])
def test_bad_size_limit_is_a_config_error(tmp_path: Path, size_limit: object) -> None:
    with pytest.raises(ConfigError, match="size_limit"):
        DiskStore(tmp_path, "v", size_limit=size_limit)  # type: ignore[arg-type]


@pytest.mark.parametrize("namespace", ["", "../escape", "a/b", ".hidden", "a:b", "x" * 65])
def test_unsafe_namespace_is_a_config_error(tmp_path: Path, namespace: str) -> None:
    with pytest.raises(ConfigError, match="namespace"):
        DiskStore(tmp_path, namespace)
    assert list(tmp_path.iterdir()) == []
