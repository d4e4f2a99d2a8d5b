"""Shared fixtures: writing candidate files, a judge that records what it is shown, and a
local Ray cluster on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rerank.judges import BaseJudge, Score, Verdict, register_judge

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
EXAMPLES = ROOT / "examples" / "candidates.jsonl"
#: The Ray cluster's node address: Ray rewrites 127.0.0.1 to the host's outward address,
#: and any loopback address keeps every byte on this machine.
RAY_NODE_IP = "127.0.0.2"


def write_jsonl(path: Path, rows: list, *, raw_lines: dict[int, bytes] | None = None) -> Path:
    """Write rows as JSON lines; ``raw_lines`` replaces given 0-based lines with raw bytes."""
    lines = [json.dumps(r).encode() for r in rows]
    for index, raw in (raw_lines or {}).items():
        lines[index] = raw
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def jetts_row(prompt: str, texts: list[str], scores: list[float], **metadata) -> dict:
    return {
        "query": {"content": prompt, "metadata": metadata},
        "responses": [
            {"content": t, "metadata": {"score": s, "generator": "g"}}
            for t, s in zip(texts, scores, strict=True)
        ],
    }


@register_judge("recording")
class RecordingJudge(BaseJudge):
    """Prefers the longer text; records repr() of every item it is handed."""

    seen: list[str] = []

    def __init__(self) -> None:
        self.spec = "recording"

    async def compare(self, item, a, b):
        RecordingJudge.seen.append(repr(item))
        ta, tb = item.candidates[a].text, item.candidates[b].text
        if len(ta) == len(tb):
            return Verdict("tie", judge=self.name)
        return Verdict("a" if len(ta) > len(tb) else "b", judge=self.name)

    async def score(self, item, index):
        RecordingJudge.seen.append(repr(item))
        return Score(float(len(item.candidates[index].text)), judge=self.name)


@pytest.fixture(name="write_jsonl")
def write_jsonl_fixture():
    """The :func:`write_jsonl` helper (test modules cannot import conftest)."""
    return write_jsonl


@pytest.fixture(name="jetts_row")
def jetts_row_fixture():
    """The :func:`jetts_row` helper."""
    return jetts_row


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip where it is absent (a user's fresh clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def examples_file() -> Path:
    return EXAMPLES


@pytest.fixture
def recording_judge():
    RecordingJudge.seen = []
    yield RecordingJudge
    RecordingJudge.seen = []


@pytest.fixture(scope="module")
def iso():
    """The sandbox tier detected here; tests run under it (skipping where it cannot run)."""
    from rerank.sandbox.runner import isolation

    detected = isolation()
    if detected.process_limit == "none":
        pytest.skip(f"no sandbox tier works here: {detected.notes}")
    return detected


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs on loopback (node 127.0.0.2) for one test module; its
    GCS address. Skips where Ray (an optional extra) is not installed."""
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e '.[ray]'")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        logging_level="warning",
        log_to_driver=False,
        _node_ip_address=RAY_NODE_IP,
    )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
