"""Resumable download of SoccerNet-v2 game files with the SoccerNet package's downloader.

Usage:
    fetch = soccernet_fetcher(staging_dir, source="huggingface", password=None)
    manifest = download_games(root, [("test", "england_epl/2014-2015/..."), ...],
                              files=("1_224p.mkv", "2_224p.mkv", "Labels-v2.json"), fetch=fetch)

A file at its final place under ``root`` is always complete: the downloader writes into a
staging folder and a file is moved into place (one rename) only after the downloader returned
and the file is there. A rerun after an interruption skips every file already in place; the
staging folder is kept, so the Hugging Face client resumes its partial files.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from comedian.data.soccernet import LABELS_NAME

log = logging.getLogger(__name__)

#: fetch(split, game, file): make ``<staging>/<game>/<file>`` exist (or raise).
Fetch = Callable[[str, str, str], Path]

SOURCES = ("huggingface", "exrcsdrive")


class DownloadError(RuntimeError):
    """A file could not be downloaded (the message names it)."""


def files_of(split: str, files: Sequence[str]) -> list[str]:
    """The files of a game of ``split``: challenge games have no labels."""
    return [f for f in files if not (split == "challenge" and f == LABELS_NAME)]


def soccernet_fetcher(staging: Path, *, source: str, password: str | None) -> Fetch:
    """A fetch function backed by ``SoccerNet.Downloader.SoccerNetDownloader``.

    Args:
        staging: Folder the downloader writes into (``LocalDirectory``); kept between runs.
        source: ``huggingface`` (gated datasets; the token comes from ``HF_TOKEN`` or
            ``huggingface-cli login``) or ``exrcsdrive`` (the NDA password for the videos).
        password: The NDA password (exrcsdrive videos); never logged.
    """
    from SoccerNet.Downloader import SoccerNetDownloader

    if source not in SOURCES:
        raise ValueError(f"unknown download source {source!r} (expected one of {SOURCES})")
    downloader = SoccerNetDownloader(LocalDirectory=str(staging))
    downloader.password = password
    sn_source = "HuggingFace" if source == "huggingface" else "EXRCSDrive"

    def fetch(split: str, game: str, file: str) -> Path:
        staged = staging / game / file
        if source == "exrcsdrive" and staged.exists():
            # This downloader writes in place and skips a file that exists: a staged file is
            # what a killed transfer left behind, so it is fetched again. (Hugging Face keeps
            # partial files apart and resumes them.)
            staged.unlink()
        downloader.downloadGame(game=game, files=[file], spl=split, source=sn_source)
        return staged

    return fetch


def download_games(
    root: Path,
    games: Iterable[tuple[str, str]],
    *,
    files: Sequence[str],
    fetch: Fetch,
) -> list[tuple[str, str, int]]:
    """Bring every file of every game to ``root/<game>/<file>``, skipping complete ones.

    Args:
        root: The dataset root (SoccerNet layout: league/season/game/file).
        games: ``(split, game path)`` pairs.
        files: File names of a game (labels are skipped for challenge games).
        fetch: Puts one file in the staging folder and returns its path there.

    Returns:
        The manifest: ``(game path, file, size in bytes)`` of every file, in order.

    Raises:
        DownloadError: The downloader returned without the file (wrong password, no access,
            HTTP error): the message names the game and the file.
    """
    manifest = []
    fetched = skipped = 0
    for split, game in games:
        for file in files_of(split, files):
            final = root / game / file
            if not final.exists():
                staged = fetch(split, game, file)
                if not staged.is_file():
                    raise DownloadError(
                        f"{final}: the SoccerNet downloader did not deliver {file} of "
                        f"{game!r} ({split}); check the credentials and the log above"
                    )
                final.parent.mkdir(parents=True, exist_ok=True)
                # A rename on one file system; a copy to a temporary name then a rename across.
                tmp = final.with_name(f".{final.name}.part")
                try:
                    os.replace(staged, tmp)
                except OSError:
                    shutil.copyfile(staged, tmp)
                    staged.unlink()
                os.replace(tmp, final)
                fetched += 1
                log.info("downloaded %s", final)
            else:
                skipped += 1
            manifest.append((game, file, final.stat().st_size))
    log.info("%d file(s) downloaded, %d already complete", fetched, skipped)
    return manifest
