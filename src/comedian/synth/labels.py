"""Labels-v2.json of a synthetic game, in the exact form SoccerNet writes it (method.md section 0).

Usage:
    write_labels(plan, root / plan.path / "Labels-v2.json")
    doc = labels_document(plan)   # the same content as a dict

Top-level keys in SoccerNet's (alphabetical) order: ``UrlLocal`` (the game path with a trailing
``/``), ``UrlYoutube`` (empty), ``annotations`` (sorted by half, then position), ``gameAwayTeam``,
``gameDate`` (``DD/MM/YYYY - HH:MM``), ``gameHomeTeam``, ``gameScore`` (``N - M``, the Goal
events of each team). Each annotation: ``gameTime`` (``H - MM:SS``), ``label``, ``position``
(milliseconds of the half, as a string), ``team`` and ``visibility``. Written with a 4-space
indent, like SoccerNet's files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from comedian.atomic import write_text_atomic
from comedian.data.soccernet import format_game_time
from comedian.synth.plan import GamePlan


def labels_document(plan: GamePlan) -> dict[str, Any]:
    """The Labels-v2.json content of one game."""
    events = sorted(plan.events, key=lambda e: (e.half, e.position_ms))
    home, away = plan.score
    return {
        "UrlLocal": f"{plan.path}/",
        "UrlYoutube": "",
        "annotations": [
            {
                "gameTime": format_game_time(e.half, e.position_ms),
                "label": e.label,
                "position": str(e.position_ms),
                "team": e.team,
                "visibility": e.visibility,
            }
            for e in events
        ],
        "gameAwayTeam": plan.away,
        "gameDate": plan.kickoff.strftime("%d/%m/%Y - %H:%M"),
        "gameHomeTeam": plan.home,
        "gameScore": f"{home} - {away}",
    }


def write_labels(plan: GamePlan, path: str | Path) -> None:
    """Write the game's Labels-v2.json to ``path`` (atomically)."""
    write_text_atomic(path, json.dumps(labels_document(plan), indent=4))
