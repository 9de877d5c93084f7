"""Read labels back out of a cache: the input of distillation and of ``judgecache export``.

Example:
    >>> from judgecache import Judge
    >>> judge = Judge(lambda q, d: 2, name="two", version="1", cache="memory://")
    >>> _ = judge.put("q", "d", 3, meta={"qid": "1"})
    >>> [(r["label"], r["meta"]) for r in iter_labels(judge.store)]
    [(3, {'qid': '1'})]
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

from judgecache.envelope import Envelope
from judgecache.errors import StorageError
from judgecache.store.base import Store

log = logging.getLogger(__name__)


def judge_name(judge: dict[str, str] | Any) -> str:
    """``provider:model`` or ``provider:model@version`` for an identity dict."""
    base = f"{judge['provider']}:{judge['model']}"
    return f"{base}@{judge['version']}" if judge.get("version") else base


def iter_labels(
    store: Store,
    *,
    judge: str | None = None,
    task: str | None = None,
    chunk: int = 1000,
) -> Iterator[dict[str, Any]]:
    """Yield one export row per cached label, optionally only one judge (``provider:model[@v]``).

    Rows: ``key, task, rubric, judge, inputs, label, score, source, created_at, meta``.
    Unreadable entries are skipped with a warning, never exported as labels.
    """
    keys: list[str] = []

    def flush() -> Iterator[dict[str, Any]]:
        for key, raw in zip(keys, store.get_many(keys), strict=True):
            if raw is None:
                continue
            try:
                env = Envelope.from_json(raw)
            except StorageError as exc:
                log.warning("skipping unreadable entry %s: %s", key, exc)
                continue
            if judge is not None and judge_name(env.judge) != judge:
                continue
            if task is not None and env.task != task:
                continue
            yield {
                "key": key,
                "task": env.task,
                "rubric": env.rubric,
                "judge": dict(env.judge),
                "inputs": dict(env.inputs),
                "label": env.label,
                "score": env.score,
                "source": env.source,
                "created_at": env.created_at,
                "meta": dict(env.meta),
            }

    for key in store.keys():
        keys.append(key)
        if len(keys) >= chunk:
            yield from flush()
            keys = []
    if keys:
        yield from flush()


def judge_counts(store: Store) -> Counter[tuple[str, str]]:
    """How many labels each (judge, task) holds in ``store``."""
    counts: Counter[tuple[str, str]] = Counter()
    for row in iter_labels(store):
        counts[(judge_name(row["judge"]), row["task"])] += 1
    return counts
