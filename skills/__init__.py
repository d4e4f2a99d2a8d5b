"""Skill packages shipped with rerank (installed as ``rerank_skills``); data, not code."""
