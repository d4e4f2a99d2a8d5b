"""The HTML of a ``rerank view`` page: one self-contained file, no server, no network.

Everything is inline and hand-written: the style (``page.css``), the script (``page.js``,
with a small Python highlighter), both package data read once, and the data. The data sits
in ``<script type="application/json">`` blocks: a small index parsed when the page opens,
and one block per item parsed only when that item is opened, so a page of thousands of
items opens as fast as its index renders.

Nothing from the data is ever parsed as HTML: the script builds every element with
``textContent``, and ``<``, ``>`` and ``&`` in the JSON are written as ``\\u003c``-style
escapes, so a candidate holding ``</script>`` stays text. A Content-Security-Policy with the
hashes of the page's own script and style forbids any other script, style or fetch, should a
bug ever let markup through.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
from importlib import resources
from typing import Any

from rerank.view.build import ViewData

__all__ = ["render_page"]


@functools.cache
def _asset(name: str) -> str:
    """The text of ``page.css`` or ``page.js``, inlined into every page."""
    return resources.files("rerank.view").joinpath(name).read_text(encoding="utf-8")


def render_page(view: ViewData, *, title: str) -> str:
    """The page of ``view`` as one HTML string."""
    style, script = _asset("page.css"), _asset("page.js")
    policy = (
        f"default-src 'none'; script-src '{_sha256(script)}'; "
        f"style-src '{_sha256(style)}'; img-src data:"
    )
    blocks = [
        _json_block("meta", {**view.meta, "title": title}),
        _json_block("index-data", view.index),
    ]
    blocks += [_json_block(f"item-{i}", detail) for i, detail in enumerate(view.details)]
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{style}</style>",
            "</head><body>",
            BODY,
            *blocks,
            f"<script>{script}</script>",
            "</body></html>",
            "",
        ]
    )


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _json_block(element_id: str, value: Any) -> str:
    text = json.dumps(_finite(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # Inside a script element only "</script" (or "<!--") ends or disturbs the data; with
    # every "<" escaped neither can occur, and JSON.parse reads the escapes back.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as strings: JSON (and JSON.parse) has no such numbers,
    but Python's json module reads them from a selections file."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


BODY = """<header id="top"><h1 id="title"></h1><div id="run"></div><ul id="notes"></ul></header>
<div id="app">
<aside id="side">
<div id="filters">
<label><input type="checkbox" id="f-wrong"> wrong picks <span class="c" id="n-wrong"></span></label>
<label><input type="checkbox" id="f-ties"> ties <span class="c" id="n-ties"></span></label>
<label><input type="checkbox" id="f-flagged"> flagged <span class="c" id="n-flagged"></span></label>
<label><input type="checkbox" id="f-invalid"> invalid <span class="c" id="n-invalid"></span></label>
<select id="f-kind" aria-label="task kind"><option value="">every task kind</option></select>
<input id="f-search" type="search" placeholder="id contains" aria-label="id contains">
<select id="sort" aria-label="sort"><option value="">input order</option></select>
<span id="count"></span>
</div>
<table id="index"><thead><tr id="heads"></tr></thead><tbody id="rows"></tbody></table>
</aside>
<main id="detail"><p class="hint">Choose an item on the left (or press j / k).</p></main>
</div>"""
