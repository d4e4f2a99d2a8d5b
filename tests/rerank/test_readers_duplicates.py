"""Duplicate ids: caught exactly (file, line, field, first line), never invented, in any source.

The reader keeps the ids it has read in a temporary on-disk index with a bounded page cache
(``rerank.readers.SEEN_IDS_CACHE_KIB``); these tests shrink that cache to a few pages so
that nearly every lookup goes to pages spilled to disk.
"""

from __future__ import annotations

import json
import os
import threading
import unicodedata

import pytest

from rerank import readers
from rerank.errors import InputError
from rerank.readers import read_items

ROWS = 100_000


def row(item_id: str | int) -> dict:
    return {"id": item_id, "prompt": "p", "candidates": ["a"]}


@pytest.fixture
def tiny_cache(monkeypatch):
    """A 16 KiB page cache: the index of a large file lives almost entirely on disk."""
    monkeypatch.setattr(readers, "SEEN_IDS_CACHE_KIB", 16)


def test_a_duplicate_names_file_line_field_and_first_line(tmp_path, write_jsonl):
    """The error is at the duplicate's own line, on field id, and names the first line."""
    path = write_jsonl(tmp_path / "d.jsonl", [row("x"), row("y"), row("x")])
    with pytest.raises(InputError) as info:
        list(read_items(path))
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), 3, "id")
    assert str(err) == f"{path}:3: field 'id': duplicate id 'x' (first on line 1)"


def test_many_distinct_ids_give_no_false_duplicate_and_a_late_one_is_caught(tmp_path, tiny_cache):
    """100,000 distinct ids read cleanly; a repeat of line 2 at the very end is reported."""
    path = tmp_path / "big.jsonl"
    with path.open("w") as f:
        for i in range(ROWS):
            f.write(json.dumps(row(f"item-{i}")) + "\n")
        f.write(json.dumps(row("item-1")) + "\n")
    seen = 0
    with pytest.raises(InputError) as info:
        for _ in read_items(path):
            seen += 1
    assert seen == ROWS
    assert (info.value.line, info.value.field) == (ROWS + 1, "id")
    assert "duplicate id 'item-1' (first on line 2)" in str(info.value)


def test_ids_that_differ_in_any_character_are_distinct(tmp_path, write_jsonl, tiny_cache):
    """Case, spacing, Unicode form, leading zeros and long shared prefixes all keep ids apart."""
    long = "q" * 5000
    ids = [
        "Item",
        "item",
        "item ",
        " item",
        unicodedata.normalize("NFC", "caf\u00e9"),
        unicodedata.normalize("NFD", "caf\u00e9"),
        "01",
        "1",
        long + "a",
        long + "b",
        "",
    ]
    items = list(read_items(write_jsonl(tmp_path / "near.jsonl", [row(i) for i in ids])))
    assert [i.id for i in items] == ids


def test_an_integer_id_and_its_string_are_the_same_id(tmp_path, write_jsonl):
    """Ids are compared as the strings items carry: 7 and "7" are one id."""
    with pytest.raises(InputError, match=r":2: field 'id': duplicate id '7' \(first on line 1\)"):
        list(read_items(write_jsonl(tmp_path / "i.jsonl", [row(7), row("7")])))


def test_skipped_duplicates_all_name_the_first_line(tmp_path, write_jsonl):
    """With on_invalid, every repeat is reported against the first line and not recorded."""
    path = write_jsonl(tmp_path / "s.jsonl", [row("x"), row("y"), row("x"), row("x"), row("z")])
    errors: list[InputError] = []
    items = list(read_items(path, on_invalid=errors.append))
    assert [i.id for i in items] == ["x", "y", "z"]
    assert [(e.line, e.field) for e in errors] == [(3, "id"), (4, "id")]
    assert all("(first on line 1)" in str(e) for e in errors)


def test_an_invalid_row_does_not_claim_its_id(tmp_path, write_jsonl):
    """A row rejected for another reason leaves its id free for a later valid row."""
    path = write_jsonl(tmp_path / "v.jsonl", [{"id": "x", "prompt": "p"}, row("x"), row("x")])
    errors: list[InputError] = []
    items = list(read_items(path, on_invalid=errors.append))
    assert [i.line for i in items] == [2]
    assert [(e.line, e.field) for e in errors] == [(1, "candidates"), (3, "id")]
    assert "(first on line 2)" in str(errors[1])


def test_each_file_has_its_own_ids(tmp_path, write_jsonl):
    """The same id in two files is not a duplicate (ids are unique per file)."""
    a = write_jsonl(tmp_path / "a.jsonl", [row("x")])
    b = write_jsonl(tmp_path / "b.jsonl", [row("x")])
    assert [i.id for i in read_items(a)] + [i.id for i in read_items(b)] == ["x", "x"]


def test_duplicates_in_a_stream_are_caught_without_rereading_it(tmp_path, tiny_cache):
    """A named pipe (read once, like stdin) gets the same exact check as a file."""
    fifo = tmp_path / "stream"
    os.mkfifo(fifo)
    count = 20_000
    lines = [json.dumps(row(f"s-{i}")) for i in range(count)]
    lines += [json.dumps(row("s-5")), json.dumps(row("new")), json.dumps(row(f"s-{count - 1}"))]

    def write() -> None:
        with open(fifo, "w") as f:
            f.write("\n".join(lines) + "\n")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    errors: list[InputError] = []
    items = list(read_items(fifo, on_invalid=errors.append))
    writer.join(timeout=10)
    assert len(items) == count + 1 and items[-1].id == "new"
    assert [(e.file, e.line, e.field) for e in errors] == [
        (str(fifo), count + 1, "id"),
        (str(fifo), count + 3, "id"),
    ]
    assert "first on line 6" in str(errors[0])
    assert f"first on line {count}" in str(errors[1])
