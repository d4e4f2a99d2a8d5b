"""The data model: frozen items that say plainly they are not hashable."""

from __future__ import annotations

import dataclasses

import pytest

from rerank.items import Candidate, Item, Labels, Task


def test_items_are_frozen_and_say_they_are_not_hashable():
    item = Item.from_texts("p", ["a", "b"], resources={"tests": ["assert f()"]}, scores=[1, 0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.prompt = "other"  # type: ignore[misc]
    for value in (item, item.task, item.labels, Task(), Labels()):
        with pytest.raises(TypeError, match="not hashable .*content_id"):
            hash(value)
    assert hash(Candidate("a")) == hash(Candidate("a"))  # text only: hashable, equal by text
    assert item == Item.from_texts("p", ["a", "b"], resources={"tests": ["assert f()"]},
                                   scores=[1, 0])  # fmt: skip
