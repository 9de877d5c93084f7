"""Embeddings kept on disk: each text embedded once per base, shared, bad entries recomputed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import diskcache
import numpy as np
import pytest
from distill_rows import make_rows, write_jsonl

from judgecache.distill.stored_embeddings import StoredEmbeddings, base_digest


class CountingEmbed:
    """Deterministic 4-d vectors from the text; records every text it was asked to embed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: Sequence[str]) -> Any:
        self.seen += texts
        return np.asarray([[len(t), t.count("a"), 1.0, 0.5] for t in texts], dtype=np.float32)


def test_each_text_is_embedded_once_and_shared_between_instances(tmp_path: Path) -> None:
    embed, truth = CountingEmbed(), CountingEmbed()
    first = StoredEmbeddings(embed, "digest-1", tmp_path)
    assert (
        first(["banana", "kiwi", "banana"]).tolist() == truth(["banana", "kiwi", "banana"]).tolist()
    )
    second = StoredEmbeddings(embed, "digest-1", tmp_path)  # another process, same directory
    assert (
        second(["kiwi", "banana", "apple"]).tolist() == truth(["kiwi", "banana", "apple"]).tolist()
    )
    assert embed.seen == ["banana", "kiwi", "apple"]  # each text once, whoever asked
    assert first([]).size == 0


def test_another_base_never_reads_these_vectors(tmp_path: Path) -> None:
    embed = CountingEmbed()
    StoredEmbeddings(embed, "digest-1", tmp_path)(["banana"])
    other = StoredEmbeddings(embed, "digest-2", tmp_path)
    embed.seen.clear()
    other(["banana"])
    assert embed.seen == ["banana"]


def test_a_damaged_entry_is_recomputed(tmp_path: Path) -> None:
    embed = CountingEmbed()
    stored = StoredEmbeddings(embed, "d", tmp_path)
    stored(["banana", "kiwi"])
    stored.cache.set(stored.key("kiwi"), b"\x00\x01\x02")  # not float32s
    stored.cache.set(stored.key("banana"), np.zeros(7, np.float32).tobytes())  # another size
    embed.seen.clear()
    got = stored(["banana", "kiwi"])
    assert got.tolist() == embed(["banana", "kiwi"]).tolist()
    assert "kiwi" in embed.seen and "banana" in embed.seen


def test_base_digest_follows_the_files_bytes(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    before = base_digest(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    assert base_digest(tmp_path) != before


def test_a_student_memory_stores_its_embeddings_and_answers_the_same(
    student_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from judgecache import Judge

    monkeypatch.setenv("JUDGECACHE_DIR", str(tmp_path / "jc"))
    rows = make_rows(120, n_groups=6)
    labels = write_jsonl(tmp_path / "labels.jsonl", rows)
    pairs = [("what about apple", "apple apple text"), ("what about river", "the river")]
    cold = Judge(f"student:{student_dir}?memory={labels}", cache="memory://").score_many(pairs)
    with diskcache.Cache(str(tmp_path / "jc" / "embeddings")) as stored:
        written = len(stored)
    docs = {r["inputs"]["doc"] for r in rows}
    assert written >= len(docs), "the memory did not store every labelled document's embedding"
    warm = Judge(f"student:{student_dir}?memory={labels}", cache="memory://").score_many(pairs)
    assert [v.envelope.meta["path"] for v in warm] == ["memory", "memory"]
    assert [v.label for v in warm] == [v.label for v in cold]
    assert [v.score for v in warm] == pytest.approx([v.score for v in cold], abs=1e-6)


def test_a_student_memory_stores_its_logits_of_the_labelled_documents(
    student_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from judgecache import Judge
    from judgecache.distill.student import StudentTeacher

    monkeypatch.setenv("JUDGECACHE_DIR", str(tmp_path / "jc"))
    scored: list[str] = []
    pair_logits = StudentTeacher._pair_logits

    def counting(self: StudentTeacher, pairs: Sequence[str]) -> Any:
        scored.extend(pairs)
        return pair_logits(self, pairs)

    monkeypatch.setattr(StudentTeacher, "_pair_logits", counting)
    labels = write_jsonl(tmp_path / "labels.jsonl", make_rows(120, n_groups=6))
    pairs = [("what about apple", "apple apple text"), ("what about river", "the river")]
    cold = Judge(f"student:{student_dir}?memory={labels}", cache="memory://").score_many(pairs)
    assert scored, "the memory scored no labelled document with the student"
    assert len(scored) == len(set(scored))  # each (query, doc) once
    scored.clear()
    warm = Judge(f"student:{student_dir}?memory={labels}", cache="memory://").score_many(pairs)
    assert scored == []  # a fresh process reads them all back
    assert [v.envelope.meta["path"] for v in warm] == ["memory", "memory"]
    assert [(v.label, v.score) for v in warm] == [(v.label, v.score) for v in cold]

    # Another student (here: the int8 path, whose logits differ) never reads these logits.
    Judge(
        f"student:{student_dir}?int8&runtime=torch&memory={labels}", cache="memory://"
    ).score_many(pairs)
    assert scored, "the int8 student read the fp32 student's logits"
