"""Suite-wide settings: the default judge stays evidence-only.

Where the local model happens to be installed (``pip install -e '.[local]'``), the default
of ``rerank select`` would use it for pairs the evidence ties; the tests of the default
must not depend on that, so it is off unless a test turns it on.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _default_judge_without_local_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RERANK_AUTO_LOCAL", "0")
