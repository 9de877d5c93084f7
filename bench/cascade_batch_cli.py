"""Benchmark: the weekly loop as a user runs it: ``judgecache cascade batch``, ``cascade refresh``.

The same DL19 student, DL19 memory seed and DL20 weeks as ``bench/cascade_teach.py`` (same
``--seed``), but every week goes through the installed console script, in a subprocess, on a real
diskcache:

1. the cache starts with the memory seed: GPT-4o's DL19 labels, stored under the replay teacher's
   identity (``replay:gpt-4o``, the identity the student learned);
2. each week, ``judgecache cascade batch WEEK.jsonl --student CUR --teacher replay:gpt-4o.jsonl``
   (GPT-4o's DL20 grades replayed) answers the week: the student with its memory on that cache,
   the audited rule on the pairs it answers alone, the label-free stop at ``--fitted-target`` on
   the rest; the labels bought land in the cache;
3. ``judgecache cascade refresh --student CUR --labels diskcache://...`` continues the student on
   the labels the cache gained; a kept student serves the next week.

Reported per week: teacher calls avoided, binary agreement (grade >= 2) with GPT-4o over all of
the week's pairs (from the output file's labels), the share the memory answered, the audit's
estimate, the refresh's decision, and the wall time of each command. ``bench/cascade_teach.py``'s
``audit-new`` policy is the same rule simulated in-process; this run shows the product reaches it.

    flock /tmp/jc-heavy.lock python bench/cascade_batch_cli.py --seed 0    # ~10 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, require_data
from cascade_teach import OUT as TEACH_OUT
from cascade_teach import POS, export_row, world

from judgecache.io.jsonl import iter_jsonl

OUT = REPO / "runs" / "cascade_batch_cli"


def console() -> str:
    exe = Path(sys.executable).parent / "judgecache"
    if not exe.exists():
        sys.exit(
            "the judgecache console script is not installed beside this python: pip install -e ."
        )
    return str(exe)


def jc(*args: str, ok: tuple[int, ...] = (0,)) -> tuple[dict[str, Any], float]:
    """``judgecache ARGS --json`` in a subprocess: its JSON answer and its wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run([console(), *args, "--json"], capture_output=True, text=True)
    took = time.perf_counter() - t0
    if proc.returncode not in ok:
        sys.exit(f"judgecache {' '.join(args[:2])} exited {proc.returncode}:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), took


def seed_cache(url: str, rows: list[dict[str, Any]]) -> None:
    from judgecache import Judge
    from judgecache.judges.teachers.replay import ReplayTeacher

    with Judge(ReplayTeacher([], name="gpt-4o", fields=("query", "doc")), cache=url) as j:
        j.put_many((p["query"], p["doc"], p["grade"], None) for p in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--dl20-pairs", type=int, default=2400)
    ap.add_argument("--memory-per-query", type=int, default=25)
    ap.add_argument("--train-examples", type=int, default=800)
    ap.add_argument("--target", type=float, default=0.95, help="audited pairs")
    ap.add_argument("--fitted-target", type=float, default=0.965, help="memory pairs")
    ap.add_argument("--steps", type=int, default=25, help="LoRA steps per weekly refresh")
    ap.add_argument("--refresh-examples", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    require_data()
    TEACH_OUT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    _, memory_seed, weeks = world(args)
    url = f"diskcache://{OUT / 'cache'}"
    seed_cache(url, memory_seed)
    teacher = OUT / "gpt-4o.jsonl"  # the replay teacher: GPT-4o's DL20 grades
    teacher.write_text(
        "".join(json.dumps(export_row(p)) + "\n" for w in weeks for p in w), encoding="utf-8"
    )
    student = TEACH_OUT / "student"
    rows = []
    t_all = time.perf_counter()
    for w, batch in enumerate(weeks, start=1):
        week_file = OUT / f"week{w}.jsonl"
        week_file.write_text(
            "".join(json.dumps({"query": p["query"], "doc": p["doc"]}) + "\n" for p in batch),
            encoding="utf-8",
        )
        out = OUT / f"week{w}.judged.jsonl"
        summary, t_batch = jc(
            "cascade", "batch", str(week_file), "--student", str(student),
            "--teacher", f"replay:{teacher}", "--cache", url, "--state", str(OUT / "state.json"),
            "-o", str(out), "--target", str(args.target), "--fitted-target",
            str(args.fitted_target), "--seed", str(args.seed), "--no-progress",
        )  # fmt: skip
        judged = [row for _, row in iter_jsonl(out)]
        agree = sum(
            (j["label"] >= POS) == (p["grade"] >= POS) for j, p in zip(judged, batch, strict=True)
        )
        row: dict[str, Any] = {
            "week": w,
            "pairs": len(batch),
            "teacher_calls": summary["teacher_calls"],
            "avoided": summary["avoided"],
            "agreement": round(agree / len(batch), 4),
            "memory_answered": round(summary["fitted"] / len(batch), 4),
            "audited": summary["audited"],
            "estimate": summary["estimate"],
            "estimate_interval": [summary["estimate_low"], summary["estimate_high"]],
            "student": student.name,
            "batch_seconds": round(t_batch, 1),
        }
        if w < len(weeks):
            res, t_refresh = jc(
                "cascade", "refresh", "--student", str(student), "--labels", url,
                "--output", str(OUT / f"student-w{w}"), "--max-steps", str(args.steps),
                "--max-examples", str(args.refresh_examples), "--max-calib-old", "300",
                "--bootstrap", "500", "--seed", str(args.seed + w), "--no-progress",
                ok=(0, 1),  # 1: rejected, the old student serves on
            )  # fmt: skip
            row["refresh"] = {"status": res["status"], "seconds": round(t_refresh, 1)}
            if res["status"] == "kept" and res.get("output"):
                student = Path(res["output"])
        print(json.dumps(row), flush=True)
        rows.append(row)
    result = {"args": vars(args), "weeks": rows, "wall_seconds": round(time.perf_counter() - t_all)}
    (OUT / f"result-s{args.seed}.json").write_text(json.dumps(result, indent=1))
    print("\nweek  pairs  calls  avoided  agreement  memory  audit estimate         refresh")
    for r in rows:
        est = r["estimate"]
        lo, hi = r["estimate_interval"]
        audit = "-" if est is None else f"{est:.3f} [{lo:.3f}, {hi:.3f}]"
        ref = r.get("refresh", {}).get("status", "-")
        print(
            f"{r['week']:>4}  {r['pairs']:>5}  {r['teacher_calls']:>5}  {r['avoided']:>7.1%}  "
            f"{r['agreement']:>9.3f}  {r['memory_answered']:>6.1%}  {audit:<22} {ref}"
        )
    print(f"wall {result['wall_seconds']} s; {OUT / f'result-s{args.seed}.json'}")


if __name__ == "__main__":
    main()
