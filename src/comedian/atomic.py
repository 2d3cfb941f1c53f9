"""Atomic file writes: write to a temporary name in the target folder, then rename.

Usage:
    with atomic_path(out / "scores.npy") as tmp:
        np.save(tmp, scores)

A crash or an exception inside the block leaves no file at the final name, so an artefact that
exists is always complete (Snakemake and the resume logic rely on this).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    Args:
        path: The final file name. Its parent folder is created if missing.
        suffix: Suffix of the temporary name (defaults to the final suffix, so that writers that
            look at the extension, e.g. ``np.save``, behave the same).

    Yields:
        The temporary path to write to. It does not exist yet when yielded.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.name}.",
        suffix=final.suffix if suffix is None else suffix,
        dir=final.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{final}: the writer produced no file")
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
