"""SoccerNet-v2 action-spotting conventions shared by every stage (method.md section 0).

Usage:
    from comedian.data.soccernet import CLASSES, CLASS_INDEX, format_game_time
"""

from __future__ import annotations

#: The 17 SoccerNet-v2 action classes in the official index order (EVENT_DICTIONARY_V2).
CLASSES: tuple[str, ...] = (
    "Penalty",
    "Kick-off",
    "Goal",
    "Substitution",
    "Offside",
    "Shots on target",
    "Shots off target",
    "Clearance",
    "Ball out of play",
    "Throw-in",
    "Foul",
    "Indirect free-kick",
    "Direct free-kick",
    "Corner",
    "Yellow card",
    "Red card",
    "Yellow->red card",
)
NUM_CLASSES: int = len(CLASSES)
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}

#: Split names as the SoccerNet package spells them (``valid``, never ``val``).
SPLITS: tuple[str, ...] = ("train", "valid", "test", "challenge")
#: Video file of each half, relative to a game folder.
VIDEO_NAMES: dict[int, str] = {1: "1_224p.mkv", 2: "2_224p.mkv"}
LABELS_NAME = "Labels-v2.json"
RESULTS_NAME = "results_spotting.json"
HALVES: tuple[int, ...] = (1, 2)
VISIBILITIES: tuple[str, ...] = ("visible", "not shown")


def format_game_time(half: int, position_ms: int) -> str:
    """Format a position the way SoccerNet writes ``gameTime``: ``"<half> - MM:SS"``.

    Minutes are not wrapped at 45 (stoppage time reads ``"1 - 47:05"``).

    >>> format_game_time(1, 323400)
    '1 - 05:23'
    """
    total_s = int(position_ms) // 1000
    return f"{half} - {total_s // 60:02d}:{total_s % 60:02d}"
