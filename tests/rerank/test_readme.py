"""The README's Python examples run, and print what their comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_python_examples_print_what_they_claim():
    """Each README example runs, and each `print(...)  # expected` line prints that."""
    blocks = _python_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        claims = re.findall(r"^print\(.*\)\s+#\s*(.+)$", block, flags=re.M)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(README), "exec"), {"__name__": "readme"})
        assert out.getvalue().splitlines() == claims
