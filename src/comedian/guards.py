"""Refuse outputs that would overwrite, or lie inside, a stage's inputs (before any work).

Usage (first line of a stage's ``run``):
    refuse_overwrite(inputs={"--raw": paths.raw}, outputs={"--out": paths.out})

A wrong ``--out`` must never destroy data: ``decode --out`` equal to ``--video``, ``ensemble
--out`` equal to a member, ``evaluate --out`` inside the labels tree, or an output folder that
holds an input (replacing the folder's content would delete it) are refused with the two
options named. Paths are compared after resolving symbolic links and ``..``, and existing files
also by identity (hard links).

Paths read from a file (a games table's ``path`` column, the game folders of a raw scores or
results tree) are joined onto a folder only through :func:`join_inside`, which refuses a path
that is absolute or climbs out with ``..`` and names where the path came from (file and row):
a games table row ``../../etc`` must never make ``predict`` write ``1.npy`` outside ``--out``.

    game_dir = join_inside(out, game, source=f"{table}: line 3")
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from comedian.errors import InputError, UsageError

PathsArg = Mapping[str, "str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None"]


#: Files a training stage writes beside its ``--out`` model (:mod:`comedian.training`).
RUN_FILES: tuple[str, ...] = ("last.pt", "train_log.csv", "config.resolved.yaml", ".resume")


def run_outputs(out: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """The outputs of a training stage: ``--out`` and the run files beside it (for
    :func:`refuse_overwrite`)."""
    out = Path(out)
    return {"--out": [out], "a run file beside --out": [out.parent / n for n in RUN_FILES]}


def _flatten(named: PathsArg) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for option, value in named.items():
        if value is None:
            continue
        if isinstance(value, str | os.PathLike):
            out.append((option, Path(value)))
        else:
            out.extend((option, Path(v)) for v in value if v is not None)
    return out


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overwrite(*, inputs: PathsArg, outputs: PathsArg) -> None:
    """Raise :class:`UsageError` if an output is an input, lies inside one, or holds one.

    Args:
        inputs: Option name -> input path (file or folder), a list of them, or None.
        outputs: Option name -> output path, a list of them, or None. Include the extra files a
            stage writes beside its output (``config.resolved.yaml``) under a descriptive name.
    """
    ins = [(o, p, p.resolve()) for o, p in _flatten(inputs)]
    for out_opt, out in _flatten(outputs):
        out_abs = out.resolve()
        for in_opt, inp, in_abs in ins:
            if _inside(out_abs, in_abs) or _same_file(out, inp):
                where = "is" if out_abs == in_abs or _same_file(out, inp) else "lies inside"
                raise UsageError(
                    f"{out_opt} {out}: {where} the input {in_opt} {inp}; refusing to overwrite "
                    f"an input (choose another output path)"
                )
            if _inside(in_abs, out_abs):
                raise UsageError(
                    f"{out_opt} {out}: holds the input {in_opt} {inp}; writing there could "
                    f"replace an input (choose another output path)"
                )


def check_relative(rel: str | os.PathLike[str], *, source: str) -> None:
    """Raise :class:`InputError` unless ``rel`` stays inside any folder it is joined to.

    Refused: an empty path or ``.``, an absolute path, a ``..`` component, a NUL character. No
    file system access: a path is judged by its text (links that a user placed inside a dataset
    are followed on purpose, e.g. a league folder on another disk).

    Args:
        rel: The relative path read from a file.
        source: Where it was read, for the message (``"games.tsv: line 3"``).
    """
    text = os.fspath(rel)
    if "\x00" in text:
        raise InputError(f"{source}: path {text!r} holds a NUL character")
    parts = PurePosixPath(text).parts
    if not parts or text.strip() in ("", "."):
        raise InputError(f"{source}: empty path (expected a folder relative to its root)")
    if text.startswith("/"):
        raise InputError(
            f"{source}: path {text!r} is absolute; paths here are relative to their root folder"
        )
    if ".." in parts:
        raise InputError(
            f"{source}: path {text!r} climbs out with '..'; it must stay inside its root folder"
        )


def join_inside(root: str | os.PathLike[str], rel: str | os.PathLike[str], *, source: str) -> Path:
    """``root / rel``, after :func:`check_relative` refused paths that would leave ``root``."""
    check_relative(rel, source=source)
    return Path(root) / os.fspath(rel)
