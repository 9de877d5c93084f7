"""Text embeddings kept on disk, so a query memory's cold start embeds each document once.

A fresh process with a query memory fits its fallback maps over every query it holds, which embeds
every labelled document with the base (measured on a DL20 week: 85 of 155 s). A base's embedding of
a text never changes, so it is content-addressed like a teacher label: keyed on the base's digest
(its files' bytes) and the text, in a diskcache under ``$JUDGECACHE_DIR/embeddings``, shared by
processes and runs. A stored vector of the wrong size is ignored and recomputed.

The same store keeps a student's logits of its memory's labelled pairs (one-value vectors of the
JSON text ``[query, doc]``, keyed on the student's version and base; ``StudentTeacher``), so a
fresh process does not score them again either.

Example:
    >>> import tempfile
    >>> import numpy as np
    >>> calls = []
    >>> def embed(texts):
    ...     calls.append(list(texts))
    ...     return np.ones((len(texts), 3), dtype=np.float32)
    >>> stored = StoredEmbeddings(embed, "base-digest", tempfile.mkdtemp())
    >>> stored(["a", "b"]).shape, stored(["b", "c"]).shape, calls
    ((2, 3), (2, 3), [['a', 'b'], ['c']])
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import diskcache
import numpy as np
from numpy.typing import NDArray

Embed = Callable[[Sequence[str]], NDArray[Any]]


class StoredEmbeddings:
    """An embedder whose vectors are read from (and written to) a diskcache first."""

    def __init__(self, embed: Embed, base_digest: str, directory: str | Path) -> None:
        self.embed = embed
        self.base_digest = base_digest
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.cache = diskcache.Cache(str(directory))

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.base_digest}\0{text}".encode()).hexdigest()

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.asarray(self.embed([]), dtype=np.float32)
        keys = [self.key(t) for t in texts]
        found = [self._read(k) for k in keys]
        missing = [i for i, v in enumerate(found) if v is None]
        if missing:
            todo = list(dict.fromkeys(texts[i] for i in missing))  # each text once
            vecs = self._embed_and_store(todo, [self.key(t) for t in todo])
            fresh = dict(zip(todo, vecs, strict=True))
            for i in missing:
                found[i] = fresh[texts[i]]
        vectors = [v for v in found if v is not None]
        if len({v.shape for v in vectors}) > 1:  # a stored vector of another size: recompute
            return self._embed_and_store(list(texts), keys)
        return np.stack(vectors)

    def _embed_and_store(self, texts: list[str], keys: list[str]) -> NDArray[np.float32]:
        fresh = np.asarray(self.embed(texts), dtype=np.float32)
        with self.cache.transact():
            for key, vec in zip(keys, fresh, strict=True):
                self.cache.set(key, vec.tobytes())
        return fresh

    def _read(self, key: str) -> NDArray[np.float32] | None:
        raw = self.cache.get(key)
        if not isinstance(raw, bytes) or len(raw) == 0 or len(raw) % 4:
            return None
        return np.frombuffer(raw, dtype=np.float32)

    def close(self) -> None:
        self.cache.close()


def base_digest(root: str | Path) -> str:
    """A base's identity: :func:`~judgecache.distill.student.files_digest` over its model files.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "config.json").write_text("{}")
    >>> len(base_digest(d))
    16
    """
    from judgecache.distill.student import files_digest

    return files_digest(sorted(p for p in Path(root).rglob("*") if p.is_file()))
