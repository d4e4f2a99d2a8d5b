"""Readers: the three formats, ids, streaming, and every malformed-input case."""

from __future__ import annotations

import gzip
import json

import pytest

from rerank.errors import InputError
from rerank.readers import Fields, read_items


def test_jetts_rows_become_items(tmp_path, write_jsonl, jetts_row):
    """A JETTS row gives prompt, candidate texts, and labels from metadata.score."""
    path = write_jsonl(
        tmp_path / "a.jsonl", [jetts_row("p", ["x", "y"], [0.0, 1.0], task_id="T/1")]
    )
    (item,) = read_items(path)
    assert item.id == "T/1"
    assert item.prompt == "p"
    assert [c.text for c in item.candidates] == ["x", "y"]
    assert item.labels.scores == (0.0, 1.0)
    assert item.source == str(path) and item.line == 1


def test_simple_rows_accept_strings_and_objects(tmp_path, write_jsonl):
    """Simple rows take candidates as strings or {"text"} objects, with scores and task."""
    row = {
        "id": "q1",
        "prompt": "p",
        "candidates": ["a", {"text": "b", "model": "m"}],
        "task": {"kind": "code", "tests": ["assert f() == 1"]},
        "scores": [1, 0],
    }
    (item,) = read_items(write_jsonl(tmp_path / "s.jsonl", [row]))
    assert [c.text for c in item.candidates] == ["a", "b"]
    assert item.task.kind == "code"
    assert item.task.resources == {"tests": ["assert f() == 1"]}
    assert item.labels.scores == (1.0, 0.0)
    assert item.labels.candidates[1] == {"model": "m"}


def test_id_falls_back_to_task_id_then_line_index(tmp_path, write_jsonl, jetts_row):
    """The id is the row's own id, else query.metadata.task_id, else the 0-based row index."""
    rows = [
        {**jetts_row("p", ["x"], [1.0], task_id="T/9"), "id": "own"},
        jetts_row("p", ["x"], [1.0], task_id="T/1"),
        jetts_row("p", ["x"], [1.0]),
    ]
    ids = [i.id for i in read_items(write_jsonl(tmp_path / "a.jsonl", rows))]
    assert ids == ["own", "T/1", "2"]


def test_gzipped_jsonl_is_read(tmp_path, jetts_row):
    """.jsonl.gz files are read like plain ones."""
    path = tmp_path / "a.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps(jetts_row("p", ["x", "y"], [1, 0])) + "\n")
    (item,) = read_items(path)
    assert item.n == 2


def test_reading_is_lazy(tmp_path, write_jsonl):
    """Rows are parsed one at a time: the first item arrives before a bad later row is seen."""
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [{"prompt": "p", "candidates": ["a"]}, {}],
        raw_lines={1: b"{not json"},
    )
    items = read_items(path)
    assert next(items).prompt == "p"
    with pytest.raises(InputError):
        next(items)


def test_parquet_and_csv_with_column_options(tmp_path):
    """Tables that datasets loads are read with --prompt-field / --candidates-field."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"question": ["p1", "p2"], "outs": [["a", "b"], ["c"]], "key": ["k1", "k2"]})
    pq.write_table(table, tmp_path / "t.parquet")
    fields = Fields(prompt="question", candidates="outs", id="key")
    items = list(read_items(tmp_path / "t.parquet", fields=fields))
    assert [(i.id, i.prompt, i.n) for i in items] == [("k1", "p1", 2), ("k2", "p2", 1)]

    (tmp_path / "t.csv").write_text('question,outs\np1,"[""a"", ""b""]"\n')
    (item,) = read_items(tmp_path / "t.csv", fields=Fields(prompt="question", candidates="outs"))
    assert [c.text for c in item.candidates] == ["a", "b"] and item.id == "0"


def test_dotted_fields_reach_nested_columns(tmp_path, write_jsonl):
    """A dotted field path reads a nested value."""
    row = {"q": {"text": "p"}, "gen": {"outs": ["a", "b"]}}
    fields = Fields(prompt="q.text", candidates="gen.outs")
    (item,) = read_items(write_jsonl(tmp_path / "n.jsonl", [row]), fields=fields)
    assert item.prompt == "p" and item.n == 2


def test_json_array_file_is_read(tmp_path):
    """A .json file holding an array of rows is read through datasets."""
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"prompt": "p", "candidates": ["a", "b"]}]))
    (item,) = read_items(path)
    assert item.n == 2


BAD_ROWS = [
    # (raw line, expected field, words in the message)
    (b'{"prompt": "p", "candidates": ["a"', None, "invalid JSON"),
    (b'["a", "b"]', None, "expected a JSON object"),
    (b'{"prompt": "p", "candidates": ["a"]}\xff', None, "invalid UTF-8"),
    (b'{"candidates": ["a"]}', "prompt", "missing"),
    (b'{"prompt": "p"}', "candidates", "missing"),
    (b'{"prompt": "p", "candidates": []}', "candidates", "empty candidate list"),
    (b'{"prompt": "p", "candidates": ["a", 3]}', "candidates[1]", "expected a string, got int"),
    (b'{"prompt": "p", "candidates": "a"}', "candidates", "expected a list"),
    (b'{"prompt": 7, "candidates": ["a"]}', "prompt", "expected a string"),
    (b'{"prompt": "p", "candidates": ["a"], "scores": [1, 2]}', "scores", "one per candidate"),
    (b'{"prompt": "p", "candidates": ["a"], "scores": ["x"]}', "scores[0]", "expected a number"),
    (
        b'{"prompt": "p", "candidates": ["a"], "task": {"kind": "poetry"}}',
        "task.kind",
        "unknown task kind",
    ),
    (b'{"query": {"content": "p"}, "responses": []}', "responses", "empty candidate list"),
    (b'{"query": {"metadata": {}}, "responses": [{"content": "a"}]}', "query.content", "missing"),
    (
        b'{"query": {"content": "p"}, "responses": [{"content": 1}]}',
        "responses[0].content",
        "expected a string",
    ),
    (
        b'{"query": {"content": "p"}, "responses": [{"content": "a", "metadata": {"score": "hi"}}]}',  # noqa: E501
        "responses[0].metadata.score",
        "expected a number",
    ),
    # JSON that json.loads cannot take in (a RecursionError, int->str's digit limit)
    (
        b'{"prompt": "p", "candidates": ["a"], "x": ' + b"[" * 10**5 + b"]" * 10**5 + b"}",
        None,
        "nested too deeply",
    ),
    (
        b'{"prompt": "p", "candidates": ["a"], "x": ' + b"7" * 5000 + b"}",
        None,
        "more than 4300 digits",
    ),
    # resources of the wrong shape, caught when read rather than when judged
    (
        b'{"prompt": "p", "candidates": ["a"], "task": {"tests": 5}}',
        "task.tests",
        "expected a string or a list of strings, got int",
    ),
    (
        b'{"prompt": "p", "candidates": ["a"], "task": {"tests": ["ok", 3]}}',
        "task.tests[1]",
        "expected a string, got int",
    ),
    (
        b'{"prompt": "p", "candidates": ["a"], "task": {"inputs": "1, 2"}}',
        "task.inputs",
        "expected a list",
    ),
    (
        b'{"prompt": "p", "candidates": ["a"], "task": {"entry_point": ["f"]}}',
        "task.entry_point",
        "expected a string, got list",
    ),
    (
        b'{"prompt": "p", "candidates": ["a"], "task": {"instruction_id_list": ["a", true]}}',
        "task.instruction_id_list[1]",
        "expected a string, got bool",
    ),
    (
        b'{"prompt": "p", "candidates": ["a"], "task": {"kwargs": [{}, 1]}}',
        "task.kwargs[1]",
        "expected an object or null",
    ),
    (
        b'{"query": {"content": "p", "metadata": {"kwargs": {"n": 1}}}, '
        b'"responses": [{"content": "a"}]}',
        "query.metadata.kwargs",
        "expected a list of objects, got dict",
    ),
    # a string holding a JSON list (a CSV cell) is parsed, and must parse
    (b'{"prompt": "p", "candidates": ["a"], "scores": "[1,"}', "scores", "invalid JSON"),
]


@pytest.mark.parametrize(("raw", "field", "words"), BAD_ROWS)
def test_malformed_row_error_names_file_line_and_field(tmp_path, write_jsonl, raw, field, words):
    """Every malformed row raises an InputError naming file, line and field."""
    good = {"prompt": "ok", "candidates": ["a"]}
    path = write_jsonl(tmp_path / "bad.jsonl", [good, good, good], raw_lines={1: raw})
    with pytest.raises(InputError) as info:
        list(read_items(path))
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), 2, field)
    assert words in str(err)
    assert str(err).startswith(f"{path}:2:")


def test_resources_of_the_right_shape_reach_the_item(tmp_path, write_jsonl):
    """Every resource shape the verifiers take passes, null included (an absent resource)."""
    task = {
        "tests": "assert f() == 1",
        "inputs": [[1, 2], "3", 4],
        "entry_point": "f",
        "instruction_id_list": ["length_constraints:number_words"],
        "kwargs": [{"num_words": 3}, None],
    }
    rows = [
        {"prompt": "p", "candidates": ["a"], "task": task},
        {"prompt": "p", "candidates": ["a"], "task": {"tests": None, "kwargs": None}},
    ]
    items = list(read_items(write_jsonl(tmp_path / "r.jsonl", rows)))
    assert items[0].task.resources == task
    assert items[1].task.resources == {"tests": None, "kwargs": None}


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"prompt": "p", "candidates": ["a"], "reference": {"answer": 4}}, "reference"),
        ({"prompt": "p", "candidates": ["a"], "task": {"reference": True}}, "task.reference"),
    ],
)
def test_an_exposed_reference_must_be_a_string_or_a_number(tmp_path, write_jsonl, row, field):
    """--expose reference checks the reference's shape, and names where it came from."""
    path = write_jsonl(tmp_path / "e.jsonl", [row])
    with pytest.raises(InputError) as info:
        list(read_items(path, expose=("reference",)))
    assert info.value.field == field and "expected a string or a number" in str(info.value)
    (item,) = read_items(path)  # not exposed: a hidden label, whatever its shape
    assert "reference" not in item.task.resources


def test_duplicate_ids_are_rejected(tmp_path, write_jsonl):
    """A second row with an id already seen in the file is an error at its own line."""
    rows = [{"id": "x", "prompt": "p", "candidates": ["a"]}] * 2
    with pytest.raises(InputError, match=r":2: field 'id': duplicate id 'x'"):
        list(read_items(write_jsonl(tmp_path / "d.jsonl", rows)))


def test_skip_invalid_reports_and_keeps_going(tmp_path, write_jsonl):
    """With on_invalid, bad rows are reported (with their line) and the good ones all come."""
    good = [{"id": str(i), "prompt": "p", "candidates": ["a"]} for i in range(5)]
    path = write_jsonl(tmp_path / "m.jsonl", good, raw_lines={1: b"oops", 3: b'{"prompt": "p"}'})
    errors: list[InputError] = []
    items = list(read_items(path, on_invalid=errors.append))
    assert [i.id for i in items] == ["0", "2", "4"]
    assert [(e.line, e.field) for e in errors] == [(2, None), (4, "candidates")]


def test_missing_file_is_an_input_error(tmp_path):
    """A path that does not exist is reported as such, not as a hub dataset."""
    with pytest.raises(InputError, match="no such file"):
        list(read_items(tmp_path / "nope.jsonl"))


def test_shared_candidate_files_read_cleanly(shared_data):
    """Every shared JETTS candidate file reads without a single invalid row."""
    for path in sorted((shared_data / "candidates").glob("*.jsonl.gz")):
        errors: list[InputError] = []
        items = list(read_items(path, on_invalid=errors.append))
        assert not errors, errors[:3]
        assert len(items) >= 164
        assert all(i.labels.complete for i in items)
