"""The judge every worker builds for itself, its share of the endpoints, and its sandbox.

A judge object holds HTTP clients, sandbox pools and caches that belong to one process,
so a cluster run sends each worker a :class:`JudgeRecipe` (the spec and the options that
``create_judge`` takes) and each worker builds its own judge from it, once, for the run.

Two things differ from building a judge in one process:

- **One cap per endpoint for the whole cluster.** An LLM endpoint's concurrency cap is
  split between the workers (:meth:`JudgeRecipe.for_workers`): each worker's pool gets
  ``cap // workers`` requests in flight, so all of them together never exceed the cap,
  and a run never has more workers than the smallest cap (each needs a slot of its own).
- **Fail closed on the sandbox.** Code candidates run only where the node can bound them.
  A worker checks its node's sandbox when it starts (:func:`check_sandbox`), and its
  verifiers turn a sandbox that becomes unavailable later into
  :class:`NodeSandboxError`, which stops the item (and the run) instead of letting the
  evidence judge record "no execution evidence" for that node's items: one node's broken
  sandbox would otherwise quietly change the results of the items it happened to get.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rerank.errors import ConfigError, RerankError
from rerank.evidence import Evidence, Verifier
from rerank.items import Item
from rerank.judges import JUDGE_OPTIONS, EvidenceJudge, Judge, create_judge, parse_spec
from rerank.judges.evidence import default_verifiers
from rerank.sandbox.runner import SandboxError, SandboxUnavailable, isolation, run_python
from rerank.selector import MODEL_JUDGES, StrategyConfig, default_judge_spec

__all__ = [
    "FailClosedVerifier",
    "JudgeRecipe",
    "NodeSandboxError",
    "SandboxGuard",
    "check_sandbox",
]

#: Judges whose endpoint caps are shared by the whole cluster.
ENDPOINT_JUDGES = ("llm",)


class NodeSandboxError(RerankError):
    """A node cannot sandbox code candidates, so it runs none (and the run stops)."""


def _sandbox_message(node: str, reason: object) -> str:
    return (
        f"{node} cannot sandbox code candidates ({reason}); it ran none of them and nothing "
        "it worked on was written. Fix that node (allow namespaces, or run Ray as a "
        "non-root user) or leave it out of the cluster, then run the same command with "
        "--resume"
    )


@dataclass
class SandboxGuard:
    """What the verifiers of one worker found out about its node's sandbox."""

    node: str
    lost: NodeSandboxError | None = None

    def refuse(self, reason: object) -> NodeSandboxError:
        self.lost = NodeSandboxError(_sandbox_message(self.node, reason))
        return self.lost


class FailClosedVerifier:
    """A verifier whose sandbox, once unavailable, stops the item instead of yielding
    evidence without execution."""

    def __init__(self, inner: Verifier, guard: SandboxGuard) -> None:
        self.inner = inner
        self.name = inner.name
        self.guard = guard

    def applies(self, item: Item) -> bool:
        return self.inner.applies(item)

    def verify(self, item: Item) -> list[Evidence]:
        if self.guard.lost is not None:
            raise self.guard.lost
        try:
            return self.inner.verify(item)
        except SandboxUnavailable as exc:
            raise self.guard.refuse(exc) from None

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def check_sandbox(guard: SandboxGuard, exec_python: str | None = None) -> str:
    """Run a program in this node's sandbox; its isolation tier, or NodeSandboxError."""
    try:
        result = run_python("print('ok')", python=exec_python)
    except SandboxError as exc:
        raise guard.refuse(exc) from None
    if result.status != "ok" or "ok" not in result.stdout:
        last = (result.stderr.strip().splitlines() or [result.status])[-1]
        raise guard.refuse(f"a probe program ended {result.status}: {last}")
    return isolation().method


@dataclass(frozen=True)
class JudgeRecipe:
    """How a worker builds its judge: ``spec`` (``None``: vote, which needs none),
    ``options`` for :func:`~rerank.judges.create_judge` (``base_url``, ``api_key``,
    ``cache``, ``timeout``, ``concurrency``, ``skills_dirs``, ...), and the interpreter
    code candidates run on."""

    spec: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    exec_python: str | None = None

    @classmethod
    def resolve(
        cls,
        judge: Judge | str | None,
        config: StrategyConfig,
        options: Mapping[str, Any] | None = None,
        exec_python: str | None = None,
    ) -> JudgeRecipe:
        """The recipe of a run: the default judge is decided here, once, for every node."""
        if judge is not None and not isinstance(judge, str):
            raise ConfigError(
                f"a judge object ({type(judge).__name__}) cannot be rebuilt on each node: "
                "name the judge by its spec and pass its options as judge_options"
            )
        options = dict(options or {})
        if "evidence" in options:
            raise ConfigError(
                "judge_options cannot carry an evidence judge: each node builds its own "
                "(pass exec_python for an execution environment)"
            )
        if config.name == "vote":
            return cls(None, options, exec_python)
        spec = judge if judge is not None else default_judge_spec()
        name, _, kwargs = parse_spec(spec)
        if name in ENDPOINT_JUDGES and "concurrency" in kwargs:
            raise ConfigError(
                f"judge spec {name!r}: on a cluster give the endpoint cap as the "
                "concurrency option (split between the workers), not in the spec"
            )
        return cls(spec, options, exec_python)

    @property
    def name(self) -> str | None:
        return parse_spec(self.spec)[0] if self.spec is not None else None

    @property
    def runs_code(self) -> bool:
        """Whether the judge (or vote's keys) runs code candidates: it needs the sandbox."""
        return self.spec is None or self.name == "evidence" or self.name in MODEL_JUDGES

    def endpoint_caps(self) -> list[int] | None:
        """The requests in flight each endpoint allows the whole run (None: no endpoint)."""
        if self.spec is None or self.name not in ENDPOINT_JUDGES:
            return None
        name, args, kwargs = parse_spec(self.spec)
        default = getattr(JUDGE_OPTIONS[name].from_spec(args, kwargs, judge=name), "concurrency", 8)
        caps = self.options.get("concurrency", default)
        return [int(c) for c in caps] if isinstance(caps, list | tuple) else [int(caps)]

    def max_workers(self) -> int | None:
        """The most workers the endpoint caps allow (one slot each), or None."""
        caps = self.endpoint_caps()
        return min(caps) if caps else None

    def for_workers(self, workers: int) -> JudgeRecipe:
        """This recipe for one of ``workers`` workers: its share of every endpoint cap."""
        caps = self.endpoint_caps()
        if not caps:
            return self
        if workers > min(caps):
            raise ConfigError(
                f"{workers} workers cannot share an endpoint cap of {min(caps)} requests in "
                "flight: use fewer workers or a higher --judge-concurrency"
            )
        shares = [cap // workers for cap in caps]
        share: int | list[int] = shares[0] if len(shares) == 1 else shares
        return replace(self, options={**self.options, "concurrency": share})

    def build(
        self, guard: SandboxGuard, evidence: EvidenceJudge | None = None
    ) -> tuple[Judge | None, EvidenceJudge | None]:
        """The judge (None for vote) and the evidence judge it builds on, if any, with
        verifiers that fail closed through ``guard``. ``evidence``: the worker's own for a
        model judge (or vote) to build on, sharing its verifiers and cache (default: a new
        one)."""
        if self.spec is not None and not self.runs_code:
            return create_judge(self.spec, **self.options), None
        if self.spec is not None and self.name == "evidence":
            judge = create_judge(self.spec, verifiers=self._verifiers(guard), **self.options)
            return judge, judge if isinstance(judge, EvidenceJudge) else None
        if evidence is None:
            evidence = EvidenceJudge(self._verifiers(guard), exec_python=self.exec_python)
        if self.spec is None:
            return None, evidence
        return create_judge(self.spec, **self.options, evidence=evidence), evidence

    def _verifiers(self, guard: SandboxGuard) -> dict[str, Verifier]:
        """The default verifiers on this recipe's interpreter, failing closed."""
        built = default_verifiers(self.exec_python)
        return {kind: FailClosedVerifier(v, guard) for kind, v in built.items()}
