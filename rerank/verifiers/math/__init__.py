"""Math evidence: final answers compared with math-verify in worker processes
(``equivalence``, ``worker``), arithmetic in the working re-done (``arithmetic``, ``steps``),
and :class:`MathVerifier` (``verifier``)."""

from rerank.verifiers.math.verifier import MathVerifier, reference_answer

__all__ = ["MathVerifier", "reference_answer"]
