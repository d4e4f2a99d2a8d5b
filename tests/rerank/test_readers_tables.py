"""Any table as input: save_to_disk folders, field paths into lists, and CSV cells that hold
the Python literals pandas writes."""

from __future__ import annotations

import json
import random
import tracemalloc

import datasets  # noqa: E402  - a required dependency: never a reason to skip
import pytest

from rerank.cells import parse_container, parse_python_literal
from rerank.errors import InputError
from rerank.readers import Fields, read_items
from rerank.sources import is_dataset_folder

CHATS = [
    {
        "key": "c1",
        "messages": [{"role": "user", "content": "add 1 and 2"}, {"role": "assistant"}],
        "outs": ["3", "4"],
    },
    {
        "key": "c2",
        "messages": [{"role": "user", "content": "add 2 and 2"}, {"role": "assistant"}],
        "outs": ["4"],
    },
]
CHAT_FIELDS = Fields(prompt="messages.0.content", candidates="outs", id="key")


def _error(source, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        list(read_items(source, **kwargs))
    return info.value


# --- folders written by save_to_disk ---------------------------------------------------------


@pytest.fixture
def dataset_folder(tmp_path):
    """A Dataset saved with save_to_disk (the folder holds arrow files and state.json)."""
    folder = tmp_path / "chats"
    datasets.Dataset.from_list(CHATS).save_to_disk(str(folder))
    return folder


@pytest.fixture
def dict_folder(tmp_path):
    """A DatasetDict of two splits saved with save_to_disk."""
    folder = tmp_path / "both"
    splits = {"train": CHATS[:1], "test": CHATS[1:]}
    datasets.DatasetDict(
        {name: datasets.Dataset.from_list(rows) for name, rows in splits.items()}
    ).save_to_disk(str(folder))
    return folder


def test_a_save_to_disk_folder_is_read_as_a_table(dataset_folder):
    """A Dataset folder's rows become items, numbered from 1, with the folder as source."""
    items = list(read_items(dataset_folder, fields=CHAT_FIELDS))
    assert [(i.id, i.prompt, i.n, i.line) for i in items] == [
        ("c1", "add 1 and 2", 2, 1),
        ("c2", "add 2 and 2", 1, 2),
    ]
    assert items[0].source == str(dataset_folder)


def test_a_datasetdict_split_is_named_after_two_colons(dict_folder):
    """folder::test reads that split, and the items' source keeps the split."""
    (item,) = read_items(f"{dict_folder}::test", fields=CHAT_FIELDS)
    assert (item.id, item.source) == ("c2", f"{dict_folder}::test")
    (item,) = read_items(dict_folder, fields=CHAT_FIELDS, split="train")
    assert item.id == "c1"


def test_a_datasetdict_of_one_split_needs_no_name(tmp_path):
    """With a single split, that split is read."""
    folder = tmp_path / "one"
    datasets.DatasetDict({"validation": datasets.Dataset.from_list(CHATS)}).save_to_disk(
        str(folder)
    )
    assert [i.id for i in read_items(folder, fields=CHAT_FIELDS)] == ["c1", "c2"]


def test_a_datasetdict_of_several_splits_lists_them(dict_folder):
    """Without a split, the error names the folder, lists the splits and shows the syntax."""
    err = _error(dict_folder, fields=CHAT_FIELDS)
    assert (err.file, err.line) == (str(dict_folder), None)
    assert "splits train, test" in str(err) and f"{dict_folder}::train" in str(err)
    err = _error(f"{dict_folder}::dev", fields=CHAT_FIELDS)
    assert "no split 'dev' (the splits are train, test)" in str(err)
    assert err.file == f"{dict_folder}::dev"


def test_a_split_of_a_plain_dataset_or_a_file_is_an_error(dataset_folder, tmp_path):
    """A Dataset folder has no splits, nor has a file: '::x' after one is refused."""
    assert "no splits" in str(_error(f"{dataset_folder}::train"))
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"prompt": "p", "candidates": ["a"]}) + "\n")
    assert "dataset folder or a hub dataset" in str(_error(f"{path}::train"))


def test_a_folder_not_written_by_save_to_disk_is_a_clear_error(tmp_path):
    """Any other folder is an InputError naming it (not an IsADirectoryError)."""
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.jsonl").write_text("{}\n")
    err = _error(tmp_path / "plain")
    assert err.file == str(tmp_path / "plain") and "save_to_disk" in str(err)


def test_dataset_folders_are_told_from_folders_of_files(dataset_folder, dict_folder, tmp_path):
    """is_dataset_folder: true for save_to_disk folders (and folder::split), not for others."""
    (tmp_path / "plain").mkdir()
    assert is_dataset_folder(dataset_folder) and is_dataset_folder(f"{dict_folder}::test")
    assert not is_dataset_folder(tmp_path / "plain")
    assert not is_dataset_folder(tmp_path / "plain::x")


def test_a_broken_dataset_folder_is_an_input_error(dataset_folder):
    """A folder whose state.json is damaged fails as an InputError naming the folder."""
    (dataset_folder / "state.json").write_text("{not json")
    err = _error(dataset_folder, fields=CHAT_FIELDS)
    assert err.file == str(dataset_folder) and "load_from_disk" in str(err)


def test_a_bad_row_in_a_folder_names_folder_row_and_field(tmp_path):
    """Row errors in a folder name the folder, the row number and the field path."""
    folder = tmp_path / "bad"
    rows = [CHATS[0], {**CHATS[1], "messages": [{"role": "user", "content": None}]}]
    datasets.Dataset.from_list(rows).save_to_disk(str(folder))
    err = _error(folder, fields=Fields(prompt="messages.0.content", candidates="outs"))
    assert str(err) == f"{folder}:2: field 'messages.0.content': missing"


# --- field paths that index lists ------------------------------------------------------------


def test_field_paths_index_lists_from_either_end(tmp_path, write_jsonl):
    """messages.0.content is the first message, messages.-1.content the last."""
    row = {"messages": [{"content": "first"}, {"content": "last"}], "gen": [{"outs": ["a"]}]}
    path = write_jsonl(tmp_path / "m.jsonl", [row])
    fields = Fields(prompt="messages.0.content", candidates="gen.-1.outs")
    assert next(read_items(path, fields=fields)).prompt == "first"
    fields = Fields(prompt="messages.-1.content", candidates="gen.0.outs")
    (item,) = read_items(path, fields=fields)
    assert (item.prompt, [c.text for c in item.candidates]) == ("last", ["a"])


def test_a_number_step_into_an_object_is_a_key(tmp_path, write_jsonl):
    """Into an object, a numeric step is a key ("0"), as before lists were indexed."""
    row = {"by_turn": {"0": "p"}, "outs": ["a"]}
    path = write_jsonl(tmp_path / "k.jsonl", [row])
    assert (
        next(read_items(path, fields=Fields(prompt="by_turn.0", candidates="outs"))).prompt == "p"
    )


BAD_PATHS = [
    # (prompt path, words in the message)
    ("messages.2.content", "index 2 is out of range: 'messages' has 2 items"),
    ("messages.-3.content", "index -3 is out of range: 'messages' has 2 items"),
    ("messages.last.content", "'messages' is a list: index it with a number (messages.0"),
    ("messages.0.content.0", "'messages.0.content' is a str, not an object or a list"),
    ("n.0", "'n' is an int, not an object or a list"),
    ("messages.0.missing", "missing"),
]


@pytest.mark.parametrize(("prompt", "words"), BAD_PATHS)
def test_a_path_that_does_not_fit_the_row_names_file_line_and_path(tmp_path, prompt, words):
    """An out-of-range index or a step into a non-list is a one-line error at its row."""
    row = {"messages": [{"content": "hi"}, {"content": "bye"}], "n": 3, "candidates": ["a"]}
    path = tmp_path / "p.jsonl"
    path.write_text("\n" + json.dumps(row) + "\n")  # the row is on line 2
    err = _error(path, fields=Fields(prompt=prompt))
    assert (err.file, err.line, err.field) == (str(path), 2, prompt)
    assert str(err).startswith(f"{path}:2: field {prompt!r}: {words}")
    assert "\n" not in str(err)


def test_an_optional_field_through_null_is_absent_but_a_bad_index_is_not(tmp_path, write_jsonl):
    """A null on the way to the id is no id (the row index is); an index past the end errs."""
    rows = [{"prompt": "p", "candidates": ["a"], "meta": None}]
    path = write_jsonl(tmp_path / "o.jsonl", rows)
    assert next(read_items(path, fields=Fields(id="meta.ids.0"))).id == "0"
    path = write_jsonl(tmp_path / "o2.jsonl", [{**rows[0], "meta": {"ids": []}}])
    err = _error(path, fields=Fields(id="meta.ids.0"))
    assert (err.field, err.reason) == (
        "meta.ids.0",
        "index 0 is out of range: 'meta.ids' has 0 items",
    )


def test_tests_and_inputs_fields_become_visible_resources(tmp_path, write_jsonl):
    """Fields(tests=, inputs=) name the visible resources outside the task; they leave gold."""
    row = {
        "prompt": "p",
        "candidates": ["a"],
        "meta": {"checks": ["assert f(1) == 2"], "probe": [[1], [2]]},
        "task": {"tests": ["assert False"], "kind": "code"},
    }
    path = write_jsonl(tmp_path / "t.jsonl", [row])
    (item,) = read_items(path, fields=Fields(tests="meta.checks", inputs="meta.probe.-1"))
    assert item.task.resources == {"tests": ["assert f(1) == 2"], "inputs": [2]}
    (item,) = read_items(path)  # not named: the task's own
    assert item.task.resources == {"tests": ["assert False"]}


def test_a_resource_field_of_the_wrong_shape_is_named_by_its_path(tmp_path, write_jsonl):
    """A tests or inputs value of the wrong shape names the field path it came from."""
    path = write_jsonl(tmp_path / "w.jsonl", [{"prompt": "p", "candidates": ["a"], "io": "1, 2"}])
    err = _error(path, fields=Fields(inputs="io"))
    assert (err.line, err.field) == (1, "io") and "expected a list" in str(err)


# --- CSV written by pandas -------------------------------------------------------------------

import pandas  # noqa: E402  - installed with datasets (a required dependency)

TEXTS = [
    "it's four",
    'she said "four"',
    "both ' and \" and '''",
    "caf\u00e9 \u2615 \U0001d518 \u05e9\u05dc\u05d5\u05dd",
    "tab\there, newline\nhere, a backslash \\ and \\n",
    "\x00\u200b\ud7ff",
    "[not a list]",
    "",
]


def _to_csv(path, rows: list[dict], **kwargs):
    pandas.DataFrame(rows).to_csv(path, **kwargs)
    return path


def test_pandas_list_and_dict_cells_read_back_exactly(tmp_path):
    """Lists, dicts, quotes of both kinds, unicode and escapes round-trip through to_csv."""
    rows = [
        {
            "id": "q1",
            "prompt": "[INST] pick one [/INST]",
            "candidates": TEXTS,
            "scores": [1.0, 0.0, 1, 0, 0.5, 0, 0, 0],
            "task": {"kind": "code", "tests": ["assert f('[') == 1"], "entry_point": "f"},
        },
        {
            "id": "q2",
            "prompt": "{not an object either",
            "candidates": [{"text": "x'y", "score": 1.0, "model": "m\u00e9"}, {"text": "z"}],
            "scores": None,
            "task": None,
        },
    ]
    path = _to_csv(tmp_path / "p.csv", rows)  # default to_csv: an index column, too
    assert "'she said" in path.read_text(encoding="utf-8")  # written as a Python literal
    first, second = read_items(path)
    assert first.prompt == "[INST] pick one [/INST]"
    assert [c.text for c in first.candidates] == TEXTS
    assert first.labels.scores == (1.0, 0.0, 1.0, 0.0, 0.5, 0.0, 0.0, 0.0)
    assert first.task.kind == "code"
    assert first.task.resources == {"tests": ["assert f('[') == 1"], "entry_point": "f"}
    assert second.prompt == "{not an object either"
    assert [c.text for c in second.candidates] == ["x'y", "z"]
    assert second.labels.scores == (1.0, None)
    assert second.labels.candidates[0] == {"score": 1.0, "model": "m\u00e9"}


def test_pandas_chat_cells_are_reached_by_field_paths(tmp_path):
    """A messages column written by pandas is read when a path steps into it."""
    path = _to_csv(tmp_path / "c.csv", CHATS, index=False)
    fields = Fields(prompt="messages.0.content", candidates="outs", id="key")
    assert [(i.id, i.prompt) for i in read_items(path, fields=fields)] == [
        ("c1", "add 1 and 2"),
        ("c2", "add 2 and 2"),
    ]
    err = _error(path, fields=Fields(prompt="messages.-1.content", candidates="outs"))
    assert (err.line, err.field, err.reason) == (2, "messages.-1.content", "missing")


def test_a_string_that_starts_with_a_bracket_stays_a_string_where_one_may_be(tmp_path):
    """A tests cell may be one string: text that starts with [ but does not read stays text;
    one that reads as a list is a list."""
    rows = [
        {"prompt": "p", "candidates": ["a"], "check": "[f(x) for x in (1, 2)] == [1, 2]"},
        {"prompt": "p", "candidates": ["a"], "check": ["assert f(1) == 1", "assert f(2)"]},
    ]
    path = _to_csv(tmp_path / "s.csv", rows, index=False)
    first, second = read_items(path, fields=Fields(tests="check"))
    assert first.task.resources == {"tests": "[f(x) for x in (1, 2)] == [1, 2]"}
    assert second.task.resources == {"tests": ["assert f(1) == 1", "assert f(2)"]}


def test_a_numpy_array_cell_is_refused_not_merged(tmp_path):
    """Dataset.to_pandas() holds arrays, which to_csv prints as ['a' 'b'] (no commas): that
    is an error saying what to do, never the one candidate 'ab' Python would read."""
    frame = datasets.Dataset.from_list(CHATS).to_pandas()
    frame.to_csv(tmp_path / "np.csv", index=False)
    assert "['3' '4']" in (tmp_path / "np.csv").read_text()
    err = _error(tmp_path / "np.csv", fields=Fields(prompt="key", candidates="outs"))
    assert (err.line, err.field) == (2, "outs")
    assert "no comma between two items" in str(err) and ".tolist()" in str(err)


HOSTILE = [
    # (column, cell, words in the message)
    ("candidates", "[__import__('os').system('touch PWNED')]", "unexpected '__import__'"),
    ("candidates", "[" * 100_000 + "'a'" + "]" * 100_000, "nested too deeply"),
    ("scores", "['1', " + "9" * 5000 + "]", "more than 4300 digits"),
    ("candidates", "[0x" + "f" * 5000 + "]", "more than 4300 digits"),
    ("candidates", "['a', 'b'", "cut short"),
    ("candidates", "[b'bytes']", "bytes"),
    ("candidates", "['a', np.str_('b')]", "unexpected 'np'"),
    ("candidates", "['\\N{NO SUCH NAME}']", "cannot read"),
    ("task", "{1: 'code'}", "a dict key must be a string"),
]


@pytest.mark.parametrize(("column", "cell", "words"), HOSTILE)
def test_a_hostile_or_broken_literal_is_a_row_error(tmp_path, monkeypatch, column, cell, words):
    """Nothing in a cell runs, and what cannot be read (past the caps JSON has) fails its row
    with a one-line error naming file, line and column, and the next row still reads."""
    monkeypatch.chdir(tmp_path)
    rows = [
        {"prompt": "p", "candidates": "['a']", "scores": "[1]", "task": "{}"},
        {"prompt": "q", "candidates": "['b']", "scores": "[1]", "task": "{}"},
    ]
    rows[0][column] = cell
    path = _to_csv(tmp_path / "h.csv", rows, index=False)
    errors: list[InputError] = []
    items = list(read_items(path, on_invalid=errors.append))
    assert [i.prompt for i in items] == ["q"]
    (err,) = errors
    assert (err.file, err.line, err.field) == (str(path), 2, column)
    assert words in str(err) and "\n" not in str(err)
    assert not (tmp_path / "PWNED").exists()


def test_a_literal_cell_reads_in_memory_like_json():
    """A literal of 50,000 small items takes a small multiple of its size to read, as JSON
    does (ast.literal_eval's syntax tree would take ~500 bytes per character)."""
    text = "[" + "'a', 0, " * 50_000 + "]"
    tracemalloc.start()
    try:
        value = parse_container(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(value) == 100_000
    assert peak < 20 * len(text)


_CHARS = "ab '\"\\\n\t\x00\x7f\u00e9\u200b\u2615\ud800\U0001d518{}[],:#"


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_CHARS) for _ in range(rng.randrange(6)))


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.choice(["str", "int", "float", "const", "list", "dict"][: 6 if depth < 3 else 4])
    if kind == "str":
        return _random_text(rng)
    if kind == "int":
        return rng.choice([0, -1, 7, 10**30, -(2**70)])
    if kind == "float":
        return rng.choice([0.5, -1e-07, 1e300, 2.0, float("inf")])
    if kind == "const":
        return rng.choice([True, False, None])
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_random_text(rng): _random_value(rng, depth + 1) for _ in range(3)}


def test_python_literals_read_as_python_reads_them():
    """For 500 random values of the kinds a row holds, the repr that pandas writes reads
    back as the value itself (what ast.literal_eval gives, with inf as a float)."""
    rng = random.Random(14)
    for _ in range(500):
        value = [_random_value(rng)]
        assert parse_python_literal(repr(value)) == value, repr(value)


def test_python_only_spellings_are_read():
    """Trailing commas, prefixes, escapes, hex and underscores, nan: as Python reads them."""
    value = parse_python_literal("[1, 0x1F, 1_000, 1., .5, u'\\xe9', r'\\d', -inf, nan,]")
    assert value[:7] == [1, 31, 1000, 1.0, 0.5, "\u00e9", "\\d"]
    assert value[7] == float("-inf") and value[8] != value[8]
    assert parse_python_literal("{'a': {'b': [],},}") == {"a": {"b": []}}
