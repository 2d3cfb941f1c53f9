"""Atomic writes: write to a hidden temporary name in the target folder, then rename.

Usage:
    with atomic_path(out / "scores.npy") as tmp:
        with tmp.open("wb") as f:
            np.save(f, scores)
    with atomic_tree(out_dir, owned=("results_spotting.json",)) as tmp_dir:
        ...                                   # write the whole new folder content under tmp_dir
    remove_stale_temporaries(out_dir)         # at the start of a stage that owns out_dir

A crash or an exception inside the block leaves no file at the final name (and no temporary
file: a full disk, ENOSPC, is reported naming the final path, never the hidden temporary one), so an artefact that
exists is always complete (Snakemake and the resume logic rely on this). Temporary names are
``.<name>.<random>.tmp``: hidden, and ending in ``.tmp``, a suffix no reader of the project
matches (readers look for ``*.frames``, ``1.npy``, ``results_spotting.json``, ``metrics.json``
...), so a stage killed by ``kill -9`` never leaves something that looks like data. Stages
remove such leftovers of their own outputs when they start.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

#: Suffix of every temporary file or folder written by this module.
TMP_SUFFIX = ".tmp"
# ".<name>.<8 random chars from mkstemp/mkdtemp>.tmp"
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")


def temporary_target(name: str) -> str | None:
    """The final name a temporary name of this module stands for, or None for other names.

    >>> temporary_target(".1.frames.ab_9xYz1.tmp"), temporary_target("1.frames")
    ('1.frames', None)
    """
    m = _TMP_RE.match(name)
    return m.group("name") if m else None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    Writers that infer a format from the extension must be told the format (``np.save`` to an
    open file, ``savefig(..., format="png")``, ffmpeg ``-f matroska``): the temporary name ends
    in ``.tmp``.

    Args:
        path: The final file name. Its parent folder is created if missing.

    Yields:
        The temporary path to write to. It does not exist yet when yielded.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=TMP_SUFFIX, dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{final}: the writer produced no file")
        os.replace(tmp, final)
    except OSError as err:
        raise _naming(err, tmp, final) from err
    finally:
        if tmp.exists():
            tmp.unlink()


def _naming(err: OSError, tmp: Path, final: Path) -> OSError:
    """The same error naming the final path instead of the temporary one, or none (writers
    often raise ENOSPC without a file name); ``err`` itself if it names another file."""
    if err.errno is None:
        return err
    if err.filename is None:
        target = final
    else:
        named = Path(os.fsdecode(err.filename))
        if named != tmp and tmp not in named.parents:
            return err
        target = final / named.relative_to(tmp)
    return type(err)(err.errno, err.strerror or os.strerror(err.errno), str(target))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def remove_stale_temporaries(folder: str | os.PathLike[str], *, recursive: bool = True) -> int:
    """Delete the temporary files and folders this module left under ``folder`` (a killed run).

    Only call it for a folder the calling stage owns: another job writing there at the same time
    would lose its temporary file. For one output file, use :func:`remove_stale_siblings`.

    Returns:
        How many were removed.
    """
    root = Path(folder)
    if not root.is_dir():
        return 0
    found = [p for p in (root.rglob(".*") if recursive else root.glob(".*"))]
    removed = 0
    for p in sorted(found, key=lambda q: len(q.parts)):
        if temporary_target(p.name) is None or not (p.exists() or p.is_symlink()):
            continue
        _remove(p)
        removed += 1
    return removed


def remove_stale_siblings(path: str | os.PathLike[str]) -> int:
    """Delete the temporary files a killed run left for the one output ``path``.

    Safe when other jobs write other files of the same folder (their names differ).
    """
    final = Path(path)
    if not final.parent.is_dir():
        return 0
    removed = 0
    for p in final.parent.glob(f".{glob_escape(final.name)}.*{TMP_SUFFIX}"):
        if temporary_target(p.name) == final.name:
            _remove(p)
            removed += 1
    return removed


def _remove(p: Path) -> None:
    """Delete a leftover temporary file or folder (a link itself, never its target)."""
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def glob_escape(name: str) -> str:
    """Escape glob metacharacters of a file name (real game names hold ``[`` rarely, quotes)."""
    return re.sub(r"([*?\[])", r"[\1]", name)


@contextlib.contextmanager
def atomic_tree(folder: str | os.PathLike[str], *, owned: Iterable[str]) -> Iterator[Path]:
    """Write a folder's content as a whole: yield a hidden temporary folder, then swap it in.

    When the block succeeds, every file under ``folder`` whose name is in ``owned`` (e.g.
    ``results_spotting.json``) and that the new content does not hold is deleted, and the new
    files are renamed into place (one rename each, after all of them were written). Files with
    other names (a user's notes, another stage's outputs) are left alone, so a folder that held
    the results of another setting never ends up with a mix of both. On an exception nothing
    under ``folder`` changes.

    Args:
        folder: The output folder (created if missing).
        owned: File names the writer owns inside ``folder`` (at any depth).

    Yields:
        The temporary folder to write into, laid out like ``folder``.
    """
    final = Path(folder)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=TMP_SUFFIX, dir=final.parent))
    names = set(owned)
    try:
        try:
            yield tmp
        except OSError as err:
            raise _naming(err, tmp, final) from err
        new = sorted(p.relative_to(tmp) for p in tmp.rglob("*") if p.is_file())
        keep = set(new)
        if final.is_dir():
            for old in final.rglob("*"):
                if old.name in names and old.is_file() and old.relative_to(final) not in keep:
                    old.unlink()
        for rel in new:
            (final / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / rel, final / rel)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
