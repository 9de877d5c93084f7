"""The drift check: sample a period's log, ask the teacher under a budget, measure, decide, report.

Two entry points: :func:`make_baseline` measures the reference (and picks the anchor set) on a
period the team trusts; :func:`run_check` compares a later period against it. Both get teacher
labels through the Judge's cache, so a rerun after a partial run pays only for what is missing.

Example:
    >>> from judgecache.drift.config import DriftConfig
    >>> cfg = DriftConfig.from_dict({"teacher": "replay:labels.jsonl", "period": "2025-W02"})
    >>> resolve_period(cfg).label
    '2025-W02'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from judgecache.cascade.selection import BandSelection
from judgecache.drift import analysis, cascade_health, verdict
from judgecache.drift.cascade_routes import CascadeSplit, route_history, split_routes
from judgecache.drift.config import DriftConfig
from judgecache.drift.entry import LogEntry
from judgecache.drift.hashing import unit_hash
from judgecache.drift.history import RunHistory
from judgecache.drift.labeller import LabelOutcome, TeacherLabeller
from judgecache.drift.log import ProductionLog
from judgecache.drift.period import Period
from judgecache.drift.reference import (
    MAX_REFERENCE_SCORES,
    Anchor,
    AnchorSet,
    Reference,
    identity_id,
)
from judgecache.drift.report_json import new_report
from judgecache.drift.sampler import Sample, stratified_sample
from judgecache.envelope import utc_now_iso
from judgecache.errors import DriftInputError

if TYPE_CHECKING:
    from judgecache.judges.judge import Judge


class EmptyPeriodError(DriftInputError):
    """The log knows the judge but holds none of its entries in the period (exit 2)."""


@dataclass
class DriftRun:
    """A finished check: the report document, its verdict and where it was saved."""

    report: dict[str, Any]
    verdict: verdict.RunVerdict
    path: Path | None


def resolve_period(cfg: DriftConfig, now: datetime | None = None) -> Period:
    """The configured period, with relative forms resolved against ``now``."""
    return Period.parse(cfg.period, now=now)


def period_entries(
    log: ProductionLog, period: Period, *, student: str | None, task: str
) -> tuple[str, list[LogEntry]]:
    """The period's entries of one student judge, with clear errors when there are none."""
    entries = list(log.iter_entries(period, task=task))
    judges = Counter(e.judge_id() for e in entries)
    if student is None:
        if len(judges) > 1:
            raise DriftInputError(
                f"the log holds several judges in {period.label}: {dict(judges)}; "
                "name one with `student:` in the config"
            )
        if not judges:
            _explain_empty(log, period, None, task)
        student = next(iter(judges))
    chosen = [e for e in entries if e.judge_id() == student]
    if not chosen:
        _explain_empty(log, period, student, task)
    return student, chosen


def _explain_empty(log: ProductionLog, period: Period, student: str | None, task: str) -> None:
    everything = log.judges()
    where = log.store.url
    if not everything:
        raise DriftInputError(
            f"the production log at {where} is empty: nothing has been recorded there "
            "(check the `log:` URL, or import entries with `judgecache drift import`)"
        )
    if student is not None and student not in everything:
        raise DriftInputError(
            f"the production log at {where} has no entries of judge {student!r}; "
            f"it holds {everything}"
        )
    raise EmptyPeriodError(
        f"no {task} entries{'' if student is None else ' of ' + repr(student)} in period "
        f"{period.label} in the log at {where} (the log holds {everything} across all periods)"
    )


def _threshold(
    cfg: DriftConfig, ref: Reference | None, entries: Sequence[LogEntry]
) -> float | None:
    if cfg.threshold is not None:
        return cfg.threshold
    if ref is not None and ref.threshold is not None:
        return ref.threshold
    seen = Counter(e.threshold for e in entries if e.threshold is not None)
    return seen.most_common(1)[0][0] if seen else None


def _check_rubric(entries: Sequence[LogEntry], judge: Judge) -> None:
    rubrics = {e.rubric for e in entries}
    if rubrics != {judge.rubric.name}:
        raise DriftInputError(
            f"the log entries were scored with rubric(s) {sorted(rubrics)} but the teacher "
            f"judges with rubric {judge.rubric.name!r}"
        )
    fields = set(judge.rubric.fields)
    for e in entries:
        if set(e.inputs) != fields:
            raise DriftInputError(
                f"log entry {e.item_id!r} has inputs {sorted(e.inputs)}; rubric "
                f"{judge.rubric.name!r} needs {list(judge.rubric.fields)}"
            )


def _pair(entry: LogEntry, judge: Judge) -> tuple[str, str]:
    first, second = judge.rubric.fields
    return entry.inputs[first], entry.inputs[second]


def _why_unlabelled(outcome: LabelOutcome, budget: int) -> str:
    parts = []
    if outcome.unreachable:
        parts.append(f"the teacher could not be reached: {outcome.unreachable}")
    if outcome.errors:
        parts.append(f"{len(outcome.errors)} teacher calls failed (unscored)")
    if outcome.budget_exhausted:
        parts.append(f"the budget of {budget} teacher calls ran out")
    return "; ".join(parts)


def _reference_scores(entries: Sequence[LogEntry]) -> list[float]:
    # A deterministic subsample keeps the reference file small without biasing the distribution.
    ranked = sorted(entries, key=lambda e: unit_hash(e.item_id, "reference"))
    return [e.student_score for e in ranked[:MAX_REFERENCE_SCORES]]


def _decided_by_student(entries: list[LogEntry]) -> list[LogEntry]:
    """The entries whose decision is the student's: all of them, or a cascade's kept pairs.

    An escalated pair's decision is the teacher's own label: sampling it would count a sure
    agreement and hide the cascade's kept pairs going wrong (the cascade trap).
    """
    split = split_routes(entries)
    return entries if split is None else split.kept


def make_baseline(
    cfg: DriftConfig,
    *,
    judge: Judge,
    log: ProductionLog,
    now: datetime | None = None,
    save: bool = True,
) -> tuple[Reference, AnchorSet | None, dict[str, Any]]:
    """Measure the reference on ``cfg.period`` and pick the anchor set; save both when asked."""
    period = resolve_period(cfg, now)
    student, entries = period_entries(log, period, student=cfg.student, task=judge.rubric.task)
    _check_rubric(entries, judge)
    threshold = _threshold(cfg, None, entries)
    frame = _decided_by_student(entries)
    labeller = TeacherLabeller(judge, max_calls=cfg.budget)
    ref, n_labelled = _measure_reference(cfg, judge, labeller, period, entries, frame, threshold)
    anchors = (
        _pick_anchors(cfg, judge, labeller, frame, threshold) if cfg.anchor_count > 0 else None
    )
    if save:
        ref.save(cfg.reference)
        if anchors is not None:
            anchors.save(cfg.anchors_path)
    summary = {
        "student": student,
        "period": period.label,
        "population": len(entries),
        "labelled": n_labelled,
        "agreement": ref.agreement,
        "anchors": len(anchors.anchors) if anchors else 0,
        "teacher_calls": labeller.calls,
    }
    return ref, anchors, summary


def _measure_reference(
    cfg: DriftConfig,
    judge: Judge,
    labeller: TeacherLabeller,
    period: Period,
    entries: list[LogEntry],
    frame: list[LogEntry],
    threshold: float | None,
) -> tuple[Reference, int]:
    """Sample the baseline period, label it, and measure what later runs compare against."""
    sample = stratified_sample(
        frame,
        cfg.sample_size,
        period_label=period.label,
        threshold=threshold,
        buckets=cfg.strata,
        band=cfg.threshold_band,
        oversample=cfg.oversample,
        salt="baseline",
    )
    outcome = labeller.label_pairs(
        [(it.entry.item_id, _pair(it.entry, judge)) for it in sample.items]
    )
    data = analysis.LabelledData.build(sample, outcome.labels, judge.rubric, threshold=threshold)
    if data.n < cfg.gates.min_labels:
        raise DriftInputError(
            f"the baseline got only {data.n} teacher labels (need {cfg.gates.min_labels}): "
            + (_why_unlabelled(outcome, cfg.budget) or "too few sampled pairs")
        )
    agree = analysis.agreement_section(data, alpha=cfg.gates.alpha, seed=cfg.seed, n_boot=0)
    calib = analysis.calibration_section(data, alpha=cfg.gates.alpha)
    ref = Reference(
        student=dict(entries[0].judge),
        teacher=judge.teacher.identity.as_dict(),
        task=judge.rubric.task,
        rubric=judge.rubric.name,
        scores=_reference_scores(entries),
        agreement=float(agree["agreement"]["estimate"]),
        kappa=agree["kappa"]["estimate"],
        teacher_positive_rate=agree["teacher_positive_rate"]["estimate"],
        ece=calib.get("ece"),
        brier=calib.get("brier"),
        calibration_slope=(calib.get("slope") or {}).get("estimate"),
        threshold=threshold,
        threshold_metric=cfg.gates.threshold_metric,
        threshold_target=cfg.gates.threshold_target,
        n_labelled=data.n,
        period=period.label,
    )
    return ref, data.n


def _pick_anchors(
    cfg: DriftConfig,
    judge: Judge,
    labeller: TeacherLabeller,
    frame: list[LogEntry],
    threshold: float | None,
) -> AnchorSet:
    """A fixed set of pairs the teacher re-judges every period (tells teacher drift apart)."""
    picked = stratified_sample(
        frame,
        cfg.anchor_count,
        period_label="anchors",
        threshold=threshold,
        buckets=cfg.strata,
        band=cfg.threshold_band,
        oversample=1.0,
        salt="anchors",
    )
    got = labeller.label_pairs([(it.entry.item_id, _pair(it.entry, judge)) for it in picked.items])
    return AnchorSet(
        teacher=judge.teacher.identity.as_dict(),
        rubric=judge.rubric.name,
        anchors=[
            Anchor(
                it.entry.item_id,
                dict(it.entry.inputs),
                got.labels[it.entry.item_id],
                it.entry.student_score,
            )
            for it in picked.items
            if it.entry.item_id in got.labels
        ],
    )


@dataclass
class _Period:
    """What a run checks, prepared and validated: the period's entries and what they are held to."""

    period: Period
    ref: Reference
    student: str
    teacher_id: str
    entries: list[LogEntry]
    anchors: list[Anchor]
    threshold: float | None
    split: CascadeSplit | None
    selection: BandSelection | None

    @property
    def decided(self) -> list[LogEntry]:
        """The entries whose decision is the student's (a cascade's kept pairs)."""
        return self.entries if self.split is None else self.split.kept


@dataclass
class _Labels:
    """The teacher's answers for the sample and the anchors, and the calls they cost."""

    labeller: TeacherLabeller
    sample: Sample
    outcome: LabelOutcome
    anchors: LabelOutcome


def run_check(
    cfg: DriftConfig,
    *,
    judge: Judge,
    log: ProductionLog,
    now: datetime | None = None,
    save: bool = True,
    reference: Reference | None = None,
    anchors: AnchorSet | None = None,
) -> DriftRun:
    """One scheduled check of ``cfg.period`` against the reference; the report is saved to history.

    Stages: prepare (entries, reference, anchors, cascade band), sample, label, measure, decide,
    record.
    """
    run = _prepare(cfg, judge, log, now, reference, anchors)
    labels = _label(cfg, judge, run, _sample(cfg, run))
    history = RunHistory(cfg.report_dir)
    data = analysis.LabelledData.build(
        labels.sample, labels.outcome.labels, judge.rubric, threshold=run.threshold
    )
    sections = _measure(cfg, judge, run, labels, data, history)
    result = _decide(cfg, run, labels, data, sections)
    return _record(cfg, judge, log, run, labels, sections, result, history, save)


def _prepare(
    cfg: DriftConfig,
    judge: Judge,
    log: ProductionLog,
    now: datetime | None,
    reference: Reference | None,
    anchors: AnchorSet | None,
) -> _Period:
    """Resolve the period and load what it is checked against; refuse mismatched inputs."""
    period = resolve_period(cfg, now)
    ref = reference if reference is not None else Reference.load(cfg.reference)
    teacher_id = str(judge.teacher.identity)
    student = cfg.student or ref.student_id
    ref.check_matches(student=student, teacher=teacher_id, rubric=judge.rubric.name)
    student, entries = period_entries(log, period, student=student, task=judge.rubric.task)
    _check_rubric(entries, judge)
    if anchors is None:
        anchors = AnchorSet.load(cfg.anchors_path)
    if anchors is not None and (
        identity_id(anchors.teacher) != teacher_id or anchors.rubric != judge.rubric.name
    ):
        raise DriftInputError(
            f"the anchor set {cfg.anchors_path} was labelled by {identity_id(anchors.teacher)!r} "
            f"with rubric {anchors.rubric!r}; this run asks {teacher_id!r} with rubric "
            f"{judge.rubric.name!r}: rebuild it with `judgecache drift baseline`"
        )
    split = split_routes(entries)
    if split is None and cfg.cascade is not None:
        raise DriftInputError(
            f"the config names a cascade band ({cfg.cascade}) but no entry of {student!r} in "
            f"{period.label} carries a cascade route: the log is not a cascade's"
        )
    return _Period(
        period=period,
        ref=ref,
        student=student,
        teacher_id=teacher_id,
        entries=entries,
        anchors=list(anchors.anchors) if anchors is not None else [],
        threshold=_threshold(cfg, ref, entries),
        split=split,
        selection=None if split is None else cascade_health.load_band(cfg.cascade, entries),
    )


def _sample(cfg: DriftConfig, run: _Period) -> Sample:
    """The stratified sample of the student's decisions to ask the teacher about."""
    return stratified_sample(
        run.decided,
        cfg.sample_size,
        period_label=run.period.label,
        threshold=run.threshold,
        buckets=cfg.strata,
        band=cfg.threshold_band,
        oversample=cfg.oversample,
    )


def _label(cfg: DriftConfig, judge: Judge, run: _Period, sample: Sample) -> _Labels:
    """Teacher labels for the sample, then the anchors (unless the teacher is unreachable)."""
    labeller = TeacherLabeller(judge, max_calls=cfg.budget)
    outcome = labeller.label_pairs(
        [(it.entry.item_id, _pair(it.entry, judge)) for it in sample.items]
    )
    anchor_outcome = LabelOutcome()
    if run.anchors and not outcome.unreachable:
        anchor_outcome = labeller.label_anchors(
            [(a.item_id, a.inputs) for a in run.anchors], run.period.label
        )
    return _Labels(labeller, sample, outcome, anchor_outcome)


def _measure(
    cfg: DriftConfig,
    judge: Judge,
    run: _Period,
    labels: _Labels,
    data: analysis.LabelledData,
    history: RunHistory,
) -> dict[str, Any]:
    """Every section of the report (the cascade's health too, when the log is a cascade's)."""
    gates_cfg, ref = cfg.gates, run.ref
    alpha, warn = gates_cfg.alpha, gates_cfg.warn_alpha
    metric = gates_cfg.threshold_metric or ref.threshold_metric
    target = (
        gates_cfg.threshold_target
        if gates_cfg.threshold_target is not None
        else ref.threshold_target
    )
    sections: dict[str, Any] = {
        "agreement": analysis.agreement_section(
            data, alpha=alpha, seed=cfg.seed, n_boot=cfg.bootstrap, reference=ref, warn_alpha=warn
        ),
        "teacher_stability": analysis.teacher_stability_section(
            run.anchors, labels.anchors.labels, judge.rubric, alpha=alpha, warn_alpha=warn
        ),
        "calibration": analysis.calibration_section(data, alpha=alpha, reference=ref),
        "score_drift": analysis.score_drift_section([e.student_score for e in run.entries], ref),
        "threshold": analysis.threshold_section(
            data, metric=metric, target=target, alpha=alpha, warn_alpha=warn
        ),
        "segments": analysis.segments_section(
            data, alpha=alpha, reference=ref, tolerance=gates_cfg.agreement_tolerance
        ),
        "ppi": analysis.ppi_section(run.decided, data, judge.rubric, alpha=alpha),
        "disagreements": analysis.disagreements_section(data),
    }
    if run.split is not None:
        sections["agreement"]["scope"] = cascade_health.KEPT_SCOPE
        routes = route_history(
            history.trend(run.student, run.teacher_id), run.split.routes(run.period.label)
        )
        sections["cascade_health"] = cascade_health.health_section(
            run.split,
            data,
            run.selection,
            rubric=judge.rubric,
            routes=routes,
            alpha=alpha,
            min_labels=gates_cfg.min_labels,
        )
    return sections


def _decide(
    cfg: DriftConfig,
    run: _Period,
    labels: _Labels,
    data: analysis.LabelledData,
    sections: dict[str, Any],
) -> verdict.RunVerdict:
    """The gates over the sections, and the run's verdict."""
    gates_cfg = cfg.gates
    enough = data.n >= gates_cfg.min_labels
    gates: list[verdict.Gate] = []
    if "cascade_health" in sections:
        # First in the list: Cascade Saturation then leads the reasons of a failed run.
        gates.append(verdict.cascade_gate(sections["cascade_health"]))
    gates += [
        verdict.labels_gate(
            data.n,
            len(labels.sample.items),
            gates_cfg,
            _why_unlabelled(labels.outcome, cfg.budget),
        ),
        verdict.agreement_gate(sections["agreement"], run.ref, gates_cfg, enough),
        verdict.teacher_gate(sections["teacher_stability"], gates_cfg),
        *verdict.calibration_gates(sections["calibration"], gates_cfg, enough),
        verdict.score_drift_gate(sections["score_drift"], gates_cfg),
        verdict.threshold_gate(sections["threshold"], enough),
    ]
    if labels.anchors.unreachable and run.anchors:
        gates.append(
            verdict.Gate(
                "teacher_reachable",
                "inconclusive",
                f"anchor re-judging failed: {labels.anchors.unreachable}",
            )
        )
    return verdict.decide(gates)


def _run_block(cfg: DriftConfig, judge: Judge, run: _Period) -> dict[str, Any]:
    """The report's ``run`` object: what was checked, against what, with which settings."""
    period, ref = run.period, run.ref
    return {
        "period": {
            "label": period.label,
            "start": None if period.start is None else period.start.isoformat(),
            "end": None if period.end is None else period.end.isoformat(),
        },
        "created_at": utc_now_iso(),
        "student": run.student,
        "teacher": run.teacher_id,
        "task": judge.rubric.task,
        "rubric": judge.rubric.name,
        "threshold": run.threshold,
        "alpha": cfg.gates.alpha,
        "interval_level": 1 - 2 * cfg.gates.alpha,
        "reference": {
            "period": ref.period,
            "created_at": ref.created_at,
            "n_labelled": ref.n_labelled,
            "agreement": ref.agreement,
        },
        "config": {
            "sample_size": cfg.sample_size,
            "budget": cfg.budget,
            "anchor_count": cfg.anchor_count,
            "strata": cfg.strata,
            "threshold_band": cfg.threshold_band,
            "oversample": cfg.oversample,
            "cascade": cfg.cascade,
            "gates": dict(vars(cfg.gates)),
        },
    }


def _record(
    cfg: DriftConfig,
    judge: Judge,
    log: ProductionLog,
    run: _Period,
    labels: _Labels,
    sections: dict[str, Any],
    result: verdict.RunVerdict,
    history: RunHistory,
    save: bool,
) -> DriftRun:
    """Assemble the report document, add the trend, and save it to the run history."""
    sample = labels.sample
    report = new_report(
        run=_run_block(cfg, judge, run),
        verdict=result.to_dict(),
        budget={
            "max_teacher_calls": cfg.budget,
            "teacher_calls": labels.labeller.calls,
            "sample": labels.outcome.summary(),
            "anchors": labels.anchors.summary(),
        },
        sample={
            "population": sample.population,
            "size": len(sample.items),
            "strata": [s.to_dict() for s in sample.strata],
            "drawn_from": "all" if run.split is None else "kept",
            "log": log.stats(),
        },
        sections=sections,
    )
    report["trend"] = [*history.trend(run.student, run.teacher_id), history.summary_row(report)]
    path = history.save(report) if save else None
    return DriftRun(report, result, path)
