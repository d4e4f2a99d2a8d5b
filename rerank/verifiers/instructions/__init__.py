"""Instruction evidence (IFEval): the instructions a prompt gives (``extraction``,
``phrases``), the checkers that test a response against them (``checkers``), and
:class:`InstructionVerifier` (``verifier``)."""

from rerank.verifiers.instructions.verifier import InstructionVerifier, given_instructions

__all__ = ["InstructionVerifier", "given_instructions"]
