"""Collection rules for the doctests in rerank/ and tournaments/ (--doctest-modules).

Two files are not modules of rerank: they run inside the sandbox as files of their own and
import their neighbour ``code_values`` by that name, which exists only there.
"""

import importlib.util

collect_ignore = [
    "rerank/verifiers/code/worker.py",
    "rerank/verifiers/code/checker.py",
]
# An optional extra: its doctests need it installed (tests/rerank/test_ray*.py skip alike).
if importlib.util.find_spec("ray") is None:
    collect_ignore.append("rerank/ray")
