"""Code evidence: extract the program, run its visible tests in the sandbox, decide each check
outside the candidate's interpreter, and group candidates by behaviour.

The modules, in the order an item meets them: ``extract`` (the program in a response),
``tests`` (the visible tests), ``checks`` (each test split into the candidate's calls and
what rerank decides), ``runner`` (one sandboxed process per candidate, running ``worker``;
``checker`` decides what needs no candidate), ``values`` (the tagged-JSON codec both sides
share), ``probes`` (mutated inputs) and ``verifier`` (:class:`CodeVerifier`, which ties
them together). Labels from hidden tests live apart, in :mod:`rerank.labels`.
"""

from rerank.verifiers.code.verifier import CodeVerifier

__all__ = ["CodeVerifier"]
