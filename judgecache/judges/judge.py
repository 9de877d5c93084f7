"""The drop-in judge client: a teacher behind a content-addressed cache.

Every request is keyed on (judge identity, prompt and rubric, output-affecting parameters, task
inputs). A hit costs a read; a miss makes exactly one teacher call however many threads, tasks,
processes or machines ask for the same pair at once, and the answer is stored for everyone.

Example:
    >>> from judgecache import Judge
    >>> judge = Judge(lambda q, d: 3 if q in d else 0, name="contains", version="1",
    ...               task="relevance", cache="memory://")
    >>> v = judge.score("tea", "tea is a drink")
    >>> v.label, v.cached, judge.score("tea", "tea is a drink").cached
    (3, False, True)
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from judgecache.envelope import Envelope, decode_hit
from judgecache.errors import (
    BudgetExceededError,
    ConfigError,
    JudgecacheError,
    StorageError,
    VerdictParseError,
)
from judgecache.judges.budget import Budget
from judgecache.judges.miss import MissPath, decode_entry, run_async, run_sync
from judgecache.judges.retry import RetryPolicy
from judgecache.judges.rubric import Rubric, get_rubric
from judgecache.judges.singleflight import owner_id
from judgecache.judges.teacher import Teacher
from judgecache.judges.verdict import Verdict, verdict_of
from judgecache.keys import KeyBuilder, KeyMaterial, filter_params
from judgecache.ledger import Ledger
from judgecache.store import open_store
from judgecache.store.base import Store
from judgecache.store.url import OnError

log = logging.getLogger(__name__)

Pair = tuple[str, str]
Progress = Callable[[int], None]


class ScoredSink(Protocol):
    """Where a judge reports what it scored (the drift checker's production log)."""

    def record_scored(
        self,
        judge: Judge,
        inputs: Sequence[Mapping[str, str]],
        verdicts: Sequence[Verdict],
        tag: str | None,
    ) -> None: ...


class Judge:
    """A teacher (API model, callable, replayed labels or distilled student) behind the cache.

    Args:
        teacher: a spec such as ``"openai:gpt-4o-mini"``, a :class:`Teacher`, or any callable
            ``(first, second) -> number | label | dict`` (then ``name`` is required).
        task: ``"relevance"`` (query, doc; grades 0-3), ``"faithfulness"`` (context, answer;
            0/1), a YAML rubric path, or a :class:`Rubric`.
        cache: a backend URL (``memory://``, ``diskcache://PATH``, ``redis://...``) or a
            :class:`Store`; default ``$JUDGECACHE_CACHE`` or diskcache in the user cache dir.
        name, version: the identity of a callable teacher (part of the key).
        options: keyword options passed to the teacher built from a spec (``temperature``,
            ``base_url``, ``api_key_env``...).
        concurrency: teacher calls in flight at once on a miss.
        max_retries: retries on 429 / 5xx / timeouts (exponential backoff, Retry-After honoured).
        pair_deadline_s: no pair retries past this many seconds from its first try (a huge
            Retry-After fails the pair instead of stalling the run); ``None``: no deadline.
        max_calls, max_cost_usd: the per-run budget; when spent, judging stops with
            :class:`BudgetExceededError` and everything finished is already stored.
        tag: who asked (an eval or dashboard name) for the cost ledger.
        on_storage_error: ``"raise"``, or ``"fallback"`` to warn and use the local cache when a
            remote cache is unreachable.
        lease_ttl_s: how long a cross-process lease outlives its holder: the holder renews it
            while its call runs, so after a crash the others take over within this time.
        price_model: a priced model (e.g. ``"gpt-4o"``) used to estimate the dollars a hit saved
            when the cached entry carries no cost of its own (labels imported from files).
        production_log: where scored pairs are recorded for the drift checker.
    """

    def __init__(
        self,
        teacher: str | Teacher | Callable[..., Any],
        *,
        task: str | Rubric = "relevance",
        cache: str | Store | None = None,
        name: str | None = None,
        version: str = "",
        options: Mapping[str, Any] | None = None,
        concurrency: int = 8,
        max_retries: int = 5,
        max_calls: int | None = None,
        max_cost_usd: float | None = None,
        tag: str | None = None,
        on_storage_error: OnError = "raise",
        lease_ttl_s: float = 30.0,
        price_model: str | None = None,
        production_log: ScoredSink | None = None,
        batch_size: int = 64,
        pair_deadline_s: float | None = 300.0,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        self.rubric = get_rubric(task)
        # The store first: a bad cache URL or an unreachable server is reported at once, not
        # after a local teacher has spent many seconds loading its weights.
        self.store = (
            cache if isinstance(cache, Store) else open_store(cache, on_error=on_storage_error)
        )
        try:
            self.teacher = _make_teacher(teacher, name=name, version=version, options=options or {})
        except BaseException:
            if not isinstance(cache, Store):
                self.store.close()  # we opened it; the caller never sees this Judge
            raise
        self.ledger = Ledger(self.store)
        if pair_deadline_s is not None and not pair_deadline_s > 0:
            raise ConfigError(f"pair_deadline_s must be > 0 seconds, got {pair_deadline_s!r}")
        self.retry = RetryPolicy(max_retries=max_retries, deadline_s=pair_deadline_s)
        self.budget = Budget(max_calls=max_calls, max_cost_usd=max_cost_usd)
        self.concurrency = concurrency
        self.tag = tag
        self.lease_ttl_s = lease_ttl_s
        self.price_model = price_model
        self.production_log = production_log
        self.batch_size = batch_size
        self.name = str(self.teacher.identity)
        self._prompt = self.teacher.prompt_material(self.rubric)
        self._params = filter_params(self.teacher.key_params())
        self._keys = KeyBuilder(self.teacher.identity, self._prompt, self._params)
        self._pair_keys = self._keys.pair_keys(self.rubric.fields)
        self._owner = owner_id()
        self._miss = MissPath(
            name=self.name,
            teacher=self.teacher,
            rubric=self.rubric,
            store=self.store,
            ledger=self.ledger,
            budget=self.budget,
            retry=self.retry,
            owner=self._owner,
            lease_ttl_s=lease_ttl_s,
        )
        self._prices: Any = None
        self._prompt_chars: _PromptLength | None = None

    # ----------------------------------------------------------------- keys and direct access

    def key_material(self, first: object, second: object) -> KeyMaterial:
        """Everything the key of this pair is made of (compare two to see why a lookup missed)."""
        inputs = self.rubric.inputs(first, second)
        return KeyMaterial(self.teacher.identity, self._prompt, self._params, inputs)

    def key(self, first: object, second: object) -> str:
        """The cache key of this pair under this judge."""
        return self._keys.digest(self._keys.normalize(self.rubric.inputs(first, second)))

    def lookup(self, first: object, second: object) -> Verdict | None:
        """The cached verdict of this pair, or ``None``; never calls the teacher."""
        key = self.key(first, second)
        raw = self.store.get(key)
        return (
            None
            if raw is None
            else Verdict.from_envelope(Envelope.from_json(raw), key=key, cached=True)
        )

    def put(
        self,
        first: object,
        second: object,
        label: object,
        *,
        score: float | None = None,
        reason: str | None = None,
        meta: Mapping[str, str] | None = None,
        source: str = "import",
    ) -> str:
        """Store a label already paid for (e.g. from qrels) under this judge; return its key."""
        key, value = self._import_entry(first, second, label, score, reason, meta, source)
        self.store.set(key, value)
        return key

    def put_many(
        self, records: Iterable[tuple[object, object, object, Mapping[str, str] | None]]
    ) -> int:
        """Seed many ``(first, second, label, meta)`` records with pipelined writes."""
        batch: dict[str, str] = {}
        n = 0
        for first, second, label, meta in records:
            key, value = self._import_entry(first, second, label, None, None, meta, "import")
            batch[key] = value
            n += 1
            if len(batch) >= 1000:
                self.store.set_many(batch)
                batch = {}
        if batch:
            self.store.set_many(batch)
        return n

    def _import_entry(
        self,
        first: object,
        second: object,
        label: object,
        score: float | None,
        reason: str | None,
        meta: Mapping[str, str] | None,
        source: str,
    ) -> tuple[str, str]:
        inputs = self._keys.normalize(self.rubric.inputs(first, second))
        try:
            coerced = self.rubric.coerce_label(label)
        except ValueError as exc:
            raise VerdictParseError(str(exc), raw_output=str(label)) from exc
        env = Envelope(
            label=coerced,
            score=score,
            raw_output=str(label),
            task=self.rubric.task,
            rubric=self.rubric.name,
            judge=self.teacher.identity.as_dict(),
            inputs=inputs,
            reason=reason,
            source=source,
            meta=dict(meta or {}),
        )
        return self._keys.digest(inputs), env.to_json()

    # ----------------------------------------------------------------------- synchronous API

    def score(self, first: object, second: object, *, tag: str | None = None) -> Verdict:
        """Judge one pair (a cache hit, or exactly one teacher call)."""
        return self.score_many([(first, second)], tag=tag)[0]  # type: ignore[list-item]

    def score_many(
        self, pairs: Iterable[Pair], *, tag: str | None = None, progress: Progress | None = None
    ) -> list[Verdict]:
        """Judge pairs in order; duplicates are judged once; hits are read in one batch.

        When a pair fails (after retries) or the budget runs out, the other pairs still finish and
        are stored before the first error is raised, so a rerun pays only for what is missing.
        """
        results = self.score_many_settled(pairs, tag=tag, progress=progress)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            done = len(results) - len(errors)
            first = next((e for e in errors if isinstance(e, BudgetExceededError)), errors[0])
            first.add_note(f"{done} of {len(results)} pairs judged and stored; rerun to finish")
            raise first
        return results  # type: ignore[return-value]

    def score_many_settled(
        self, pairs: Iterable[Pair], *, tag: str | None = None, progress: Progress | None = None
    ) -> list[Verdict | JudgecacheError]:
        """Like :meth:`score_many`, but a failed pair yields its error in place of a verdict."""
        tag = tag or self.tag
        keys, unique = self._dedupe(pairs)
        found, hit_counts = self._read_hits(unique)
        if progress is not None and found:
            progress(sum(1 for key in keys if key in found))
        if len(found) < len(unique):
            missing = {k: v for k, v in unique.items() if k not in found}
            found.update(self._resolve_misses(missing, tag, self._miss_progress(keys, progress)))
        return self._settle(keys, unique, found, tag, hit_counts)

    @staticmethod
    def _miss_progress(keys: list[str], progress: Progress | None) -> Callable[[str], None] | None:
        """Advance ``progress`` by every copy of a judged key (counted only when someone looks)."""
        if progress is None:
            return None
        counts = Counter(keys)
        return lambda key: progress(counts[key])

    def iter_score(
        self,
        pairs: Iterable[Pair],
        *,
        tag: str | None = None,
        chunk_size: int = 1024,
        progress: Progress | None = None,
    ) -> Iterator[Verdict | JudgecacheError]:
        """Stream verdicts for a long (or endless) iterable in chunks: memory stays flat."""
        chunk: list[Pair] = []
        for pair in pairs:
            chunk.append(pair)
            if len(chunk) >= chunk_size:
                yield from self.score_many_settled(chunk, tag=tag, progress=progress)
                chunk = []
        if chunk:
            yield from self.score_many_settled(chunk, tag=tag, progress=progress)

    # --------------------------------------------------------------------------- async API

    async def ascore(self, first: object, second: object, *, tag: str | None = None) -> Verdict:
        """Async :meth:`score`."""
        return (await self.ascore_many([(first, second)], tag=tag))[0]  # type: ignore[list-item]

    async def ascore_many(self, pairs: Iterable[Pair], *, tag: str | None = None) -> list[Verdict]:
        """Async :meth:`score_many`: misses run as tasks under a concurrency semaphore."""
        results = await self.ascore_many_settled(pairs, tag=tag)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return results  # type: ignore[return-value]

    async def ascore_many_settled(
        self, pairs: Iterable[Pair], *, tag: str | None = None
    ) -> list[Verdict | JudgecacheError]:
        """Async :meth:`score_many_settled`."""
        tag = tag or self.tag
        keys, unique = self._dedupe(pairs)
        found, hit_counts = await asyncio.to_thread(self._read_hits, unique)
        if len(found) < len(unique):
            missing = {k: v for k, v in unique.items() if k not in found}
            found.update(await self._aresolve_misses(missing, tag))
        return self._settle(keys, unique, found, tag, hit_counts)

    # ------------------------------------------------------------------------------ internals

    def _settle(
        self,
        keys: list[str],
        unique: Mapping[str, dict[str, str]],
        found: Mapping[str, Verdict | JudgecacheError],
        tag: str | None,
        hit_counts: Mapping[str, float],
    ) -> list[Verdict | JudgecacheError]:
        """Results in request order; repeats of a pair in one batch count as coalesced.

        The batch's requests and hits are counted in one ledger write (one round trip).
        """
        out = [found[key] for key in keys]
        repeats = len(keys) - len(unique)
        self.ledger.record(self.name, tag, requests=len(keys), coalesced=repeats, **hit_counts)
        self._report_scored(keys, unique, out, tag)
        return out

    def _dedupe(self, pairs: Iterable[Pair]) -> tuple[list[str], dict[str, dict[str, str]]]:
        """The key of every pair (in order) and the unique keys with their inputs.

        Two flat containers, not a list of (key, inputs) tuples: a tuple holding a dict stays
        tracked by the cyclic GC, and 10,000 of them alive through a batch set off a full
        collection of the process. Odd pairs take :meth:`_prepare`, which names what is wrong.
        """
        return self._pair_keys(pairs, self._prepare)

    def _prepare(self, index: int, pair: object) -> tuple[str, dict[str, str]]:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ConfigError(f"pair {index}: expected a ({', '.join(self.rubric.fields)}) pair")
        try:
            inputs = self._keys.normalize(self.rubric.inputs(pair[0], pair[1]))
        except JudgecacheError as exc:
            exc.add_note(f"in pair {index}")
            raise
        return self._keys.digest(inputs), inputs

    def _read_hits(
        self, unique: Mapping[str, Mapping[str, str]]
    ) -> tuple[dict[str, Verdict | JudgecacheError], dict[str, float]]:
        """Cached verdicts; a read that fails settles its own pair, an unreadable entry is a miss."""
        found: dict[str, Verdict | JudgecacheError] = {}
        saved = 0.0
        hits = 0
        priced = self.price_model is not None
        judge = self.teacher.identity.as_dict()  # the key's own: every hit of the batch shares it
        for key, raw in self._get_each(list(unique)):
            if raw is None:
                continue
            if isinstance(raw, StorageError):
                found[key] = raw
                continue
            # A hit carries the inputs and judge its key was built from; decode_entry reads the
            # entry in full when it is not as judgecache writes it (and names what is wrong).
            env = decode_hit(raw, unique[key], judge) or decode_entry(key, raw)
            if env is None:
                self._miss.note_corrupt(key)
                continue
            found[key] = verdict_of(env, key, True)
            if env.cost_usd > 0 or priced:
                saved += self._saved_by_hit(env)
            hits += 1
        return found, {"hits": hits, "saved_usd": saved}

    def _get_each(self, keys: list[str]) -> Iterable[tuple[str, str | bytes | StorageError | None]]:
        """One batched read; if it fails, one read per key so a failure stays with its key."""
        try:
            # A zip, not a list of pairs: iterated at once, it reuses one tuple for every pair.
            return zip(keys, self.store.read_many(keys), strict=True)
        except StorageError:
            pass
        out: list[tuple[str, str | bytes | StorageError | None]] = []
        for key in keys:
            try:
                out.append((key, self.store.get(key)))
            except StorageError as exc:
                exc.add_note(f"reading cache key {key}")
                out.append((key, exc))
        return out

    def _resolve_misses(
        self,
        missing: Mapping[str, dict[str, str]],
        tag: str | None,
        step: Callable[[str], None] | None,
    ) -> dict[str, Verdict | JudgecacheError]:
        if self.teacher.batched:
            return self._miss.batched(missing, tag, self.batch_size, step)
        out: dict[str, Verdict | JudgecacheError] = {}

        def run(key: str) -> None:
            try:
                out[key] = run_sync(self._miss, self._miss.steps(key, missing[key], tag))
            except JudgecacheError as exc:
                out[key] = exc
            if step is not None:
                step(key)

        workers = min(self.concurrency, len(missing))
        if workers == 1:
            for key in missing:
                run(key)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judgecache") as pool:
                list(pool.map(run, missing))
        return out

    async def _aresolve_misses(
        self, missing: Mapping[str, dict[str, str]], tag: str | None
    ) -> dict[str, Verdict | JudgecacheError]:
        if self.teacher.batched:
            return await asyncio.to_thread(self._miss.batched, missing, tag, self.batch_size, None)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(key: str) -> Verdict | JudgecacheError:
            async with gate:
                try:
                    return await run_async(self._miss, self._miss.steps(key, missing[key], tag))
                except JudgecacheError as exc:
                    return exc

        answers = await asyncio.gather(*(one(k) for k in missing))
        return dict(zip(missing, answers, strict=True))

    def _saved_by_hit(self, env: Envelope) -> float:
        if env.cost_usd > 0:
            return env.cost_usd
        if self.price_model is None:
            return 0.0
        if self._prices is None:
            from judgecache.prices import PriceTable

            self._prices = PriceTable.load()
        if self._prompt_chars is None:
            self._prompt_chars = _PromptLength(self.rubric)
        # Labels imported from files carry no usage: estimate it from the prompt's length.
        chars = self._prompt_chars(env.inputs)
        return float(self._prices.estimate_chars_cost(self.price_model, chars))

    def _report_scored(
        self,
        keys: Sequence[str],
        unique: Mapping[str, dict[str, str]],
        results: Sequence[Verdict | JudgecacheError],
        tag: str | None,
    ) -> None:
        if self.production_log is None:
            return
        ok = [(unique[k], v) for k, v in zip(keys, results, strict=True) if isinstance(v, Verdict)]
        if ok:
            self.production_log.record_scored(self, [inp for inp, _ in ok], [v for _, v in ok], tag)

    def close(self) -> None:
        """Close the teacher's client and the cache backend."""
        self._miss.leases.close()
        self.teacher.close()
        self.store.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Judge({self.name!r}, task={self.rubric.name!r}, cache={self.store.url!r})"


class _PromptLength:
    """The length of a rubric's full prompt (system + rendered template) for given inputs, without
    rendering it: a constant for the template plus each input's length times its occurrences.

    >>> from judgecache.judges.rubric import RELEVANCE
    >>> inputs = {"query": "tea", "doc": "tea is a drink"}
    >>> _PromptLength(RELEVANCE)(inputs) == len(RELEVANCE.system + RELEVANCE.render(inputs))
    True
    """

    def __init__(self, rubric: Rubric) -> None:
        empty = dict.fromkeys(rubric.fields, "")
        self.base = len(rubric.system) + len(rubric.render(empty))
        self.times = {
            f: len(rubric.render({**empty, f: "x"})) - len(rubric.render(empty))
            for f in rubric.fields
        }

    def __call__(self, inputs: Mapping[str, str]) -> int:
        return self.base + sum(n * len(inputs.get(f, "")) for f, n in self.times.items())


def _make_teacher(
    teacher: str | Teacher | Callable[..., Any],
    *,
    name: str | None,
    version: str,
    options: Mapping[str, Any],
) -> Teacher:
    if isinstance(teacher, Teacher):
        return teacher
    if isinstance(teacher, str):
        from judgecache.judges.spec import teacher_from_spec

        return teacher_from_spec(teacher, **options)
    if callable(teacher):
        if not name:
            raise ConfigError(
                "a callable judge needs name= (and version=): they are part of the key"
            )
        from judgecache.judges.teachers.callable import CallableTeacher

        return CallableTeacher(teacher, name=name, version=version, **options)
    raise ConfigError(f"teacher must be a spec string, a Teacher or a callable, got {teacher!r}")
