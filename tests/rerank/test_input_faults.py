"""Faults of inputs, outputs and the process: each ends in one line, the right exit code,
and every row finished before it written.

Exit codes (docs/formats.md): 1 an error rerank names, 70 a bug, 130 Ctrl-C.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from rerank.cli import main
from rerank.cli.errors import EXIT_INTERNAL, EXIT_INTERRUPTED
from rerank.errors import InputError, JudgeError
from rerank.judges import BaseJudge, Verdict, register_judge
from rerank.readers import read_items
from rerank.run import RunOptions, run_select

JUDGE = ["--judge", "simulated:1.0"]  # reads labels: no verifier, no sandbox, fast


def _rows(n: int) -> list[dict]:
    return [
        {"id": f"r{k}", "prompt": f"p{k}", "candidates": [f"a{k}", f"bb{k}"], "scores": [0, 1]}
        for k in range(n)
    ]


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _select(*args: str):
    return CliRunner().invoke(main, ["select", *args])


DEEP = b'{"id": "deep", "prompt": "p", "candidates": ["a"], "x": ' + b"[" * 10**5 + b"]" * 10**5
BAD_ROW_LINES = {
    "deeply nested": (DEEP + b"}", "nested too deeply"),
    "5000 digits": (
        b'{"id": "big", "prompt": "p", "candidates": ["a"], "n": ' + b"9" * 5000 + b"}",
        "4300 digits",
    ),
    "tests: 5": (
        b'{"id": "t", "prompt": "p", "candidates": ["a"], "task": {"tests": 5}}',
        "field 'task.tests': expected a string or a list of strings",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ROW_LINES))
def test_a_bad_row_is_one_line_after_the_rows_before_it(tmp_path, write_jsonl, case):
    """Each bad row stops the run with file:line (and field) in one line, exit 1; rows
    before it are written; --skip-invalid reports it and writes every other row."""
    raw, words = BAD_ROW_LINES[case]
    path = write_jsonl(tmp_path / "in.jsonl", _rows(5), raw_lines={2: raw})
    out = tmp_path / "out.jsonl"
    result = _select(str(path), *JUDGE, "--out", str(out))
    assert result.exit_code == 1
    (line,) = _lines(result.stderr)
    assert line.startswith(f"Error: {path}:3: ") and words in line
    assert _ids(out) == ["r0", "r1"]

    skipped = _select(str(path), *JUDGE, "--out", str(out), "--overwrite", "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert f"skipped invalid row: {path}:3: " in skipped.stderr and words in skipped.stderr
    assert _ids(out) == ["r0", "r1", "r3", "r4"]


def test_a_gz_file_that_is_not_gzip_is_one_line(tmp_path, write_jsonl):
    """A .gz file holding plain text is reported as such, not as a BadGzipFile traceback."""
    path = write_jsonl(tmp_path / "plain.jsonl.gz", _rows(3))
    result = _select(str(path), *JUDGE)
    assert result.exit_code == 1
    assert _lines(result.stderr) == [
        f"Error: {path}: not a gzip file, although its name ends in .gz"
    ]


def _truncated_gz(path: Path, n: int) -> int:
    """Write n rows gzipped and cut in half; returns how many whole lines survive."""
    data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in _rows(n)))
    path.write_bytes(data[: len(data) // 2])
    return zlib.decompressobj(31).decompress(data[: len(data) // 2]).count(b"\n")


def test_a_truncated_gz_keeps_every_row_before_the_break(tmp_path):
    """Every row before the break is selected and written, then one line names the file and
    the line where reading stopped, exit 1 (with or without --skip-invalid: it is no row)."""
    path = tmp_path / "cut.jsonl.gz"
    whole = _truncated_gz(path, 5000)
    assert 1000 < whole < 4000
    out = tmp_path / "out.jsonl"
    for extra in ([], ["--skip-invalid"]):
        result = _select(str(path), *JUDGE, "--out", str(out), "--overwrite", *extra)
        assert result.exit_code == 1
        assert _lines(result.stderr) == [
            f"Error: {path}:{whole + 1}: reading stopped here: the file is cut short (its gzip "
            f"data ends early); the {whole} lines before were read"
        ]
        assert _ids(out) == [f"r{k}" for k in range(whole)]


def test_read_items_yields_the_rows_before_an_unreadable_part(tmp_path):
    """The reader yields every whole row, then raises, even with an on_invalid callback."""
    path = tmp_path / "cut.jsonl.gz"
    whole = _truncated_gz(path, 3000)
    seen, skipped = [], []
    with pytest.raises(InputError) as info:
        for item in read_items(path, on_invalid=skipped.append):
            seen.append(item.id)
    assert len(seen) == whole and not skipped
    assert (info.value.file, info.value.line, info.value.field) == (str(path), whole + 1, None)


CSV = (
    "id,prompt,candidates,scores\n"
    'a,p1,"[""x"", ""yy""]","[1, 0]"\n'
    'b,"a prompt\n'
    'on two lines","[""x""]",\n'
    'c,p3,"[""x""]","[1, 0]"\n'
)


def test_csv_scores_cells_are_json_and_lines_are_file_lines(tmp_path):
    """A scores cell holding [1, 0] is parsed like a candidates cell; errors name the file
    line (the header is line 1, a quoted cell may span lines); an empty cell is absent."""
    path = tmp_path / "t.csv"
    path.write_text(CSV)
    errors: list[InputError] = []
    items = list(read_items(path, on_invalid=errors.append))
    assert [(i.id, i.line, i.labels.scores) for i in items] == [
        ("a", 2, (1.0, 0.0)),
        ("b", 3, (None,)),
    ]
    assert items[1].prompt == "a prompt\non two lines"
    assert [(e.line, e.field) for e in errors] == [(5, "scores")]
    result = _select(str(path), *JUDGE)
    assert result.exit_code == 1
    assert _lines(result.stderr) == [
        f"Error: {path}:5: field 'scores': expected a list of 1 numbers (one per candidate)"
    ]
    assert _ids_text(result.stdout) == ["a", "b"]


def _ids_text(text: str) -> list[str]:
    return [json.loads(line)["id"] for line in text.splitlines() if line.startswith("{")]


def test_csv_bad_cells_fail_their_row_only(tmp_path):
    """Invalid UTF-8 in a cell and a row with more cells than the header are row errors."""
    path = tmp_path / "t.csv"
    path.write_bytes(b'prompt,candidates\np\xff,"[""x""]"\np,"[""x""]",extra\nq,"[""x""]"\n')
    errors: list[InputError] = []
    items = list(read_items(path, on_invalid=errors.append))
    assert [i.prompt for i in items] == ["q"]
    assert [(e.line, e.field) for e in errors] == [(2, "prompt"), (3, None)]
    assert "invalid UTF-8" in str(errors[0]) and "3 cells" in str(errors[1])


# --- a full disk ---------------------------------------------------------------------------

needs_dev_full = pytest.mark.skipif(
    not os.path.exists("/dev/full"), reason="no /dev/full here to stand for a full disk"
)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from rerank.cli import main; main()", *args]


@needs_dev_full
def test_a_full_disk_on_out_is_one_line_saying_how_to_finish(tmp_path, write_jsonl):
    """ENOSPC on --out: one line naming the file, the full disk and --resume; exit 1."""
    path = write_jsonl(tmp_path / "in.jsonl", _rows(20))
    done = subprocess.run(
        _cli("select", str(path), *JUDGE, "--out", "/dev/full", "--overwrite"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert _lines(done.stderr) == [
        "Error: cannot write /dev/full: the disk is full (no space left on device); /dev/full "
        "keeps every finished row: free some space, then run the same command with --resume "
        "(same --out) to finish the run"
    ]


@needs_dev_full
@pytest.mark.parametrize("trace", [False, True])
def test_a_full_disk_on_stdout_or_trace_is_one_line(tmp_path, write_jsonl, trace):
    """ENOSPC on stdout (or on --trace with rows on stdout): one line, no second traceback
    from the flush at exit, and no false promise of --resume."""
    path = write_jsonl(tmp_path / "in.jsonl", _rows(20))
    args = ["--trace", "/dev/full"] if trace else []
    with open(os.devnull if trace else "/dev/full", "w") as stdout:
        done = subprocess.run(
            _cli("select", str(path), *JUDGE, *args),
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    name = "/dev/full" if trace else "stdout"
    assert _lines(done.stderr) == [
        f"Error: cannot write {name}: the disk is full (no space left on device); the rows "
        "finished so far went to stdout, which cannot be resumed: free some space, then run "
        "again to finish (with --out FILE, --resume can finish a stopped run)"
    ]


TINY_DISK = """
set -e
mount -t tmpfs -o size=64k tmpfs "$DISK"
set +e
"$@" --out "$DISK/out.jsonl"
echo "exit=$?" >&2
set -e
cp "$DISK/out.jsonl" "$DISK.partial"
mount -o remount,size=8m "$DISK"
"$@" --out "$DISK/out.jsonl" --resume
cp "$DISK/out.jsonl" "$DISK.final"
"""


def test_a_full_tmpfs_then_resume_finishes_the_run(tmp_path, write_jsonl):
    """On a 64 KiB tmpfs the run stops with one line; once there is room, --resume finishes
    it with every id exactly once (needs a private mount namespace: unshare -m as root)."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("unshare or mount is missing")
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private namespace: {probe.stderr.decode()[:80]}")
    n = 400
    rows = [dict(r, prompt="p" * 50, candidates=["a" * 300, "b" * 300]) for r in _rows(n)]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", TINY_DISK, "sh", *_cli("select", str(path), *JUDGE)],
        env={**os.environ, "DISK": str(disk)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    first, exit_line = _lines(done.stderr)[:2]
    assert first.startswith(f"Error: cannot write {disk}/out.jsonl: the disk is full")
    assert "--resume (same --out) to finish the run" in first
    assert exit_line == "exit=1"
    partial = [
        json.loads(line)["id"] for line in Path(f"{disk}.partial").read_text().splitlines()[:-1]
    ]
    assert 0 < len(partial) < n  # the last line may be torn
    assert _ids(Path(f"{disk}.final")) == [f"r{k}" for k in range(n)]


# --- Ctrl-C --------------------------------------------------------------------------------


@register_judge("interrupting")
class InterruptingJudge(BaseJudge):
    """Stands for a Ctrl-C on the item whose prompt is p3."""

    def __init__(self):
        self.spec = "interrupting"

    async def compare(self, item, a, b):
        if item.prompt == "p3":
            raise KeyboardInterrupt
        return Verdict("b")


def test_ctrl_c_on_stdout_says_it_cannot_be_resumed(tmp_path, write_jsonl):
    """With rows on stdout the line says a rerun is needed, since stdout cannot be resumed."""
    path = write_jsonl(tmp_path / "in.jsonl", _rows(6))
    result = _select(str(path), "--judge", "interrupting", "--concurrency", "1")
    assert result.exit_code == EXIT_INTERRUPTED
    assert _lines(result.stderr) == [
        "Interrupted: the rows finished so far went to stdout, which cannot be resumed: run "
        "again to finish (with --out FILE, --resume can finish a stopped run)"
    ]
    written = _ids_text(result.stdout)
    assert 1 <= len(written) <= 3 and written == [f"r{k}" for k in range(len(written))]


# --- judge failures and bugs -----------------------------------------------------------------


@register_judge("fragile")
class FragileJudge(BaseJudge):
    """Fails on p3: with ``bug`` a ZeroDivisionError, else the judge-failure error."""

    def __init__(self, bug: str = "false"):
        self.bug = bug == "true"
        self.spec = f"fragile:bug={bug}"

    async def compare(self, item, a, b):
        if item.prompt == "p3":
            if self.bug:
                return Verdict("a" if 1 / 0 else "b")
            raise JudgeError("the judge gave up on p3")
        return Verdict("b")


def test_a_judge_failure_fails_its_item_for_resume(tmp_path, write_jsonl):
    """JudgeError: the item is reported, not written, the rest are; exit 1, retry advised."""
    path = write_jsonl(tmp_path / "in.jsonl", _rows(6))
    out = tmp_path / "out.jsonl"
    result = _select(str(path), "--judge", "fragile", "--out", str(out))
    assert result.exit_code == 1
    assert f"{path}:4: item 'r3' failed: JudgeError: the judge gave up on p3" in result.stderr
    assert "1 failed (rerun with --resume to retry)" in result.stderr
    assert _ids(out) == ["r0", "r1", "r2", "r4", "r5"]


def test_a_bug_is_an_internal_error_with_its_traceback_in_a_log(tmp_path, write_jsonl, monkeypatch):
    """Any other exception is a bug: one line asking for a report, exit 70 (not 1), the
    traceback in the log file it names; the rows before it are written."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = write_jsonl(tmp_path / "in.jsonl", _rows(6))
    out = tmp_path / "out.jsonl"
    result = _select(
        str(path), "--judge", "fragile:bug=true", "--out", str(out), "--concurrency", "1"
    )
    assert result.exit_code == EXIT_INTERNAL
    (line,) = _lines(result.stderr)
    assert line.startswith("Error: internal error (ZeroDivisionError: division by zero): ")
    assert "this is a bug in rerank; please report it" in line and "retry" not in line
    (log,) = tmp_path.glob("rerank-internal-error-*.log")
    assert f"the traceback in {log} (--debug shows it here)" in line
    assert "Traceback" in log.read_text() and "1 / 0" in log.read_text()
    assert _ids(out)[:3] == ["r0", "r1", "r2"] and "r3" not in _ids(out)


def test_run_select_raises_a_bug_itself(tmp_path, write_jsonl):
    """The library lets the bug through instead of counting a failed item."""
    path = write_jsonl(tmp_path / "in.jsonl", _rows(6))
    options = RunOptions(paths=[str(path)], out=str(tmp_path / "o.jsonl"), judge="fragile:bug=true")
    with pytest.raises(ZeroDivisionError):
        asyncio.run(run_select(options, say=lambda message: None))


def test_debug_shows_the_traceback_of_a_bug(tmp_path, write_jsonl, monkeypatch):
    """--debug prints the traceback on stderr instead of saving it."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = write_jsonl(tmp_path / "in.jsonl", _rows(6))
    result = _select(str(path), "--judge", "fragile:bug=true", "--debug")
    assert result.exit_code == EXIT_INTERNAL
    assert "Traceback (most recent call last)" in result.stderr and "1 / 0" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].endswith("with the traceback above")
    assert not list(tmp_path.glob("rerank-internal-error-*.log"))


@pytest.mark.parametrize(
    ("fault", "code", "said"),
    [
        (ZeroDivisionError("boom"), EXIT_INTERNAL, "internal error (ZeroDivisionError: boom)"),
        (KeyboardInterrupt(), EXIT_INTERRUPTED, "Interrupted: the report in"),
        (InputError("missing", file="f.jsonl", line=3, field="prompt"), 1, "f.jsonl:3"),
    ],
)
def test_report_ends_every_fault_in_one_line(tmp_path, monkeypatch, fault, code, said):
    """``rerank report`` ends a bug, Ctrl-C and a named error as ``select`` does."""
    import rerank.cli.report

    async def broken(*args, **kwargs):
        raise fault

    monkeypatch.setattr(rerank.cli.report, "arun_report", broken)
    source = tmp_path / "in.jsonl"
    source.write_text('{"prompt": "p", "candidates": ["a", "b"]}\n')
    result = CliRunner().invoke(main, ["report", str(source), "-o", str(tmp_path / "r")])
    assert result.exit_code == code, result.output
    assert said in result.output
    assert "Traceback" not in result.output
