"""What the synthetic dataset holds: game names, teams, dates and every game's events.

Usage:
    games = plan_games(SynthConfig(seed=0))     # [(split, "league/season/game"), ...]
    plans = plan_dataset(SynthConfig(seed=0))   # full GamePlan objects (events included)

Planning draws only random numbers (no rendering), so Snakemake can call :func:`plan_games` at
DAG parse time. Everything is a function of the seed. Each split has its own random stream, so
adding challenge games does not change the train games.

Events (method.md section 0): each half opens with a Kick-off; the other events sit at least
``min_event_gap_s`` apart (so their visual signatures never overlap) at a mean spacing of
``event_interval_s``. In each labelled split, ``min_visible_per_class`` visible events of every
class are placed first (rarest classes first, so a split too small for all of them still gets one
of each); the remaining labels follow SoccerNet-v2's class frequencies, and a
``not_shown_fraction`` of the events is "not shown".
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np

from comedian.data.soccernet import CLASS_INDEX, CLASSES, HALVES, SPLITS
from comedian.synth.config import SynthConfig

log = logging.getLogger(__name__)

#: Approximate annotation counts per class in SoccerNet-v2 (all 500 labelled games), used only
#: as relative weights. Kick-off is lowered because every half already opens with one.
CLASS_COUNTS: dict[str, int] = {
    "Penalty": 173,
    "Kick-off": 1500,
    "Goal": 1703,
    "Substitution": 2839,
    "Offside": 2098,
    "Shots on target": 5820,
    "Shots off target": 5256,
    "Clearance": 7896,
    "Ball out of play": 31810,
    "Throw-in": 18918,
    "Foul": 11674,
    "Indirect free-kick": 10521,
    "Direct free-kick": 2200,
    "Corner": 4836,
    "Yellow card": 2037,
    "Red card": 55,
    "Yellow->red card": 46,
}
_WEIGHTS = np.array([CLASS_COUNTS[c] for c in CLASSES], dtype=np.float64)
#: Probability of each class (index order) for the events not reserved per split.
CLASS_PROBABILITIES: np.ndarray = _WEIGHTS / _WEIGHTS.sum()
#: Classes reserved in every labelled split, rarest first. Kick-off is left out: every half
#: already opens with one.
RESERVED_ORDER: tuple[str, ...] = tuple(
    c for c in sorted(CLASSES, key=lambda c: (CLASS_COUNTS[c], CLASS_INDEX[c])) if c != "Kick-off"
)
#: Classes SoccerNet annotates without a team.
NO_TEAM: frozenset[str] = frozenset({"Ball out of play"})

#: League folder -> (season years, teams). Names keep the spaces, dots, dashes and apostrophes of
#: real SoccerNet folders.
LEAGUES: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "england_epl": (
        (2014, 2015, 2016),
        (
            "Chelsea", "Burnley", "Arsenal", "Liverpool", "Manchester United", "Manchester City",
            "Tottenham", "Everton", "West Ham", "Crystal Palace", "Swansea", "Stoke City",
            "Southampton", "Leicester", "West Brom", "Newcastle Utd", "Watford", "Bournemouth",
        ),
    ),
    "spain_laliga": (
        (2014, 2015, 2016),
        (
            "Real Madrid", "Barcelona", "Atletico Madrid", "Sevilla", "Valencia", "Villarreal",
            "Athletic Club", "Real Sociedad", "Celta Vigo", "Malaga", "Espanyol", "Getafe",
            "Las Palmas", "Real Betis",
        ),
    ),
    "italy_serie-a": (
        (2014, 2015, 2016),
        (
            "Juventus", "Napoli", "AS Roma", "Inter", "AC Milan", "Lazio", "Fiorentina",
            "Sassuolo", "Torino", "Udinese", "Sampdoria", "Genoa", "Chievo", "Atalanta",
        ),
    ),
    "germany_bundesliga": (
        (2014, 2015, 2016),
        (
            "Bayern Munich", "Dortmund", "Bayer Leverkusen", "Borussia M'gladbach", "Schalke",
            "Wolfsburg", "Hertha Berlin", "Mainz", "FC Koln", "Hamburger SV", "Werder Bremen",
            "St. Pauli", "Hoffenheim", "Eintracht Frankfurt",
        ),
    ),
    "france_ligue-1": (
        (2014, 2015, 2016),
        (
            "Paris SG", "Lyon", "Marseille", "Monaco", "Lille", "Nice", "Saint-Etienne",
            "Bordeaux", "Rennes", "Nantes", "Montpellier", "Toulouse",
        ),
    ),
    "europe_uefa-champions-league": (
        (2014, 2015, 2016),
        (
            "Real Madrid", "Barcelona", "Bayern Munich", "Juventus", "Paris SG", "Chelsea",
            "Dortmund", "Benfica", "FC Porto", "Galatasaray", "Ajax", "PSV",
            "Zenit St. Petersburg", "Olympiakos",
        ),
    ),
}  # fmt: skip
#: Names every plan with two games or more contains (game 0: apostrophe, game 1: dot), so the
#: pipeline's quoting is always exercised.
_FORCED: tuple[tuple[str, str | None, str | None], ...] = (
    ("germany_bundesliga", "Borussia M'gladbach", None),
    ("germany_bundesliga", None, "St. Pauli"),
)
_KICKOFF_TIMES: tuple[tuple[int, int], ...] = (
    (12, 45), (13, 30), (14, 0), (15, 0), (16, 0), (17, 30), (18, 0), (19, 0), (19, 45),
    (20, 0), (20, 45), (21, 45), (22, 0),
)  # fmt: skip
#: Number of team kits in comedian.synth.render.KITS (kits are chosen here, drawn there).
NUM_KITS = 8


@dataclass(frozen=True)
class Event:
    """One annotation, as in Labels-v2.json (method.md section 0)."""

    half: int
    position_ms: int
    label: str
    team: str
    visibility: str

    @property
    def time_s(self) -> float:
        """Seconds from the start of the half."""
        return self.position_ms / 1000.0


@dataclass(frozen=True)
class GamePlan:
    """Everything that defines one synthetic game; videos and labels are rendered from it."""

    index: int
    split: str
    league: str
    season: str
    home: str
    away: str
    kickoff: dt.datetime
    events: tuple[Event, ...]
    kits: tuple[int, int]

    @property
    def score(self) -> tuple[int, int]:
        """Goals of the home and away teams, counted from the Goal events."""
        home = sum(e.label == "Goal" and e.team == "home" for e in self.events)
        away = sum(e.label == "Goal" and e.team == "away" for e in self.events)
        return home, away

    @property
    def path(self) -> str:
        """Game folder relative to the dataset root, e.g. ``england_epl/2014-2015/2015-02-21 -
        18-00 Chelsea 1 - 1 Burnley``."""
        h, a = self.score
        stamp = self.kickoff.strftime("%Y-%m-%d - %H-%M")
        return f"{self.league}/{self.season}/{stamp} {self.home} {h} - {a} {self.away}"

    @property
    def labelled(self) -> bool:
        """Whether the game gets a Labels-v2.json (challenge games do not, as in SoccerNet)."""
        return self.split != "challenge"

    def half_events(self, half: int) -> list[Event]:
        """The events of one half, in time order."""
        return [e for e in self.events if e.half == half]

    def render_seed(self, seed: int, half: int) -> int:
        """Seed of one half's rendering, derived from the master seed, game index and half."""
        return int(np.random.SeedSequence([seed, 1, self.index, half]).generate_state(1)[0])


def _slot_times_ms(
    rng: np.random.Generator, duration_s: float, interval_s: float, gap_s: float
) -> np.ndarray:
    """Times of one half's events in ms: a Kick-off at 1-3 s (earlier in very short halves),
    then the rest.

    The rest: ``n = floor((stop - start) / interval_s)`` times in [start, stop], at least
    ``gap_s`` apart: uniform draws in the span left after reserving ``n - 1`` gaps, sorted, plus
    ``k * gap_s``. ``stop`` keeps a second of margin so each signature fits inside the half.

    Shapes:
        return: (1 + n,) int64, increasing.
    """
    kickoff = rng.uniform(min(1.0, duration_s / 8), min(3.0, duration_s / 4))
    start, stop = kickoff + gap_s, duration_s - 1.0
    n = max(0, int((stop - start) // interval_s) + 1) if stop >= start else 0
    free = max(0.0, (stop - start) - max(n - 1, 0) * gap_s)
    times = start + np.sort(rng.uniform(0.0, free, size=n)) + gap_s * np.arange(n)  # (n,)
    return np.round(np.concatenate([[kickoff], times]) * 1000).astype(np.int64)


def _split_events(
    rng: np.random.Generator, cfg: SynthConfig, split: str, n_games: int
) -> list[list[Event]]:
    """The events of every game of one split (see the module docstring)."""
    games: list[list[Event]] = [[] for _ in range(n_games)]
    game_of, half_of, pos_of = [], [], []
    for g in range(n_games):
        first_team = int(rng.integers(2))
        for half in HALVES:
            times = _slot_times_ms(
                rng, cfg.half_duration_s, cfg.event_interval_s, cfg.min_event_gap_s
            )
            # The team kicking off alternates between the halves, as in a real game.
            team = ("home", "away")[(first_team + half - 1) % 2]
            games[g].append(Event(half, int(times[0]), "Kick-off", team, "visible"))
            game_of += [g] * (len(times) - 1)
            half_of += [half] * (len(times) - 1)
            pos_of += times[1:].tolist()
    n = len(pos_of)
    if n == 0:
        return games
    order = rng.permutation(n)
    labels = np.empty(n, dtype=np.int64)
    # Challenge games have no labels: nothing to guarantee there.
    rounds = cfg.min_visible_per_class if split != "challenge" else 0
    reserved = [CLASS_INDEX[c] for _ in range(rounds) for c in RESERVED_ORDER]
    n_res = min(len(reserved), n)
    if n_res < len(reserved):
        log.warning(
            "split %s has %d event slots: only %d of the %d reserved visible events fit "
            "(more games, longer halves or a smaller event_interval_s would fit them all)",
            split,
            n,
            n_res,
            len(reserved),
        )
    labels[order[:n_res]] = reserved[:n_res]
    free = order[n_res:]
    labels[free] = rng.choice(len(CLASSES), size=len(free), p=CLASS_PROBABILITIES)
    # "not shown" only among the free slots, so the reserved events stay visible.
    n_kickoffs = 2 * n_games
    n_hidden = min(round(cfg.not_shown_fraction * (n + n_kickoffs)), len(free))
    hidden = np.zeros(n, dtype=bool)
    hidden[rng.choice(free, size=n_hidden, replace=False)] = True
    sides = rng.integers(2, size=n)
    for i in range(n):
        label = CLASSES[labels[i]]
        team = "not applicable" if label in NO_TEAM else ("home", "away")[sides[i]]
        visibility = "not shown" if hidden[i] else "visible"
        games[game_of[i]].append(Event(half_of[i], pos_of[i], label, team, visibility))
    for events in games:
        events.sort(key=lambda e: (e.half, e.position_ms))
    return games


def _names(rng: np.random.Generator, n_games: int) -> list[tuple[str, str, str, str, dt.datetime]]:
    """League, season, home, away and kick-off date of each game."""
    out = []
    leagues = list(LEAGUES)
    for g in range(n_games):
        if g < len(_FORCED):
            league, home, away = _FORCED[g]
        else:
            league, home, away = leagues[int(rng.integers(len(leagues)))], None, None
        years, teams = LEAGUES[league]
        pool = [t for t in teams if t not in (home, away)]
        picks = rng.choice(len(pool), size=2, replace=False)
        home = home or pool[picks[0]]
        away = away or pool[picks[1]]
        year = years[int(rng.integers(len(years)))]
        # A season runs from August to May.
        day = dt.date(year, 8, 8) + dt.timedelta(days=int(rng.integers(290)))
        hour, minute = _KICKOFF_TIMES[int(rng.integers(len(_KICKOFF_TIMES)))]
        kickoff = dt.datetime(day.year, day.month, day.day, hour, minute)
        out.append((league, f"{year}-{year + 1}", home, away, kickoff))
    return out


def plan_dataset(cfg: SynthConfig) -> list[GamePlan]:
    """Plan every game of the dataset: split, names, kits and events (no rendering).

    Returns:
        Games in split order (train, valid, test, challenge), with unique paths.
    """
    counts = {"train": cfg.train, "valid": cfg.valid, "test": cfg.test, "challenge": cfg.challenge}
    splits = [s for s in SPLITS for _ in range(counts[s])]
    events: list[list[Event]] = []
    for k, split in enumerate(SPLITS):
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0, k]))
        events += _split_events(rng, cfg, split, counts[split])
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 2]))
    names = _names(rng, len(splits))
    kits = [tuple(int(k) for k in rng.choice(NUM_KITS, size=2, replace=False)) for _ in splits]
    plans: list[GamePlan] = []
    seen: set[str] = set()
    for g, split in enumerate(splits):
        league, season, home, away, kickoff = names[g]
        plan = GamePlan(g, split, league, season, home, away, kickoff, tuple(events[g]), kits[g])
        # Two games of the same teams on the same day and time: move the later one a week on.
        while plan.path in seen:
            kickoff += dt.timedelta(days=7)
            plan = GamePlan(g, split, league, season, home, away, kickoff, plan.events, kits[g])
        seen.add(plan.path)
        plans.append(plan)
    return plans


def plan_games(cfg: SynthConfig) -> list[tuple[str, str]]:
    """``(split, game path)`` of every planned game, e.g. ``("train", "germany_bundesliga/
    2015-2016/2015-10-03 - 15-00 Borussia M'gladbach 2 - 1 Mainz")``; fast (no rendering)."""
    return [(p.split, p.path) for p in plan_dataset(cfg)]


def random_half_events(
    rng: np.random.Generator,
    duration_s: float,
    *,
    half: int = 1,
    interval_s: float = 7.0,
    gap_s: float = 2.0,
    not_shown_fraction: float = 0.1,
) -> list[Event]:
    """Events of a standalone half (no per-split reservation): a Kick-off, then labels drawn
    with SoccerNet-v2's class frequencies, a ``not_shown_fraction`` of them "not shown"."""
    times = _slot_times_ms(rng, duration_s, interval_s, gap_s)
    labels = rng.choice(len(CLASSES), size=len(times) - 1, p=CLASS_PROBABILITIES)
    hidden = rng.random(len(times) - 1) < not_shown_fraction
    sides = rng.integers(2, size=len(times))
    events = [Event(half, int(times[0]), "Kick-off", ("home", "away")[sides[0]], "visible")]
    for i, label in enumerate(labels):
        name = CLASSES[label]
        team = "not applicable" if name in NO_TEAM else ("home", "away")[sides[i + 1]]
        events.append(
            Event(half, int(times[i + 1]), name, team, "not shown" if hidden[i] else "visible")
        )
    return events
