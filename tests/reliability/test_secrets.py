"""Secrets scan: an API key in the environment and a password in a Redis URL appear in no file
written and in no output of score, stats, export, distill, drift and report (console script)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rel_common import HERE, jc, read_jsonl, write_jsonl
from rel_servers import files_under, openai_server, redis_with_password

pytestmark = [pytest.mark.redis, pytest.mark.distill, pytest.mark.slow]

API_KEY = "sk-test-5ecr3t-k3y-9d8f7a6b"
PASSWORD = "pw5ecr3tZq81x"
TESTS = HERE.parent
sys.path[:0] = [str(TESTS / "distill"), str(TESTS / "drift")]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The distill tests' tiny local BERT (built, never downloaded)."""
    pytest.importorskip("peft", reason="the distill extra is not installed")
    spec = importlib.util.spec_from_file_location(
        "distill_conftest", TESTS / "distill" / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: Path = module.tiny_bert.__wrapped__(tmp_path_factory)
    return built


def _scan(root: Path, outputs: list[subprocess.CompletedProcess[str]], skip: set[Path]) -> None:
    for secret in (API_KEY, PASSWORD):
        for path in files_under(root):
            if path not in skip:
                assert secret.encode() not in path.read_bytes(), f"{secret!r} written to {path}"
        for run in outputs:
            assert secret not in run.stdout + run.stderr, f"{secret!r} printed by {run.args}"


def test_no_secret_reaches_any_file_or_output(tmp_path: Path, tiny_bert: Path) -> None:
    from distill_rows import make_rows
    from drift_world import World, week_label

    rows = [{**r["inputs"], "meta": r["meta"]} for r in make_rows(300)]
    docs = sorted((str(r["doc"]) for r in rows), key=len, reverse=True)
    label = {str(r["inputs"]["doc"]): int(r["label"]) for r in make_rows(300)}

    def label_of(prompt: str) -> int:
        return next((label[d] for d in docs if d in prompt), 0)

    work = tmp_path / "work"
    work.mkdir()
    with redis_with_password(PASSWORD) as cache, openai_server(label_of) as api:
        env = {**__import__("os").environ, "JC_TEST_API_KEY": API_KEY, "JC_OPENAI_URL": api,
               "PYTHONPATH": str(HERE), "JUDGECACHE_DIR": str(work / "home-cache")}  # fmt: skip
        spec = "python:jc_rel_teachers:LocalOpenAI"
        src = write_jsonl(work / "pairs.jsonl", rows)
        rejected = write_jsonl(work / "rejected.jsonl", [{"query": "reject-me", "doc": "doc x"}])
        runs = [
            jc("score", str(src), "--judge", spec, "--cache", cache, "-o", str(work / "o.jsonl"),
               "--no-progress", env=env),
            jc("score", str(rejected), "--judge", spec, "--cache", cache, "-o",
               str(work / "rejected-out.jsonl"), "--no-progress", env=env),
            jc("stats", "--cache", cache, env=env),
            jc("stats", "--cache", cache, "--json", env=env),
            jc("cache", "info", "--cache", cache, env=env),
            jc("export", "--cache", cache, "-o", str(work / "export.jsonl"), env=env),
            jc("distill", "--labels", cache, "--output", str(work / "student"),
               "--base-model", str(tiny_bert), "--epochs", "1", "--no-progress",
               "--set", "lora.layers=null", "--set", "split.min_examples=50",
               "--set", "train.batch_size=32", "--set", "eval.bootstrap=10",
               "--set", "train.max_length=32", env=env, timeout=600),
        ]  # fmt: skip
        assert [r.returncode for r in runs[:1] + runs[2:]] == [0] * (len(runs) - 1), [
            r.stderr[-2000:] for r in runs
        ]
        # The 401 body echoed the key: the error line and stderr carry it masked.
        assert runs[1].returncode != 0
        error = str(read_jsonl(work / "rejected-out.jsonl")[0].get("error", ""))
        assert "Incorrect API key provided: ***" in error
        assert (work / "student" / "README.md").is_file()

        config = _drift_config(work, cache, World, week_label)
        runs += [
            jc("drift", "import", "--config", str(config), str(work / "prodlog.jsonl"), env=env),
            jc("drift", "baseline", "--config", str(config), "--budget", "400", env=env),
            jc("drift", "run", "--config", str(config), "--period", week_label(1), env=env),
            jc("report", "--config", str(config), "--format", "html", "-o",
               str(work / "report.html"), env=env),
            jc("report", "--config", str(config), "--format", "md", "-o", str(work / "report.md"),
               env=env),
        ]  # fmt: skip
        assert all(r.returncode == 0 for r in runs[-5:]), [r.stderr[-2000:] for r in runs[-5:]]
        assert (work / "report.html").is_file(), [(r.args, r.stdout[-500:]) for r in runs[-5:]]
    # The user's own config holds the URL they typed; everything judgecache wrote must not.
    _scan(work, runs, skip={config})


def _drift_config(work: Path, cache: str, world: type, week_label: object) -> Path:
    weeks = {0: world(seed=0), 1: world(seed=1)}
    labels, lines = [], []
    for week, w in weeks.items():
        for e in w.entries(week, 500):
            grade = int(e.inputs["doc"].rsplit("grade=", 1)[1])
            labels.append({"query": e.inputs["query"], "doc": e.inputs["doc"], "label": grade})
            lines.append(e.to_dict())
    write_jsonl(work / "teacher.jsonl", labels)
    write_jsonl(work / "prodlog.jsonl", lines)
    cfg = {
        "teacher": f"replay:{work / 'teacher.jsonl'}",
        "cache": cache,
        "log": cache.replace("/0", "/1"),
        "reference": str(work / "ref.json"),
        "report_dir": str(work / "reports"),
        "period": week_label(0),  # type: ignore[operator]
        "budget": 300,
        "sample_size": 200,
        "anchor_count": 50,
        "threshold": 0.5,
        "bootstrap": 50,
        "gates": {"psi_min_population": 200, "threshold_metric": "precision",
                  "threshold_target": 0.7},
    }  # fmt: skip
    path = work / "weekly.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
