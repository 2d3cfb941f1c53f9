"""The games table: which games the pipeline runs on, their split and their real path.

Usage:
    table = soccernet_games(["train", "valid", "test"])        # official SoccerNet-v2 lists
    table = games_table([("train", "england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1 Burnley")])
    write_games_table(table, "results/games/games.tsv"); read_games_table(...)

Columns: ``slug`` (``[a-z0-9_]+``, the ``{game}`` wildcard), ``split``, ``path`` (the game folder
relative to the dataset root, e.g. ``england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1
Burnley``). Real game names hold spaces, dots, dashes and apostrophes: they never become a
wildcard or an unquoted shell word; the slug does.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from comedian.atomic import atomic_path
from comedian.data.soccernet import SPLITS
from comedian.errors import InputError
from comedian.guards import check_relative

COLUMNS: tuple[str, ...] = ("slug", "split", "path")
SLUG_RE = re.compile(r"^[a-z0-9_]+$")


def slugify(path: str) -> str:
    """Lowercase ``path`` and turn every run of characters outside ``[a-z0-9]`` into ``_``.

    >>> slugify("england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1 Burnley")
    'england_epl_2014_2015_2015_02_21_18_00_chelsea_1_1_burnley'
    """
    slug = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")
    if not slug:
        raise ValueError(f"game path {path!r} has no letters or digits to make a slug from")
    return slug


def games_table(games: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """Build the table from ``(split, path)`` pairs, with unique slugs.

    Two paths that slugify alike (``"1 - 1"`` and ``"1-1"``) both get a short hash of their path
    appended, so slugs stay stable whatever else is in the table.

    Raises:
        ValueError: For an unknown split or a path listed twice.
    """
    rows = []
    for split, path in games:
        if split not in SPLITS:
            raise ValueError(f"game {path!r}: unknown split {split!r} (expected one of {SPLITS})")
        rows.append({"slug": slugify(path), "split": split, "path": path})
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    dup_paths = table["path"][table["path"].duplicated()]
    if len(dup_paths):
        raise ValueError(f"game listed twice: {dup_paths.iloc[0]!r}")
    clash = table["slug"].duplicated(keep=False)
    table.loc[clash, "slug"] = [
        f"{s}_{hashlib.sha1(p.encode()).hexdigest()[:8]}"
        for s, p in zip(table.loc[clash, "slug"], table.loc[clash, "path"], strict=True)
    ]
    return table.reset_index(drop=True)


def soccernet_games(splits: Sequence[str]) -> pd.DataFrame:
    """The official SoccerNet-v2 action-spotting game lists, as shipped in the SoccerNet package.

    train 300, valid 100, test 100, challenge 50 games.
    """
    from SoccerNet.utils import getListGames

    return games_table(
        (split, game) for split in splits for game in getListGames(split, task="spotting")
    )


def write_games_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write the table as TSV (atomically)."""
    with atomic_path(path) as tmp:
        table.loc[:, list(COLUMNS)].to_csv(tmp, sep="\t", index=False)


def read_games_table(path: str | Path) -> pd.DataFrame:
    """Read and check a games TSV (columns slug, split, path).

    Every ``path`` must be relative and stay inside the dataset root (and every folder the
    stages join it to, such as ``predict --out``): an absolute path or one with ``..`` is refused
    naming the line.

    Raises:
        ValueError: Naming the file and the problem (missing column, bad slug, duplicates, a path
            that leaves its root).
    """
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the games table is empty (expected columns {list(COLUMNS)})")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        problem = " ".join(str(err).split())
        raise InputError(f"{path}: not a games table (TSV): {problem}") from None
    if table.empty:
        raise InputError(f"{path}: the games table has no game")
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}")
    bad = table.loc[~table["slug"].str.match(SLUG_RE), "slug"]
    if len(bad):
        raise ValueError(f"{path}: slug {bad.iloc[0]!r} is not [a-z0-9_]+")
    for line, game in enumerate(table["path"], start=2):  # line 1: the header
        check_relative(game, source=f"{path}: line {line} (column path)")
    for col in ("slug", "path"):
        dup = table[col][table[col].duplicated()]
        if len(dup):
            raise ValueError(f"{path}: {col} {dup.iloc[0]!r} appears twice")
    return table.loc[:, list(COLUMNS)]


def split_paths(table: pd.DataFrame, split: str) -> list[str]:
    """The game paths of one split, in table order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (expected one of {SPLITS})")
    return table.loc[table["split"] == split, "path"].tolist()
