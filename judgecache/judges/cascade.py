"""The cascade judge: the student answers first, the teacher (through the cache) only when in doubt.

Every pair is scored by the student in one batched pass. Pairs whose calibrated probability falls
in the uncertain :class:`~judgecache.cascade.band.Band` are *escalated*: judged by the teacher
through its own cached :class:`~judgecache.judges.judge.Judge`, so an escalation is paid for once
(single-flighted across threads, processes and machines) and a rerun makes no teacher call. All
other pairs are *kept*: the student's decision stands.

The answer's ``label`` is the routed decision, its ``score`` is always the student's calibrated
probability (what the drift checker stratifies on), and ``meta`` records the route and both
judges' answers (``route``, ``student_probability``, ``student_label``, ``teacher_label``,
``teacher_score``, ``teacher_cached``, ``band``), which a production log reads. The identity is
``cascade:<student>><teacher>@<band digest>``, so choosing a new band changes every cache key.

Spec: ``cascade:student:PATH>openai:gpt-4o`` (the band is read from ``PATH/cascade.json``, or
given with the ``band`` option).

Example:
    >>> from judgecache import Judge
    >>> from judgecache.cascade.band import Band
    >>> from judgecache.judges.teachers.callable import CallableTeacher
    >>> student = CallableTeacher(lambda q, d: {"score": 0.9 if q in d else 0.5},
    ...                           name="student", version="1")
    >>> teacher = Judge(lambda q, d: 0, name="teacher", version="1", cache="memory://")
    >>> cascade = Judge(CascadeTeacher(student, teacher, Band(0.3, 0.7)), cache="memory://")
    >>> kept, escalated = cascade.score_many([("tea", "tea is a drink"), ("tea", "coffee")])
    >>> kept.envelope.meta["route"], escalated.envelope.meta["route"], escalated.label
    ('kept', 'escalated', 0)
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from judgecache.cascade.band import Band
from judgecache.cascade.record import load_selection
from judgecache.cascade.selection import BandSelection
from judgecache.envelope import Label, Usage
from judgecache.errors import ConfigError, JudgecacheError, VerdictParseError
from judgecache.judges.judge import Judge
from judgecache.judges.rubric import Rubric, get_rubric
from judgecache.judges.teacher import BatchTeacher, Teacher, TeacherAnswer
from judgecache.judges.verdict import Verdict
from judgecache.keys import JudgeIdentity, filter_params
from judgecache.store.base import Store

ROUTE_KEPT = "kept"
ROUTE_ESCALATED = "escalated"
SPEC_OPTIONS = ("band", "task", "teacher_cache", "teacher_options", "student_options", "tag")

StudentResult = tuple[Label, float, str] | BaseException


def _same_task(a: Rubric, b: Rubric) -> bool:
    return (a.task, tuple(a.fields), tuple(a.labels)) == (b.task, tuple(b.fields), tuple(b.labels))


class CascadeTeacher(BatchTeacher):
    """A student and a cached teacher behind one Teacher API (see the module doc).

    Args:
        student: a Teacher (or a Judge, to cache the student's own answers too) whose answer
            ``score`` is the calibrated probability of the positive class.
        teacher: a Judge (its cache takes the escalations), or a Teacher / spec string, which is
            wrapped in a Judge on ``teacher_cache`` (default: the default cache).
        band: the uncertain band, or a :class:`BandSelection` (its band is used).
        task: the task of the teacher Judge built here; ignored when ``teacher`` is a Judge.
        tag: the ledger tag of escalated teacher calls.
    """

    def __init__(
        self,
        student: Teacher | Judge,
        teacher: Judge | Teacher | str,
        band: Band | BandSelection,
        *,
        task: str | Rubric = "relevance",
        teacher_cache: str | Store | None = None,
        teacher_options: Mapping[str, Any] | None = None,
        tag: str | None = None,
    ) -> None:
        if not isinstance(student, Teacher | Judge):
            raise ConfigError(f"the cascade student must be a Teacher or a Judge, got {student!r}")
        self.selection = band if isinstance(band, BandSelection) else None
        self.band = band.band if isinstance(band, BandSelection) else band
        if not isinstance(self.band, Band):
            raise ConfigError(f"band must be a Band or a BandSelection, got {band!r}")
        self._owns_teacher = not isinstance(teacher, Judge)
        self._owns_student = False  # set by cascade_from_spec, which builds the student itself
        if isinstance(teacher, Judge):
            self.teacher_judge = teacher
        elif isinstance(teacher, Teacher | str):
            self.teacher_judge = Judge(
                teacher, task=get_rubric(task), cache=teacher_cache, options=teacher_options
            )
        else:
            raise ConfigError(
                f"the cascade teacher must be a Judge, Teacher or spec, got {teacher!r}"
            )
        self.student = student
        self.tag = tag
        student_id = student.name if isinstance(student, Judge) else str(student.identity)
        self.identity = JudgeIdentity(
            "cascade", f"{student_id}>{self.teacher_judge.name}", self.band.digest()
        )
        self._lock = threading.Lock()
        self._counts = {
            "scored": 0,
            "kept": 0,
            "escalated": 0,
            "teacher_calls": 0,
            "teacher_cached": 0,
            "errors": 0,
        }
        self._teacher_cost = 0.0

    # -------------------------------------------------------------------------- Teacher API

    def prompt_material(self, rubric: Rubric) -> dict[str, Any]:
        """Both judges' key material: a new teacher prompt or student task changes the key."""
        self._check(rubric)
        student_prompt = (
            self.student.teacher.prompt_material(self.student.rubric)
            if isinstance(self.student, Judge)
            else self.student.prompt_material(rubric)
        )
        tj = self.teacher_judge
        return {
            "rubric": rubric.name,
            "task": rubric.task,
            "fields": list(rubric.fields),
            "labels": list(rubric.labels),
            "student": student_prompt,
            "teacher": {
                "prompt": tj.teacher.prompt_material(tj.rubric),
                "params": filter_params(tj.teacher.key_params()),
            },
            "band": self.band.to_dict(),
        }

    def judge_batch(
        self, rubric: Rubric, batch: Sequence[Mapping[str, str]]
    ) -> list[TeacherAnswer | BaseException]:
        """Student on the whole batch; the teacher Judge on the pairs inside the band."""
        self._check(rubric)
        students = self._student_answers(rubric, batch)
        escalate = [
            i
            for i, result in enumerate(students)
            if not isinstance(result, BaseException) and self.band.escalates(result[1])
        ]
        a, b = rubric.fields
        pairs = [(batch[i][a], batch[i][b]) for i in escalate]
        verdicts = self.teacher_judge.score_many_settled(pairs, tag=self.tag) if pairs else []
        teacher_by_index = dict(zip(escalate, verdicts, strict=True))
        out: list[TeacherAnswer | BaseException] = []
        counts = dict.fromkeys(self._counts, 0)
        cost = 0.0
        for i, result in enumerate(students):
            verdict = teacher_by_index.get(i)
            if isinstance(result, BaseException):
                counts["errors"] += 1
                out.append(result)
                continue
            if isinstance(verdict, JudgecacheError):
                counts["errors"] += 1
                out.append(verdict)
                continue
            counts["scored"] += 1
            if verdict is None:
                counts["kept"] += 1
                out.append(self._kept(result))
                continue
            counts["escalated"] += 1
            counts["teacher_cached" if verdict.cached else "teacher_calls"] += 1
            cost += 0.0 if verdict.cached else verdict.cost_usd
            out.append(self._escalated(result, verdict))
        with self._lock:
            for k, v in counts.items():
                self._counts[k] += v
            self._teacher_cost += cost
        return out

    # ---------------------------------------------------------------------------- internals

    def _check(self, rubric: Rubric) -> None:
        if not _same_task(rubric, self.teacher_judge.rubric):
            raise ConfigError(
                f"cascade {self.identity}: the teacher judges task {self.teacher_judge.rubric.task!r} "
                f"(labels {list(self.teacher_judge.rubric.labels)}), not {rubric.task!r} "
                f"(labels {list(rubric.labels)})"
            )
        if isinstance(self.student, Judge) and not _same_task(rubric, self.student.rubric):
            raise ConfigError(
                f"cascade {self.identity}: the student judges task {self.student.rubric.task!r}, "
                f"not {rubric.task!r}"
            )

    def _student_answers(
        self, rubric: Rubric, batch: Sequence[Mapping[str, str]]
    ) -> list[StudentResult]:
        raw: list[tuple[Label, float | None, str] | BaseException] = []
        if isinstance(self.student, Judge):
            a, b = rubric.fields
            settled = self.student.score_many_settled([(x[a], x[b]) for x in batch], tag=self.tag)
            for v in settled:
                raw.append(v if isinstance(v, BaseException) else _from_verdict(v))
        else:
            for ans in self.student.judge_batch(rubric, batch):
                raw.append(
                    ans
                    if isinstance(ans, BaseException)
                    else (ans.label, ans.score, ans.raw_output)
                )
        out: list[StudentResult] = []
        for item in raw:
            if isinstance(item, BaseException):
                out.append(item)
                continue
            label, prob, text = item
            if prob is None or not math.isfinite(prob) or not 0.0 <= prob <= 1.0:
                out.append(
                    VerdictParseError(
                        f"cascade student gave no calibrated probability in [0, 1] (score {prob!r})",
                        raw_output=text,
                    )
                )
            else:
                out.append((label, float(prob), text))
        return out

    def _meta(self, route: str, label: Label, prob: float) -> dict[str, str]:
        return {
            "route": route,
            "student_probability": repr(round(prob, 6)),
            "student_label": str(label),
            "raw_score": repr(prob),
            "band": f"{self.band.lo!r},{self.band.hi!r}",
        }

    def _kept(self, result: tuple[Label, float, str]) -> TeacherAnswer:
        label, prob, _ = result
        raw = {"route": ROUTE_KEPT, "student": {"label": label, "probability": prob}}
        return TeacherAnswer(
            label=label,
            raw_output=json.dumps({**raw, "band": self.band.to_dict()}, sort_keys=True),
            score=prob,
            reason=f"kept: student probability {prob:.3f} outside the band {self.band}",
            model_answered=str(self.identity),
            meta=self._meta(ROUTE_KEPT, label, prob),
        )

    def _escalated(self, result: tuple[Label, float, str], verdict: Verdict) -> TeacherAnswer:
        label, prob, _ = result
        env = verdict.envelope
        raw = {
            "route": ROUTE_ESCALATED,
            "student": {"label": label, "probability": prob},
            "teacher": {
                "label": verdict.label,
                "score": env.score,
                "raw_output": env.raw_output,
                "cached": verdict.cached,
                "key": verdict.key,
            },
            "band": self.band.to_dict(),
        }
        meta = self._meta(ROUTE_ESCALATED, label, prob)
        meta["teacher_label"] = str(verdict.label)
        meta["teacher_cached"] = "true" if verdict.cached else "false"
        if env.score is not None:
            meta["teacher_score"] = repr(env.score)
        fresh = not verdict.cached
        return TeacherAnswer(
            label=verdict.label,
            raw_output=json.dumps(raw, sort_keys=True),
            score=prob,
            reason=env.reason or f"escalated: student probability {prob:.3f} inside {self.band}",
            usage=env.usage if fresh else Usage(),
            cost_usd=env.cost_usd if fresh else 0.0,
            model_answered=env.model_answered or self.teacher_judge.name,
            meta=meta,
        )

    # ------------------------------------------------------------------------------- stats

    def stats(self) -> dict[str, Any]:
        """What this cascade did since it was built: routes, teacher calls made, cache hits.

        ``teacher_calls_avoided`` counts kept pairs; escalations answered from the cache are
        reported apart (``teacher_cached``), since the cache, not the cascade, saved those.
        """
        with self._lock:
            counts = dict(self._counts)
            cost = self._teacher_cost
        scored = counts["scored"]
        return {
            "cascade": str(self.identity),
            "band": self.band.to_dict(),
            **counts,
            "teacher_calls_avoided": counts["kept"],
            "escalation_rate": counts["escalated"] / scored if scored else None,
            "teacher_cost_usd": cost,
        }

    def close(self) -> None:
        """Close what this cascade built (a teacher Judge from a spec or Teacher; a spec's student)."""
        if self._owns_teacher:
            self.teacher_judge.close()
        if self._owns_student:
            self.student.close()


def _from_verdict(v: Verdict) -> tuple[Label, float | None, str]:
    # A cached student's probability is the envelope score (never the label-as-number fallback).
    return v.label, v.envelope.score, v.raw_output


def _split_spec(spec: str) -> tuple[str, str]:
    student, sep, teacher = spec.partition(">")
    if not sep or not student.strip() or not teacher.strip():
        raise ConfigError(
            f"cascade spec {spec!r}: expected cascade:STUDENT_SPEC>TEACHER_SPEC, e.g. "
            "cascade:student:runs/relevance>openai:gpt-4o"
        )
    return student.strip(), teacher.strip()


def _band_option(value: Any, student_spec: str) -> Band | BandSelection:
    if isinstance(value, Band | BandSelection):
        return value
    if value is None:
        if not student_spec.startswith("student:"):
            raise ConfigError(
                f"cascade student {student_spec!r} is not a student directory: pass band= "
                "('LO,HI', a cascade.json path, or a Band)"
            )
        path = student_spec[len("student:") :].removesuffix("?int8")
        return load_selection(path)
    if isinstance(value, str):
        if value.endswith(".json") or "/" in value:
            return load_selection(value)
        return Band.parse(value)
    raise ConfigError(f"band option must be 'LO,HI', a cascade.json path or a Band, got {value!r}")


def cascade_from_spec(spec: str, **options: Any) -> CascadeTeacher:
    """Build ``cascade:STUDENT>TEACHER`` (what follows ``cascade:``); options in :data:`SPEC_OPTIONS`.

    >>> cascade_from_spec("student:x", band="0.2,0.8")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    judgecache.errors.ConfigError: cascade spec 'student:x': expected cascade:STUDENT_SPEC>TEACHER_SPEC...
    """
    unknown = sorted(set(options) - set(SPEC_OPTIONS))
    if unknown:
        raise ConfigError(
            f"cascade does not take the options {unknown}; valid options: {list(SPEC_OPTIONS)}"
        )
    from judgecache.judges.spec import teacher_from_spec

    student_spec, teacher_spec = _split_spec(spec)
    band = _band_option(options.get("band"), student_spec)
    student = teacher_from_spec(student_spec, **dict(options.get("student_options") or {}))
    cascade = CascadeTeacher(
        student,
        teacher_spec,
        band,
        task=options.get("task", "relevance"),
        teacher_cache=options.get("teacher_cache"),
        teacher_options=options.get("teacher_options"),
        tag=options.get("tag"),
    )
    cascade._owns_student = True
    return cascade
