"""open_store: scheme routing, defaults from the environment, and clear errors for bad URLs."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from judgecache.errors import ConfigError
from judgecache.store import default_cache_url, open_store
from judgecache.store.disk import DiskStore
from judgecache.store.memory import MemoryStore
from judgecache.store.policy import FallbackStore
from judgecache.store.url import check_namespace, default_cache_dir, redact_url


def test_memory_scheme() -> None:
    store = open_store("memory://", "ns")
    assert isinstance(store, MemoryStore)
    assert (store.url, store.namespace) == ("memory://", "ns")


def test_diskcache_scheme_opens_the_given_path(tmp_path: Path) -> None:
    store = open_store(f"diskcache://{tmp_path}/shared", "ns")
    assert isinstance(store, DiskStore)
    store.set("k", "v")
    assert (tmp_path / "shared" / "ns" / "values").is_dir()
    assert store.info()["path"] == str(tmp_path / "shared" / "ns")


def test_diskcache_without_path_and_no_url_use_the_default_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUDGECACHE_DIR", str(tmp_path / "default"))
    monkeypatch.delenv("JUDGECACHE_CACHE", raising=False)
    assert default_cache_dir() == tmp_path / "default"
    assert default_cache_url() == f"diskcache://{tmp_path / 'default'}"
    for store in (open_store("diskcache://"), open_store()):
        assert isinstance(store, DiskStore)
        assert store.path == tmp_path / "default"


def test_judgecache_cache_env_picks_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGECACHE_CACHE", "memory://")
    assert isinstance(open_store(), MemoryStore)


def test_size_limit_reaches_diskcache(tmp_path: Path) -> None:
    store = open_store(f"diskcache://{tmp_path}", size_limit=10_000_000)
    assert store.info()["size_limit"] == 10_000_000


@pytest.mark.redis
def test_redis_schemes(redis_server: str) -> None:
    from judgecache.store.redis_store import RedisStore

    store = open_store(redis_server, "url-routing")
    assert isinstance(store, RedisStore)
    assert store.url == redis_server
    store.close()


def test_fallback_wraps_redis_lazily() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = open_store("rediss://:pw@127.0.0.1:1/0", "ns", on_error="fallback")
    assert isinstance(store, FallbackStore)
    assert (store.url, store.namespace, store.degraded) == (
        "rediss://:***@127.0.0.1:1/0",
        "ns",
        False,
    )


@pytest.mark.parametrize(
    "url", ["s3://bucket/cache", "redis:/localhost", "/tmp/cache", "MEMORY://", "disk://x"]
)
def test_unknown_scheme_is_a_config_error_listing_the_valid_ones(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url)
    message = str(caught.value)
    assert repr(url) in message
    for scheme in ("memory://", "diskcache://", "redis://", "rediss://"):
        assert scheme in message


def test_bad_on_error_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'raise' or 'fallback'"):
        open_store("memory://", on_error="ignore")  # type: ignore[arg-type]


@pytest.mark.parametrize("namespace", ["", "a:b", "../up", "a b", "*"])
def test_bad_namespace_is_a_config_error_for_every_scheme(namespace: str) -> None:
    with pytest.raises(ConfigError, match="invalid cache namespace"):
        open_store("memory://", namespace)
    assert check_namespace("prod.v2-x_1") == "prod.v2-x_1"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("rediss://user:p%40ss@h/1?socket_timeout=2", "rediss://user:***@h/1?socket_timeout=2"),
        ("redis://h/0?password=pw&db=1", "redis://h/0?password=***&db=1"),
        ("redis://user@h/0", "redis://user@h/0"),
        ("diskcache:///tmp/x", "diskcache:///tmp/x"),
    ],
)
def test_redact_url_masks_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown
