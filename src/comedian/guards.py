"""Refuse outputs that would overwrite, or lie inside, a stage's inputs (before any work).

Usage (first line of a stage's ``run``):
    refuse_overwrite(inputs={"--raw": paths.raw}, outputs={"--out": paths.out})

A wrong ``--out`` must never destroy data: ``decode --out`` equal to ``--video``, ``ensemble
--out`` equal to a member, ``evaluate --out`` inside the labels tree, or an output folder that
holds an input (replacing the folder's content would delete it) are refused with the two
options named. Paths are compared after resolving symbolic links and ``..``, and existing files
also by identity (hard links).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from comedian.errors import UsageError

PathsArg = Mapping[str, "str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None"]


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
