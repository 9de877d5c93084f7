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


def build_pairs(
    sections: dict[str, list[str]], *, limit: int | None, seed: int, per_query: int = 6
) -> list[tuple[str, str]]:
    """For each query: up to 2 own passages, 2 lexically closest foreign ones, the rest random."""
    rng = random.Random(seed)
    queries = sorted(sections)
    rng.shuffle(queries)
    pool = [(h, p) for h in sorted(sections) for p in sections[h]]
    pool_tokens = [_tokens(p) for _, p in pool]
    pairs: list[tuple[str, str]] = []
    for query in queries:
        own = sections[query][:2]
        q_tokens = _tokens(query)
        foreign = [i for i, (h, _) in enumerate(pool) if h != query]
        close = sorted(foreign, key=lambda i: (-len(q_tokens & pool_tokens[i]), i))[:2]
        rest = rng.sample(foreign, k=min(len(foreign), per_query - len(own) - len(close)))
        for doc in [*own, *(pool[i][1] for i in close + rest)]:
            pairs.append((query, doc))
            if limit is not None and len(pairs) >= limit:
                return pairs
    return pairs


def reference_pairs(limit: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    """Pairs from the Language Reference (the quickstart's training distribution)."""
    return build_pairs(reference_sections(), limit=limit, seed=seed)


def library_pairs(limit: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    """Pairs from standard-library docstrings (the quickstart's shifted production traffic)."""
    return build_pairs(library_sections(), limit=limit, seed=seed)
