"""Teacher labels as training data: load, validate (before any training), and split.

Labels come from an export JSONL (what ``judgecache export`` writes), an NLI-style JSONL
(``premise``/``hypothesis``/``label`` rows: faithfulness labels, see :mod:`judgecache.io.nli`) or
straight from a cache URL.
Every problem is reported with its line number and field before a model is even loaded: labels
outside the rubric, empty texts, mixed judge identities, too few examples, a class missing from a
split.

Example:
    >>> rows = [{"task": "relevance", "judge": {"provider": "replay", "model": "t", "version": ""},
    ...          "inputs": {"query": f"q{i % 5}", "doc": f"d{i}"}, "label": i % 4} for i in range(40)]
    >>> ls = labels_from_rows(rows, source="demo")
    >>> len(ls), ls.rubric.name, str(ls.judge)
    (40, 'relevance', 'replay:t')
    >>> splits = split_labels(ls, by="group", fractions={"val": 0.2, "calib": 0.2, "test": 0.2})
    >>> sorted(splits), sum(len(v) for v in splits.values())
    (['calib', 'test', 'train', 'val'], 40)
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from judgecache.errors import ConfigError, DistillationError, InputError, InsufficientDataError
from judgecache.judges.rubric import Rubric, get_rubric
from judgecache.keys import JudgeIdentity
from judgecache.store.url import redact_url

CACHE_SCHEMES = ("memory://", "diskcache://", "redis://", "rediss://")


@dataclass(frozen=True)
class LabeledPair:
    """One teacher label. ``first``/``second`` follow the rubric's fields (query/doc, context/answer).

    ``score`` is the teacher's probability for the positive class when it gave one (soft target).
    """

    first: str
    second: str
    label: int
    score: float | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    line: int | None = None


@dataclass(frozen=True)
class LabelSet:
    """The validated labels of one judge identity on one rubric."""

    pairs: tuple[LabeledPair, ...]
    rubric: Rubric
    judge: JudgeIdentity
    source: str

    def __len__(self) -> int:
        return len(self.pairs)

    def labels(self) -> list[int]:
        return [p.label for p in self.pairs]

    def subset(self, pairs: Iterable[LabeledPair]) -> LabelSet:
        return replace(self, pairs=tuple(pairs))


def protected_field(rubric: Rubric) -> int:
    """Index (0 or 1) of the field that is never truncated: the query, answer or claim.

    >>> protected_field(get_rubric("relevance")), protected_field(get_rubric("faithfulness"))
    (0, 1)
    """
    # The relevance query comes first; the faithfulness answer comes second (context, answer).
    return 1 if rubric.fields[0] in ("context", "source", "document", "doc") else 0


def binary_label(rubric: Rubric, label: int) -> int:
    """The binary view of a label (relevance: grade >= 2).

    >>> binary_label(get_rubric("relevance"), 1), binary_label(get_rubric("relevance"), 3)
    (0, 1)
    """
    return int(rubric.is_positive(label))


def load_labels(
    source: str | Path,
    *,
    task: str | Rubric | None = None,
    judge: str | None = None,
) -> LabelSet:
    """Load labels from an export JSONL path or a cache URL (``memory://``, ``diskcache://``...).

    ``judge`` (``provider:model[@version]``) keeps only that identity; without it the labels must
    all come from one judge. ``task`` defaults to the task of the first row.
    """
    text = str(source)
    if text.startswith(CACHE_SCHEMES):
        from judgecache.export import iter_labels
        from judgecache.store import open_store

        rubric_task = task.task if isinstance(task, Rubric) else task
        store = open_store(text)
        rows: Iterable[tuple[int | None, dict[str, Any]]] = (
            (None, r) for r in iter_labels(store, judge=judge, task=rubric_task)
        )
        # The source is recorded in metrics.json and the model card: never with a password.
        return _from_rows(rows, task=task, judge=judge, source=redact_url(text))
    if not Path(text).is_file():
        raise InputError(f"labels file not found: {text}", field="labels")
    from judgecache.io.jsonl import iter_jsonl

    rows = ((line, nli_as_export(row, line, Path(text).stem)) for line, row in iter_jsonl(text))
    return _from_rows(rows, task=task, judge=judge, source=text)


NLI_META = ("id", "dataset", "domain", "split")
"""NLI row fields kept in the pair's meta (e.g. to split or report by dataset)."""


def nli_as_export(row: dict[str, Any], line: int | None, dataset: str) -> dict[str, Any]:
    """An NLI-style row as an export row (others pass unchanged): faithfulness labels.

    The judge is the row's ``judge`` or ``dataset:<file stem>`` (the labels' author).

    >>> nli_as_export({"premise": "It rained.", "hypothesis": "Wet.", "label": "neutral"}, 1, "snli")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'task': 'faithfulness', 'judge': {'provider': 'dataset', 'model': 'snli', 'version': ''},
     'inputs': {'context': 'It rained.', 'answer': 'Wet.'}, 'label': 0, 'meta': {}}
    """
    from judgecache.io.nli import is_nli_row, nli_label

    if "inputs" in row or not is_nli_row(row):
        return row
    for name in ("premise", "hypothesis"):
        value = row[name]
        if not isinstance(value, str) or not value.strip():
            raise InputError("is missing, empty or not a string", field=name, line=line)
    if "label" not in row:
        raise InputError("is missing", field="label", line=line)
    return {
        "task": row.get("task", "faithfulness"),
        "judge": row.get("judge") or {"provider": "dataset", "model": dataset, "version": ""},
        "inputs": {"context": row["premise"], "answer": row["hypothesis"]},
        "label": nli_label(row["label"], line or 0),
        "meta": {k: str(row[k]) for k in NLI_META if row.get(k) is not None},
    }


def labels_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    task: str | Rubric | None = None,
    judge: str | None = None,
    source: str = "rows",
) -> LabelSet:
    """Validate in-memory export rows (row index + 1 plays the line number)."""
    return _from_rows(
        ((i, dict(r)) for i, r in enumerate(rows, start=1)), task=task, judge=judge, source=source
    )


def _identity(obj: Any, line: int | None) -> JudgeIdentity:
    if not isinstance(obj, Mapping) or "provider" not in obj or "model" not in obj:
        raise InputError("must be an object with provider and model", field="judge", line=line)
    return JudgeIdentity(str(obj["provider"]), str(obj["model"]), str(obj.get("version") or ""))


def _from_rows(
    rows: Iterable[tuple[int | None, dict[str, Any]]],
    *,
    task: str | Rubric | None,
    judge: str | None,
    source: str,
) -> LabelSet:
    rubric: Rubric | None = get_rubric(task) if task is not None else None
    pairs: list[LabeledPair] = []
    identities: Counter[JudgeIdentity] = Counter()
    for line, row in rows:
        ident = _identity(row.get("judge"), line)
        if judge is not None and str(ident) != judge:
            continue
        row_task = row.get("task")
        if rubric is None:
            if not isinstance(row_task, str):
                raise InputError("is missing (or pass task=)", field="task", line=line)
            rubric = get_rubric(row.get("rubric") or row_task)
        elif row_task is not None and row_task != rubric.task:
            raise InputError(
                f"task {row_task!r} does not match the rubric's task {rubric.task!r}",
                field="task",
                line=line,
            )
        identities[ident] += 1
        pairs.append(_pair(row, rubric, line))
    if len(identities) > 1:
        listed = ", ".join(f"{i} ({n})" for i, n in identities.most_common())
        raise DistillationError(
            f"{source}: labels come from {len(identities)} judge identities: {listed}; "
            "distill one teacher at a time (pass judge=provider:model[@version])"
        )
    if not pairs or rubric is None:
        wanted = f" of judge {judge}" if judge else ""
        raise InsufficientDataError(f"{source}: no labels{wanted} found")
    return LabelSet(tuple(pairs), rubric, next(iter(identities)), source)


def _pair(row: Mapping[str, Any], rubric: Rubric, line: int | None) -> LabeledPair:
    inputs = row.get("inputs")
    if not isinstance(inputs, Mapping):
        raise InputError(f"must be an object with {list(rubric.fields)}", field="inputs", line=line)
    texts: list[str] = []
    for name in rubric.fields:
        value = inputs.get(name)
        if not isinstance(value, str):
            raise InputError("is missing or not a string", field=f"inputs.{name}", line=line)
        if not value.strip():
            raise InputError("is empty", field=f"inputs.{name}", line=line)
        texts.append(value)
    raw_label = row.get("label")
    try:
        label = rubric.coerce_label(raw_label)
    except ValueError as exc:
        raise InputError(
            f"{raw_label!r} is outside the rubric {rubric.name!r}; allowed labels: "
            f"{list(rubric.labels)}",
            field="label",
            line=line,
        ) from exc
    if not isinstance(label, int):
        raise InputError(
            f"distillation needs integer labels, got {label!r}", field="label", line=line
        )
    score = row.get("score")
    soft: float | None = None
    if score is not None and not rubric.graded:
        if (
            isinstance(score, bool)
            or not isinstance(score, int | float)
            or not math.isfinite(score)
        ):
            raise InputError(f"must be a probability, got {score!r}", field="score", line=line)
        if not 0.0 <= float(score) <= 1.0:
            raise InputError(
                f"must be a probability in [0, 1], got {score!r}", field="score", line=line
            )
        soft = float(score)
    meta = row.get("meta") or {}
    if not isinstance(meta, Mapping):
        raise InputError("must be an object", field="meta", line=line)
    return LabeledPair(
        texts[0], texts[1], label, soft, {str(k): str(v) for k, v in meta.items()}, line
    )


def group_of(pair: LabeledPair, rubric: Rubric, group_field: str = "auto") -> str:
    """The split group of a pair: its query (relevance) or source context (faithfulness) by default.

    >>> group_of(LabeledPair("q", "d", 1, meta={"qid": "7"}), get_rubric("relevance"), "meta.qid")
    '7'
    """
    if group_field == "auto":
        return pair.second if protected_field(rubric) == 1 else pair.first
    if group_field.startswith("meta."):
        name = group_field[5:]
        if name not in pair.meta:
            raise InputError(f"has no meta.{name} to group by", field="meta", line=pair.line)
        return pair.meta[name]
    if group_field in rubric.fields:
        return pair.first if rubric.fields.index(group_field) == 0 else pair.second
    raise DistillationError(
        f"split.group_field {group_field!r} must be 'auto', 'meta.<name>' or one of "
        f"{list(rubric.fields)}"
    )


def _deal(keys: Sequence[Any], fractions: Mapping[str, float]) -> dict[Any, str]:
    # Largest-deficit dealing over an already stratum-ordered list: every stratum, and the whole,
    # gets each split's share to within one item.
    names = list(fractions)
    assigned = dict.fromkeys(names, 0)
    out: dict[Any, str] = {}
    for i, key in enumerate(keys, start=1):
        best = max(names, key=lambda n: (fractions[n] * i - assigned[n], fractions[n]))
        assigned[best] += 1
        out[key] = best
    return out


def split_labels(
    labels: LabelSet,
    *,
    by: str = "group",
    fractions: Mapping[str, float] | None = None,
    seed: int = 13,
    group_field: str = "auto",
    test_seen: float = 0.0,
) -> dict[str, LabelSet]:
    """Split into ``train`` plus the named held-out parts (default val/calib/test), seeded.

    ``by="group"`` keeps each group (query or source) in one split, groups stratified by their
    positive rate; ``by="pair"`` stratifies single pairs by label. ``test_seen`` then moves that
    fraction of the training pairs (stratified by label) to ``test_seen``: unseen documents of
    seen queries.
    """
    fractions = dict(fractions or {"val": 0.1, "calib": 0.15, "test": 0.15})
    fractions = {k: v for k, v in fractions.items() if v > 0}
    fractions["train"] = 1.0 - sum(fractions.values())
    if fractions["train"] <= 0:
        raise DistillationError(f"split fractions leave nothing to train on: {fractions}")
    rng = random.Random(seed)
    rubric = labels.rubric
    if by == "group":
        groups: dict[str, list[LabeledPair]] = defaultdict(list)
        for p in labels.pairs:
            groups[group_of(p, rubric, group_field)].append(p)
        names = sorted(groups)
        rng.shuffle(names)
        # Stratify groups by positive rate so every split sees easy and hard queries alike.
        rate = {
            g: sum(binary_label(rubric, p.label) for p in groups[g]) / len(groups[g]) for g in names
        }
        names.sort(key=lambda g: rate[g])
        where = _deal(names, fractions)
        parts: dict[str, list[LabeledPair]] = defaultdict(list)
        for p in labels.pairs:
            parts[where[group_of(p, rubric, group_field)]].append(p)
    elif by == "pair":
        parts = defaultdict(list)
        parts.update(_stratified_pairs(list(labels.pairs), fractions, rng))
    else:
        raise DistillationError(f"split.by must be 'group' or 'pair', got {by!r}")
    if test_seen > 0:
        moved = _stratified_pairs(
            parts["train"], {"test_seen": test_seen, "train": 1 - test_seen}, rng
        )
        parts["train"], parts["test_seen"] = moved.get("train", []), moved.get("test_seen", [])
    return {
        name: labels.subset(parts.get(name, []))
        for name in [*fractions, *(["test_seen"] if test_seen > 0 else [])]
    }


def with_training_extra(
    splits: Mapping[str, LabelSet], extra: LabelSet, *, by: str = "group", group_field: str = "auto"
) -> LabelSet:
    """The ``train`` split plus ``extra`` labels, which must come from the same teacher on the same
    rubric (a student learns one teacher). Extra pairs that a split already holds, or (split by
    group) whose group a held-out split holds, are left out: a held-out query stays unseen.

    >>> from judgecache.keys import JudgeIdentity
    >>> def part(*pairs):
    ...     rows = tuple(LabeledPair(q, d, 1) for q, d in pairs)
    ...     return LabelSet(rows, get_rubric("relevance"), JudgeIdentity("replay", "t", ""), "x")
    >>> splits = {"train": part(("q1", "a")), "test": part(("q2", "b"))}
    >>> extra = part(("q1", "c"), ("q2", "d"), ("q3", "e"), ("q1", "a"))
    >>> [(p.first, p.second) for p in with_training_extra(splits, extra).pairs]
    [('q1', 'a'), ('q1', 'c'), ('q3', 'e')]
    """
    train = splits["train"]
    if extra.judge != train.judge:
        raise ConfigError(
            f"train_extra {extra.source} holds labels of {extra.judge}, but labels are of "
            f"{train.judge}: a student learns one teacher (set judge: to pick one)"
        )
    if extra.rubric.name != train.rubric.name:
        raise ConfigError(
            f"train_extra {extra.source} is for rubric {extra.rubric.name!r}, "
            f"labels for {train.rubric.name!r}"
        )
    have = {(p.first, p.second) for part in splits.values() for p in part.pairs}
    held = {
        group_of(p, train.rubric, group_field)
        for name, part in splits.items()
        if name != "train" and by == "group"
        for p in part.pairs
    }
    kept = [
        p
        for p in extra.pairs
        if (p.first, p.second) not in have and group_of(p, train.rubric, group_field) not in held
    ]
    return train.subset([*train.pairs, *kept])


def _stratified_pairs(
    pairs: list[LabeledPair], fractions: Mapping[str, float], rng: random.Random
) -> dict[str, list[LabeledPair]]:
    idx = list(range(len(pairs)))
    rng.shuffle(idx)
    idx.sort(key=lambda i: pairs[i].label)
    where = _deal(idx, fractions)
    out: dict[str, list[LabeledPair]] = defaultdict(list)
    for i in sorted(idx):
        out[where[i]].append(pairs[i])
    return out


def check_splits(splits: Mapping[str, LabelSet], *, binary: bool, min_examples: int) -> None:
    """Refuse before training: too few examples, or a class missing from a split.

    Training needs every label of the target (every grade when graded); each held-out split needs
    both binary classes, or agreement, calibration and thresholds are undefined.
    """
    train = splits["train"]
    total = sum(len(s) for s in splits.values())
    if total < min_examples:
        raise InsufficientDataError(
            f"{total} labelled examples; distillation needs at least {min_examples} "
            "(split.min_examples)"
        )
    rubric = train.rubric
    wanted_train = [0, 1] if binary else [int(x) for x in rubric.labels]
    for name, part in splits.items():
        if len(part) == 0:
            raise InsufficientDataError(
                f"split {name!r} is empty; lower its fraction or add labels"
            )
        seen = Counter(binary_label(rubric, p.label) if binary else p.label for p in part.pairs)
        wanted = wanted_train if name == "train" else [0, 1]
        if name != "train" and not binary:
            seen = Counter(binary_label(rubric, p.label) for p in part.pairs)
        missing = [c for c in wanted if seen[c] == 0]
        if missing:
            view = "binary " if binary or name != "train" else ""
            raise InsufficientDataError(
                f"split {name!r} ({len(part)} examples) has no {view}examples of class "
                f"{missing}; counts: {dict(sorted(seen.items()))}"
            )
