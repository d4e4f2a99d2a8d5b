"""Verifiers: deterministic evidence about candidates (code execution, instructions, math)."""
