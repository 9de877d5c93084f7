"""Real (query, passage) pairs built from the documentation shipped with this Python.

Two corpora, so the quickstart can show a distribution shift:

- **reference**: the Python Language Reference topics behind ``help("assert")`` (``pydoc_data``).
  Queries are the section headings ("The "assert" statement", "Augmented assignment
  statements"...); candidate passages are paragraphs of the same section, of lexically close
  sections, and of random other sections.
- **library**: docstrings of standard-library functions. Queries are a function's one-line
  summary; passages are the rest of its docstring and paragraphs of other functions' docstrings.

Nothing is labelled here: relevance comes from a real judge later. The sampling is seeded, so the
same Python version always yields the same pairs.

Example:
    >>> pairs = reference_pairs(limit=10)
    >>> len(pairs), all(q and d for q, d in pairs)
    (10, True)
"""

from __future__ import annotations

import importlib
import inspect
import random
import re
import warnings
from collections import defaultdict

_UNDERLINE = re.compile(r"[=*\-]{3,}")
_WORD = re.compile(r"[a-z_]{3,}")
LIBRARY_MODULES = (
    "json", "csv", "re", "pathlib", "collections", "itertools", "functools", "datetime",
    "textwrap", "shutil", "subprocess", "logging", "argparse", "random", "statistics",
    "string", "heapq", "bisect", "difflib", "os", "tempfile", "urllib.parse", "zipfile",
    "tarfile", "sqlite3", "threading", "asyncio", "typing", "dataclasses", "enum",
)  # fmt: skip


def _paragraphs(text: str, min_words: int = 20) -> list[str]:
    out = []
    for block in text.split("\n\n"):
        flat = " ".join(block.split())
        if len(flat.split()) >= min_words and not _UNDERLINE.fullmatch(flat):
            out.append(flat)
    return out


def reference_sections() -> dict[str, list[str]]:
    """Section heading -> its paragraphs, from the Language Reference topics."""
    from pydoc_data.topics import topics

    sections: dict[str, list[str]] = defaultdict(list)
    for key in sorted(topics):
        lines = topics[key].split("\n")
        heading, body = key, list[str]()
        for i, line in enumerate(lines):
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if line.strip() and _UNDERLINE.fullmatch(nxt) and len(nxt) >= len(line.strip()) - 1:
                if body:
                    sections[heading].extend(_paragraphs("\n".join(body)))
                heading, body = line.strip(), []
            elif not _UNDERLINE.fullmatch(line.strip()):
                body.append(line)
        sections[heading].extend(_paragraphs("\n".join(body)))
    return {h: ps for h, ps in sections.items() if ps}


def library_sections() -> dict[str, list[str]]:
    """A function's one-line summary -> the other paragraphs of its docstring."""
    sections: dict[str, list[str]] = {}
    for name in LIBRARY_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attr in sorted(dir(module)):
            with warnings.catch_warnings():
                # Reading the docs of deprecated aliases (typing.io, typing.re) is not using them.
                warnings.simplefilter("ignore", DeprecationWarning)
                obj = getattr(module, attr, None)
                if attr.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                    continue
                doc = inspect.getdoc(obj) or ""
            summary, _, rest = doc.partition("\n\n")
            summary = " ".join(summary.split())
            body = _paragraphs(rest, min_words=12)
            if 3 <= len(summary.split()) <= 25 and body and summary not in sections:
                sections[summary] = body
    return sections


def _tokens(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


GRADE_LEAD = 3
"""The first paragraph of the section the query names: it is about exactly that."""
GRADE_OWN = 2
"""A later paragraph of that section: part of the answer, among details."""
GRADE_NEIGHBOUR = 1
"""A paragraph of a lexically close other section: on the topic's words, not the answer."""
GRADE_OTHER = 0
"""A paragraph of a random other section."""


def build_labelled_pairs(
    sections: dict[str, list[str]], *, limit: int | None, seed: int, per_query: int = 6
) -> list[tuple[str, str, int]]:
    """For each query: up to 2 own passages, 2 lexically closest foreign ones, the rest random;
    each with the grade the documentation's own structure gives it (``GRADE_*``)."""
    rng = random.Random(seed)
    queries = sorted(sections)
    rng.shuffle(queries)
    pool = [(h, p) for h in sorted(sections) for p in sections[h]]
    pool_tokens = [_tokens(p) for _, p in pool]
    out: list[tuple[str, str, int]] = []
    for query in queries:
        own = list(zip(sections[query][:2], (GRADE_LEAD, GRADE_OWN), strict=False))
        q_tokens = _tokens(query)
        foreign = [i for i, (h, _) in enumerate(pool) if h != query]
        close = sorted(foreign, key=lambda i: (-len(q_tokens & pool_tokens[i]), i))[:2]
        rest = rng.sample(foreign, k=min(len(foreign), per_query - len(own) - len(close)))
        others = [(pool[i][1], GRADE_NEIGHBOUR) for i in close]
        others += [(pool[i][1], GRADE_OTHER) for i in rest]
        for doc, grade in [*own, *others]:
            out.append((query, doc, grade))
            if limit is not None and len(out) >= limit:
                return out
    return out


def build_pairs(
    sections: dict[str, list[str]], *, limit: int | None, seed: int, per_query: int = 6
) -> list[tuple[str, str]]:
    """The pairs of :func:`build_labelled_pairs`, without their grades."""
    labelled = build_labelled_pairs(sections, limit=limit, seed=seed, per_query=per_query)
    return [(q, d) for q, d, _ in labelled]


def reference_pairs(limit: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    """Pairs from the Language Reference (the quickstart's training distribution)."""
    return build_pairs(reference_sections(), limit=limit, seed=seed)


def library_pairs(limit: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    """Pairs from standard-library docstrings (the quickstart's shifted production traffic)."""
    return build_pairs(library_sections(), limit=limit, seed=seed)


def structure_labels(seed: int = 0) -> list[tuple[str, str, int]]:
    """Every reference and library pair with its structure grade: the quickstart's recorded
    teacher labels (what a careful human, or a frontier LLM, would say of these pairs)."""
    return [
        *build_labelled_pairs(reference_sections(), limit=None, seed=seed),
        *build_labelled_pairs(library_sections(), limit=None, seed=seed),
    ]
