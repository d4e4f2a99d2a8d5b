"""Properties every pairwise strategy shares: validity, accuracy, determinism, position bias."""

from __future__ import annotations

import random

import pytest

from tournaments import PAIRWISE, STRATEGIES

STRATEGY_NAMES = sorted(PAIRWISE)


def fingerprint(selection):
    """The parts of a Selection that determinism must reproduce (graphs compare by identity)."""
    return (
        selection.winner,
        selection.matches,
        selection.ranking,
        selection.scores,
        selection.order,
        selection.checkpoints,
        selection.calls,
        selection.cyclic_triads,
    )


@pytest.mark.parametrize("name", STRATEGY_NAMES)
@pytest.mark.parametrize("judge", ["noisy", "chaotic", "tie", "invalid", "first-shown"])
def test_winner_is_a_valid_index(scripted, name, judge):
    """Whatever the judge answers, the winner is one of the n candidates."""
    for n in range(1, 18):
        for seed in range(4):
            compare = {
                "noisy": scripted.noisy(scripted.hidden_order(n, seed), 0.3, seed),
                "chaotic": scripted.chaotic(seed),
                "tie": scripted.constant("tie"),
                "invalid": scripted.constant("invalid"),
                "first-shown": scripted.constant("a"),
            }[judge]
            selection = scripted.run(STRATEGIES[name](n, compare, seed=seed))
            assert 0 <= selection.winner < n
            assert selection.n == n and selection.strategy == name


@pytest.mark.parametrize("name", STRATEGY_NAMES)
@pytest.mark.parametrize("both_orders", [False, True])
def test_perfect_judge_picks_the_best(scripted, name, both_orders):
    """Under a transitive judge without errors, the strongest candidate wins."""
    for n in range(1, 18):
        for seed in range(3):
            strength = scripted.hidden_order(n, seed + 100)
            compare = scripted.perfect(strength)
            selection = scripted.run(
                STRATEGIES[name](n, compare, seed=seed, both_orders=both_orders)
            )
            assert selection.winner == strength.index(n - 1)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_counts_agree_with_the_matches(scripted, name):
    """Counts tally the matches, and every comparator call is one match in its shown order."""
    recorder = scripted.Recorder(scripted.chaotic(7))
    selection = scripted.run(STRATEGIES[name](11, recorder, seed=7))
    assert selection.comparisons == len(selection.matches)
    assert selection.calls == len(recorder.calls) == selection.comparisons
    assert selection.ties == sum(m.outcome == "tie" for m in selection.matches)
    assert selection.invalid == sum(m.outcome == "invalid" for m in selection.matches)
    assert sorted(recorder.calls) == sorted((m.a, m.b) for m in selection.matches)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_both_orders_doubles_calls_and_neutralises_position_bias(scripted, name):
    """With both orders, calls are twice the matches and an always-A judge only ties."""
    recorder = scripted.Recorder(scripted.constant("a"))
    single = scripted.run(STRATEGIES[name](9, scripted.constant("a"), seed=1))
    both = scripted.run(STRATEGIES[name](9, recorder, seed=1, both_orders=True))
    assert both.comparisons == single.comparisons
    assert both.calls == len(recorder.calls) == 2 * both.comparisons
    assert both.ties == both.comparisons and single.ties == 0
    assert all(m.verdicts == ("a", "a") for m in both.matches)
    assert {(m.b, m.a) for m in both.matches} <= set(recorder.calls)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_same_seed_same_selection(scripted, name):
    """The same seed gives the same winner, matches in the same order, and the same record."""
    compare = scripted.noisy(scripted.hidden_order(12, 3), 0.25, 3)
    first = scripted.run(STRATEGIES[name](12, compare, seed=42))
    again = scripted.run(STRATEGIES[name](12, scripted.shuffled_finish(compare, 1), seed=42))
    from_rng = scripted.run(STRATEGIES[name](12, compare, seed=random.Random(42)))
    assert fingerprint(first) == fingerprint(again) == fingerprint(from_rng)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_different_seeds_change_display_orders(scripted, name):
    """Different seeds show the candidates in different orders."""
    compare = scripted.perfect(list(range(12)))
    one = scripted.run(STRATEGIES[name](12, compare, seed=0))
    two = scripted.run(STRATEGIES[name](12, compare, seed=1))
    assert [(m.a, m.b) for m in one.matches] != [(m.a, m.b) for m in two.matches]


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_display_order_is_drawn_per_match(scripted, name):
    """Both display positions occur: the first-shown candidate is not fixed by the index."""
    selection = scripted.run(STRATEGIES[name](16, scripted.perfect(list(range(16))), seed=5))
    assert {m.a < m.b for m in selection.matches} == {True, False}


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_one_candidate_needs_no_judge(scripted, name):
    """With n=1 the only candidate wins without a single call or round."""
    recorder = scripted.Recorder(scripted.constant("a"))
    selection = scripted.run(STRATEGIES[name](1, recorder, seed=0))
    assert (selection.winner, selection.comparisons, selection.rounds) == (0, 0, 0)
    assert recorder.calls == []


@pytest.mark.parametrize("name", STRATEGY_NAMES)
@pytest.mark.parametrize("best", [0, 1])
def test_two_candidates_play_one_match(scripted, name, best):
    """With n=2 one match in one round decides, and the judge's pick wins."""
    strength = [1, 0] if best == 0 else [0, 1]
    selection = scripted.run(STRATEGIES[name](2, scripted.perfect(strength), seed=3))
    assert (selection.winner, selection.comparisons, selection.rounds) == (best, 1, 1)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
@pytest.mark.parametrize("n", [0, -3])
def test_no_candidates_is_an_error(scripted, name, n):
    """Fewer than one candidate raises ValueError."""
    with pytest.raises(ValueError, match="at least one candidate"):
        scripted.run(STRATEGIES[name](n, scripted.constant("a")))
