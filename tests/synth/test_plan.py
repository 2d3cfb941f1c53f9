"""Planning of the synthetic dataset: names, splits, schedules, class frequencies (no video)."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import logging
import re

import numpy as np
import pytest

from comedian.data.games import games_table
from comedian.data.soccernet import CLASSES
from comedian.synth import SynthConfig, plan_dataset, plan_games
from comedian.synth.plan import CLASS_PROBABILITIES, LEAGUES, random_half_events
from comedian.synth.signatures import HALF_WIDTH_S

#: league/season/"YYYY-MM-DD - HH-MM Home N - M Away", as in SoccerNet.
GAME_RE = re.compile(
    r"^(?P<league>[a-z0-9_-]+)/(?P<y0>\d{4})-(?P<y1>\d{4})/"
    r"(?P<date>\d{4}-\d{2}-\d{2}) - (?P<hh>\d{2})-(?P<mm>\d{2}) "
    r"(?P<home>.+) (?P<hg>\d+) - (?P<ag>\d+) (?P<away>.+)$"
)


def test_plan_is_deterministic_by_seed() -> None:
    assert plan_games(SynthConfig(seed=5)) == plan_games(SynthConfig(seed=5))
    assert plan_dataset(SynthConfig(seed=5)) == plan_dataset(SynthConfig(seed=5))
    assert plan_games(SynthConfig(seed=5)) != plan_games(SynthConfig(seed=6))


def test_default_split_sizes_and_order() -> None:
    games = plan_games(SynthConfig())
    assert [s for s, _ in games] == ["train"] * 6 + ["valid"] * 2 + ["test"] * 2
    games = plan_games(SynthConfig(train=3, valid=1, test=2, challenge=4))
    assert collections.Counter(s for s, _ in games) == {
        "train": 3,
        "valid": 1,
        "test": 2,
        "challenge": 4,
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_names_look_like_soccernet_and_are_unique(seed: int) -> None:
    plans = plan_dataset(SynthConfig(seed=seed, train=40, valid=10, test=10, challenge=5))
    paths = [p.path for p in plans]
    assert len(set(paths)) == len(paths)
    assert any("'" in p for p in paths) and any("." in p.split("/")[2] for p in paths)
    for plan in plans:
        m = GAME_RE.match(plan.path)
        assert m, plan.path
        assert m["league"] in LEAGUES
        assert (m["home"], m["away"]) == (plan.home, plan.away) and plan.home != plan.away
        assert plan.home in LEAGUES[m["league"]][1] and plan.away in LEAGUES[m["league"]][1]
        # The season holds the date (August to May) and the name holds the score.
        y0, y1 = int(m["y0"]), int(m["y1"])
        date = dt.date.fromisoformat(m["date"])
        assert y1 == y0 + 1 and dt.date(y0, 8, 1) <= date <= dt.date(y1, 5, 31)
        assert (int(m["hg"]), int(m["ag"])) == plan.score
    # The games table of the pipeline accepts the names (unique slugs).
    table = games_table(plan_games(SynthConfig(seed=seed, train=40, valid=10, test=10)))
    assert table["slug"].is_unique


def test_small_plans_exercise_quoting() -> None:
    """Even a two-game plan has an apostrophe, a dot, spaces and dashes in its names."""
    paths = [p for _, p in plan_games(SynthConfig(train=1, valid=1, test=0))]
    assert "'" in paths[0] and "." in paths[1].split("/")[2]
    assert all(" " in p and "-" in p for p in paths)


def test_score_counts_goals_per_team() -> None:
    plans = plan_dataset(SynthConfig(seed=0, train=30, valid=0, test=0))
    assert sum(sum(p.score) for p in plans) > 0
    for plan in plans:
        goals = [e.team for e in plan.events if e.label == "Goal"]
        assert plan.score == (goals.count("home"), goals.count("away"))


@pytest.mark.parametrize("seed", range(5))
def test_every_class_visible_twice_per_labelled_split_by_default(seed: int) -> None:
    plans = plan_dataset(SynthConfig(seed=seed))
    for split in ("train", "valid", "test"):
        visible = collections.Counter(
            e.label
            for p in plans
            if p.split == split
            for e in p.events
            if e.visibility == "visible"
        )
        assert {c: visible[c] for c in CLASSES if visible[c] < 2} == {}, split


@pytest.mark.parametrize("seed", range(3))
def test_schedule_of_each_half(seed: int) -> None:
    cfg = SynthConfig(seed=seed, challenge=1)
    for plan in plan_dataset(cfg):
        for half in (1, 2):
            events = plan.half_events(half)
            positions = np.array([e.position_ms for e in events])
            # A Kick-off opens the half; events stay inside it, apart enough that their
            # signatures (+-0.7 s) never overlap.
            assert events[0].label == "Kick-off" and events[0].visibility == "visible"
            assert 0 < positions[0] and positions[-1] < cfg.half_duration_s * 1000 - 700
            assert np.diff(positions).min() >= cfg.min_event_gap_s * 1000 - 1
            assert cfg.min_event_gap_s >= 2 * HALF_WIDTH_S
            # Mean spacing as configured (n slots over the usable span).
            assert len(events) == pytest.approx(cfg.half_duration_s / cfg.event_interval_s, abs=2)
        kickoff_teams = {plan.half_events(h)[0].team for h in (1, 2)}
        assert kickoff_teams == {"home", "away"}  # each team kicks off one half
        for e in plan.events:
            assert isinstance(e.position_ms, int)
            expected = {"not applicable"} if e.label == "Ball out of play" else {"home", "away"}
            assert e.team in expected and e.visibility in ("visible", "not shown")


def test_not_shown_fraction() -> None:
    plans = plan_dataset(SynthConfig(seed=0))
    events = [e for p in plans for e in p.events]
    hidden = sum(e.visibility == "not shown" for e in events) / len(events)
    assert hidden == pytest.approx(0.1, abs=0.01)
    none = plan_dataset(SynthConfig(seed=0, not_shown_fraction=0.0))
    assert all(e.visibility == "visible" for p in none for e in p.events)


def test_class_frequencies_follow_soccernet() -> None:
    """Over many games the reserved events are negligible: labels follow the weights."""
    plans = plan_dataset(SynthConfig(seed=0, train=150, valid=0, test=0))
    labels = [e.label for p in plans for e in p.events]
    counts = collections.Counter(labels)
    # Kick-off aside: every half opens with one, which short halves over-represent.
    by_count = sorted((c for c in CLASSES if c != "Kick-off"), key=lambda c: -counts[c])
    frequent = {
        "Ball out of play", "Throw-in", "Foul", "Clearance", "Indirect free-kick",
        "Shots off target", "Shots on target", "Corner",
    }  # fmt: skip
    assert set(by_count[:8]) == frequent
    assert by_count[0] == "Ball out of play" and by_count[1] == "Throw-in"
    assert set(by_count[-3:]) == {"Penalty", "Red card", "Yellow->red card"}
    # Classes other than Kick-off (every half opens with one): within 5 standard errors.
    n = sum(counts[c] for c in CLASSES if c != "Kick-off")
    for k, c in enumerate(CLASSES):
        if c == "Kick-off":
            continue
        p = CLASS_PROBABILITIES[k] / (1 - CLASS_PROBABILITIES[CLASSES.index("Kick-off")])
        assert counts[c] / n == pytest.approx(p, abs=5 * np.sqrt(p * (1 - p) / n) + 3e-4), c


def test_splits_have_independent_streams() -> None:
    """Adding challenge games keeps the labelled games as they were."""
    base = plan_dataset(SynthConfig(seed=4))
    more = plan_dataset(SynthConfig(seed=4, challenge=3))
    assert [p.events for p in more[: len(base)]] == [p.events for p in base]
    assert [p.labelled for p in more] == [True] * len(base) + [False] * 3


def test_small_split_warns_and_still_covers_rare_classes(caplog: pytest.LogCaptureFixture) -> None:
    cfg = SynthConfig(train=1, valid=0, test=0, half_duration_s=30.0, event_interval_s=2.5)
    with caplog.at_level(logging.WARNING, logger="comedian.synth.plan"):
        (plan,) = plan_dataset(cfg)
    assert "reserved visible events fit" in caplog.text
    # The first round of reservations (one of each class) fits: all 17 classes are present.
    assert {e.label for e in plan.events if e.visibility == "visible"} == set(CLASSES)


def test_random_half_events() -> None:
    rng = np.random.default_rng(0)
    events = random_half_events(rng, 2700.0, half=2)
    assert events[0].label == "Kick-off" and all(e.half == 2 for e in events)
    assert len(events) == pytest.approx(2700 / 7, rel=0.05)
    positions = [e.position_ms for e in events]
    assert positions == sorted(positions) and positions[-1] < 2700_000
    assert 0.05 < np.mean([e.visibility == "not shown" for e in events]) < 0.15


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"width": 397}, "even"),
        ({"min_event_gap_s": 1.0}, "never overlap"),
        ({"event_interval_s": 1.5}, "event_interval_s"),
        ({"train": 0, "valid": 0, "test": 0}, "no games"),
        ({"not_shown_fraction": 1.0}, "not_shown_fraction"),
        ({"half_duration_s": 5.0}, "half_duration_s"),
    ],
)
def test_config_rejects_bad_values(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(SynthConfig(), **change)
