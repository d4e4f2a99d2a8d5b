"""The persistent verdict cache: keys, storage, sharing between threads and processes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rerank.errors import CacheError
from rerank.llm import NullCache, VerdictCache, default_cache_path, verdict_key

PARTS = {
    "model": "judge-model",
    "skill": "sha256:abc",
    "prompt": "Which answer is right?",
    "candidates": ["x = 1", "x = 2"],
    "order": [0, 1],
    "parameters": {"temperature": 0.0, "max_tokens": 512, "protocol": 1},
}

# Opens a cache, says "ready", waits for "go" on stdin, then stores N keys of its own.
WRITER = """
import sys
from rerank.llm import VerdictCache
cache = VerdictCache(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[3])):
    cache.put(cache.key(writer=sys.argv[2], i=i), {"writer": sys.argv[2], "i": i})
print("done", flush=True)
sys.stdin.readline()
"""


def spawn_writer(path: Path, name: str, count: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), name, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "ready\n"
    return process


def test_put_then_get_returns_the_verdict(tmp_path):
    """A stored verdict comes back equal; an unknown key is a miss, and both are counted."""
    with VerdictCache(tmp_path / "v.sqlite") as cache:
        key = cache.key(**PARTS)
        assert cache.get(key) is None
        cache.put(key, {"winner": "a", "reason": "é", "evidence": ["t1"]})
        assert cache.get(key) == {"winner": "a", "reason": "é", "evidence": ["t1"]}
        assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)


def test_verdicts_persist_after_reopening(tmp_path):
    """What one cache object stored, a later one on the same file reads."""
    with VerdictCache(tmp_path / "v.sqlite") as cache:
        cache.put("k", {"winner": "b"})
    with VerdictCache(tmp_path / "v.sqlite") as cache:
        assert cache.get("k") == {"winner": "b"}


def test_key_is_the_sha256_of_a_fixed_canonical_json():
    """The key is spelled out here: changing how it is made would orphan every cache."""
    canonical = (
        '{"parts":{"candidates":["x = 1","x = 2"],"model":"judge-model","order":[0,1],'
        '"parameters":{"max_tokens":512,"protocol":1,"temperature":0},'
        '"prompt":"Which answer is right?","skill":"sha256:abc"},"version":"rerank-verdict/1"}'
    )
    assert verdict_key(**PARTS) == hashlib.sha256(canonical.encode()).hexdigest()


def test_key_ignores_keyword_order_tuples_and_whole_floats():
    """Keyword order, tuple versus list and 0 versus 0.0 ask the same thing."""
    shuffled = dict(reversed(list(PARTS.items())))
    shuffled["order"] = (0, 1)
    shuffled["parameters"] = {"protocol": 1.0, "max_tokens": 512, "temperature": 0}
    assert verdict_key(**shuffled) == verdict_key(**PARTS)


@pytest.mark.parametrize(
    "change",
    [
        {"order": [1, 0]},
        {"model": "other-model"},
        {"skill": "sha256:abd"},
        {"prompt": "Which answer is right? "},
        {"candidates": ["x = 1", "x = 3"]},
        {"parameters": {"temperature": 0.7, "max_tokens": 512, "protocol": 1}},
        {"parameters": {"temperature": 0.0, "max_tokens": 512, "protocol": 2}},
    ],
)
def test_key_changes_with_anything_that_can_change_the_verdict(change):
    """Display order, model, skill, prompt, candidates and parameters all enter the key."""
    assert verdict_key(**{**PARTS, **change}) != verdict_key(**PARTS)


def test_key_refuses_parts_that_are_not_json():
    """A part with no canonical JSON form is a TypeError, not a silently unstable key."""
    with pytest.raises(TypeError, match="JSON data"):
        verdict_key(model=object())


def test_threads_share_one_cache(tmp_path):
    """Puts from many threads at once all land and read back."""
    with VerdictCache(tmp_path / "v.sqlite") as cache:

        def write(thread: int) -> None:
            for i in range(50):
                cache.put(cache.key(thread=thread, i=i), {"thread": thread, "i": i})

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(8)))
        assert len(cache) == 400
        assert cache.get(cache.key(thread=7, i=49)) == {"thread": 7, "i": 49}


def test_two_processes_write_concurrently(tmp_path):
    """Two processes writing different keys at the same time both keep every verdict."""
    path = tmp_path / "v.sqlite"
    writers = [spawn_writer(path, name, 200) for name in ("left", "right")]
    for writer in writers:  # both are open and waiting: start them together
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        assert writer.stdout.readline() == "done\n"
        writer.communicate("\n")
        assert writer.returncode == 0
    with VerdictCache(path) as cache:
        assert len(cache) == 400
        for name in ("left", "right"):
            assert cache.get(cache.key(writer=name, i=199)) == {"writer": name, "i": 199}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_process_keeps_what_it_stored(tmp_path):
    """Each put is committed: killing the writer afterwards loses nothing."""
    path = tmp_path / "v.sqlite"
    with spawn_writer(path, "killed", 5) as writer:
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.stdout.readline() == "done\n"
        os.kill(writer.pid, signal.SIGKILL)
    with VerdictCache(path) as cache:
        assert cache.get(cache.key(writer="killed", i=4)) == {"writer": "killed", "i": 4}


def test_corrupt_file_names_it_and_suggests_no_cache(tmp_path):
    """A file that is not a cache gives a CacheError naming it and the ways out."""
    path = tmp_path / "v.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheError) as caught:
        VerdictCache(path).get("k")
    message = str(caught.value)
    assert str(path) in message and "--no-cache" in message and "delete" in message


def test_default_path_honours_xdg_cache_home(tmp_path, monkeypatch):
    """$XDG_CACHE_HOME decides where the cache lives; without it (or relative), ~/.cache."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "rerank" / "verdicts.sqlite"
    with VerdictCache() as cache:
        cache.put("k", {"winner": "tie"})
    assert (tmp_path / "xdg" / "rerank" / "verdicts.sqlite").is_file()
    for unset in ("relative/dir", ""):
        monkeypatch.setenv("XDG_CACHE_HOME", unset)
        assert default_cache_path() == tmp_path / "home" / ".cache" / "rerank" / "verdicts.sqlite"


def test_null_cache_stores_nothing():
    """--no-cache: a put is forgotten, so every get misses; keys are the same as the cache's."""
    cache = NullCache()
    cache.put(cache.key(**PARTS), {"winner": "a"})
    assert cache.get(cache.key(**PARTS)) is None
    assert cache.key(**PARTS) == verdict_key(**PARTS)
