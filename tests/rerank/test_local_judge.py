"""The local judge's choices that need no model: the default judge, and clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rerank.cli import main
from rerank.errors import ConfigError
from rerank.local import models
from rerank.local.server import import_xllamacpp
from rerank.selector import default_judge_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "candidates.jsonl"


def test_the_default_judge_adds_the_local_model_only_where_it_can_run(monkeypatch) -> None:
    monkeypatch.delenv("RERANK_AUTO_LOCAL")
    monkeypatch.setattr(models, "available", lambda name=models.DEFAULT_MODEL: True)
    assert default_judge_spec() == "evidence+local"
    monkeypatch.setattr(models, "available", lambda name=models.DEFAULT_MODEL: False)
    assert default_judge_spec() == "evidence"


@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_the_environment_can_keep_the_default_evidence_only(monkeypatch, value) -> None:
    monkeypatch.setenv("RERANK_AUTO_LOCAL", value)
    monkeypatch.setattr(models, "available", lambda name=models.DEFAULT_MODEL: True)
    assert default_judge_spec() == "evidence"


def test_available_needs_the_server_package(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # as if not installed
    assert models.available("smollm2-135m") is False


def test_available_without_parts_or_cache_is_false(monkeypatch, tmp_path) -> None:
    import xllamacpp  # noqa: F401  - the dev extra installs it: a broken install fails

    monkeypatch.setenv("RERANK_MODEL_DIR", str(tmp_path))
    qwen = models.MODELS["qwen2.5-coder-1.5b"]
    broken = models.LocalModel(
        qwen.name, qwen.file, qwen.sha256,
        (models.Part("no-such-distribution", "x/part01.bin"),), qwen.install, qwen.description,
    )  # fmt: skip
    monkeypatch.setitem(models.MODELS, "qwen2.5-coder-1.5b", broken)
    assert models.available() is False


def test_without_xllamacpp_the_error_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[local\]'"):
        import_xllamacpp()
    result = CliRunner().invoke(main, ["select", str(EXAMPLES), "--judge", "local"])
    assert result.exit_code != 0
    assert "pip install -e '.[local]'" in result.output


def test_the_local_judge_refuses_endpoint_options() -> None:
    import xllamacpp  # noqa: F401  - the dev extra installs it: a broken install fails

    from rerank.judges import create_judge

    with pytest.raises(ConfigError, match="runs its own server"):
        create_judge("local:smollm2-135m,base_url=http://x")


def test_an_unknown_local_model_lists_the_known_ones() -> None:
    import xllamacpp  # noqa: F401  - the dev extra installs it: a broken install fails

    from rerank.judges import create_judge

    with pytest.raises(ConfigError, match="smollm2-135m"):
        create_judge("local:gpt-5")


@pytest.mark.parametrize("judge", ["local", "evidence+local"])
@pytest.mark.parametrize("flag", [["--base-url", "http://127.0.0.1:9/v1"], ["--api-key", "k"]])
def test_endpoint_options_are_refused_for_judges_that_run_their_own_server(judge, flag) -> None:
    result = CliRunner().invoke(main, ["select", str(EXAMPLES), "--judge", judge, *flag])
    assert result.exit_code == 2
    assert f"--judge {judge} runs its own server" in result.output


class _Started:
    """Stands in for a LocalServer that is already running at ``base_url``."""

    def __init__(self, base_url: str) -> None:
        self.base_url, self.context, self.parallel = base_url, 4096, 2

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


def test_the_local_backend_asks_for_the_prompt_cache_and_knows_its_context() -> None:
    """Every request says cache_prompt; the context comes from the server's settings,
    without a request."""
    import asyncio

    from rerank.judges.llm.local import LocalBackend
    from rerank.testing import Message, OpenAIServer

    with OpenAIServer(models=("m",)) as served:
        served.enqueue(Message("A"))
        backend = LocalBackend(_Started(served.base_url), "m", 2, 60.0)

        async def go():
            try:
                info = await backend.server_info()
                await backend.chat([{"role": "user", "content": "hi"}], extra_body={"x": 1})
                return info
            finally:
                await backend.aclose()

        info = asyncio.run(go())
        (request,) = served.chat_requests
    assert (info.context, info.slots, info.server) == (4096, 2, "llama.cpp")
    assert request.body["cache_prompt"] is True and request.body["x"] == 1
