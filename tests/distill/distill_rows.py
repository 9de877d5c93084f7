"""Synthetic label rows for the distill tests (a module of its own: test files import it by name,
which a `conftest` module cannot reliably be when several test folders have one)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from judgecache.distill.config import DistillConfig
from judgecache.distill.student import StudentSpec

TOPICS = [
    "apple",
    "river",
    "engine",
    "violin",
    "planet",
    "bread",
    "tiger",
    "winter",
    "copper",
    "garden",
]
FILLER = ["the", "a", "of", "and", "is", "about", "with", "some", "text", "words", "here", "more"]


def tiny_vocab() -> list[str]:
    """The WordPiece vocabulary of the tiny test encoders: special tokens, then every test word."""
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return special + sorted(set(TOPICS + FILLER + ["what", "does", "say", "claim"]))


def make_rows(
    n: int = 240,
    *,
    task: str = "relevance",
    seed: int = 0,
    n_groups: int = 10,
    judge: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """A synthetic but learnable task: the grade is how much of the topic the doc mentions."""
    rng = random.Random(seed)
    judge = judge or {"provider": "replay", "model": "synthetic", "version": ""}
    rows = []
    for i in range(n):
        topic = TOPICS[i % n_groups]
        grade = rng.randrange(4)
        other = rng.choice([t for t in TOPICS if t != topic])
        words = [rng.choice(FILLER) for _ in range(rng.randrange(3, 9))]
        doc_words = [topic] * grade + [other] * (3 - grade) + words
        rng.shuffle(doc_words)
        doc = " ".join(doc_words)
        if task == "relevance":
            inputs = {"query": f"what about {topic}", "doc": doc}
            label: int = grade
        else:
            inputs = {
                "context": doc,
                "answer": f"claim {topic}" if grade >= 2 else f"claim {other}",
            }
            label = int(grade >= 2)
        rows.append(
            {
                "key": f"k{i}",
                "task": task,
                "rubric": task,
                "judge": judge,
                "inputs": inputs,
                "label": label,
                "score": None,
                "source": "import",
                "meta": {"qid": str(i % n_groups), "docid": f"d{i}"},
            }
        )
    return rows


def varied_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Queries shared by many docs, docs of 1 to ~40 words (some cut at max_length)."""
    rng = random.Random(seed)
    queries = [f"what about {t}" for t in TOPICS[:4]] + ["apple river tiger", "the"]
    vocab = TOPICS + FILLER
    return [
        (rng.choice(queries), " ".join(rng.choice(vocab) for _ in range(rng.randrange(1, 40))))
        for _ in range(n)
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def graded_spec(
    base: Path, name: str, max_length: int, max_length_protected: int, **more: Any
) -> StudentSpec:
    """A graded (0-3) relevance bi-encoder StudentSpec on ``base``, synthetic replay teacher."""
    return StudentSpec(
        name=name,
        architecture="bi",
        rubric="relevance",
        target="graded",
        labels=[0, 1, 2, 3],
        positive_from=2,
        protected=0,
        max_length=max_length,
        max_length_protected=max_length_protected,
        base_model=str(base),
        teacher={"provider": "replay", "model": "synthetic", "version": ""},
        **more,
    )


def tiny_config(tiny_bert: Path, out: Path, by: str = "pair", **train: object) -> DistillConfig:
    """A fast, seeded config on a tiny local base: LoRA r8, small splits, 50 bootstrap draws."""
    return DistillConfig.from_dict(
        {
            "output": str(out),
            "base_model": str(tiny_bert),
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
            "split": {"by": by, "val": 0.15, "calib": 0.2, "test": 0.2, "test_seen": 0.1},
            "train": {
                "epochs": 6,
                "batch_size": 16,
                "lr": 1e-2,
                "head_lr": 1e-2,
                "progress": False,
                "patience": 100,
                "threads": 1,
                "device": "cpu",
                **train,
            },
            "eval": {"bootstrap": 50},
        }
    )
