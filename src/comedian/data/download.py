"""Resumable download of SoccerNet-v2 game files with the SoccerNet package's downloader.

Usage:
    fetch = soccernet_fetcher(staging_dir, source="huggingface", password=None)
    manifest = download_games(root, [("test", "england_epl/2014-2015/..."), ...],
                              files=("1_224p.mkv", "2_224p.mkv", "Labels-v2.json"), fetch=fetch)

A file reaches its final place under ``root`` only complete: the downloader writes into a
staging folder, and a file is moved into place (one rename) only after the downloader returned
and the file has the size (and SHA-256, where the source gives one) that the source announces
(:func:`soccernet_probe`: Hugging Face's paths-info, a HEAD request on the KAUST drive). A rerun
skips a file in place only when it is complete by the same test, or when this stage verified it
before and it has not changed since (``<root>/.download/verified.json``: size, mtime, SHA-256),
so that a rerun does not hash every video again. An empty file, a short one, one whose checksum
differs, or one that cannot be verified is fetched again. The staging folder is kept, so the
Hugging Face client resumes its partial files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from comedian.atomic import write_text_atomic
from comedian.data.soccernet import LABELS_NAME
from comedian.guards import join_inside

log = logging.getLogger(__name__)

#: fetch(split, game, file): make ``<staging>/<game>/<file>`` exist (or raise).
Fetch = Callable[[str, str, str], Path]

SOURCES = ("huggingface", "exrcsdrive")
#: The KAUST drive (WebDAV) the SoccerNet downloader reads.
EXRCS_SERVER = "https://exrcsdrive.kaust.edu.sa/public.php/webdav/"
#: File of the verified files, in the staging folder.
VERIFIED_NAME = "verified.json"


@dataclass(frozen=True)
class Expected:
    """What the source says a file is: its size in bytes and, where given, its SHA-256."""

    size: int
    sha256: str | None = None


#: probe(split, game, file): the source's size (and checksum) of a file, or None if unknown.
Probe = Callable[[str, str, str], Expected | None]


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


def soccernet_probe(
    *, source: str, password: str | None, endpoint: str | None = None, server: str = EXRCS_SERVER
) -> Probe:
    """The size (and SHA-256) of a game file at the source the SoccerNet downloader reads.

    Hugging Face: the dataset repository and branch the downloader routes the file to, asked
    through ``HfApi.get_paths_info`` (size, and the LFS SHA-256 of videos). KAUST drive: the
    ``Content-Length`` of a HEAD request on the downloader's URL (224p videos and labels). Other
    files: None. ``endpoint`` and ``server`` point the probe elsewhere (tests: a local server).
    """
    from SoccerNet.Downloader import SoccerNetDownloader

    if source not in SOURCES:
        raise ValueError(f"unknown download source {source!r} (expected one of {SOURCES})")
    if source == "huggingface":
        from huggingface_hub import HfApi

        api = HfApi(endpoint=endpoint)
        branches = SoccerNetDownloader._HF_VIDEO_BRANCH_BY_FILE
        labels = SoccerNetDownloader._HF_LABEL_FILES

        def probe_hf(split: str, game: str, file: str) -> Expected | None:
            if file in branches:
                repo = "SoccerNet/SoccerNet_raw_HQ" + ("_Challenge" if split == "challenge" else "")
                revision = branches[file]
            elif file in labels:
                repo, revision = "SoccerNet/SN-Labels", "main"
            else:
                return None
            infos = api.get_paths_info(
                repo, [f"{game}/{file}"], revision=revision, repo_type="dataset"
            )
            if not infos or not hasattr(infos[0], "size"):
                raise DownloadError(f"{game}/{file}: not in {repo} ({revision})")
            lfs = getattr(infos[0], "lfs", None)
            return Expected(int(infos[0].size), lfs.sha256 if lfs is not None else None)

        return probe_hf

    users = {"1_224p.mkv": "MKmZigARdGSoaTT", "2_224p.mkv": "MKmZigARdGSoaTT"}

    def probe_exrcs(split: str, game: str, file: str) -> Expected | None:
        if file in users:
            url, user = f"{server}video_224p/{game}/{file}", users[file]
        elif file == LABELS_NAME and split != "challenge":
            url, user = f"{server}{game}/{file}", "WUOSnPSYRC1RY13"
        else:
            return None
        request = urllib.request.Request(url.replace(" ", "%20"), method="HEAD")
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=60) as response:
            length = response.headers.get("Content-Length")
        return None if length is None else Expected(int(length))

    return probe_exrcs


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def incomplete(path: Path, expected: Expected | None) -> str | None:
    """Why ``path`` is not a complete copy of the source's file, or None if it is.

    An empty file is never complete; a file of the source's size (and SHA-256, where the
    source gives one) is; without the source's word (``expected`` None) a file cannot be shown
    complete.
    """
    size = path.stat().st_size
    if size == 0:
        return "empty file"
    if expected is None:
        return "the source gives no size to check it against"
    if size != expected.size:
        return f"{size} bytes, the source has {expected.size}"
    if expected.sha256 is not None and sha256_of(path) != expected.sha256:
        return f"SHA-256 differs from the source's {expected.sha256}"
    return None


class _Verified:
    """The files this stage verified: ``{"<game>/<file>": [size, mtime_ns, sha256]}``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.entries = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(self.entries, dict):
                raise ValueError("not an object")
        except FileNotFoundError:
            self.entries = {}
        except ValueError as err:
            log.warning("%s: unreadable (%s); every file in place is checked again", path, err)
            self.entries = {}

    def unchanged(self, key: str, path: Path) -> bool:
        st = path.stat()
        entry = self.entries.get(key)
        return entry is not None and entry[:2] == [st.st_size, st.st_mtime_ns]

    def add(self, key: str, path: Path, expected: Expected | None) -> None:
        st = path.stat()
        self.entries[key] = [st.st_size, st.st_mtime_ns, expected and expected.sha256]
        write_text_atomic(self.path, json.dumps(self.entries, indent=0, sort_keys=True))


def download_games(
    root: Path,
    games: Iterable[tuple[str, str]],
    *,
    files: Sequence[str],
    fetch: Fetch,
    probe: Probe | None = None,
) -> list[tuple[str, str, int]]:
    """Bring every file of every game to ``root/<game>/<file>``, skipping complete ones.

    Args:
        root: The dataset root (SoccerNet layout: league/season/game/file).
        games: ``(split, game path)`` pairs.
        files: File names of a game (labels are skipped for challenge games).
        fetch: Puts one file in the staging folder and returns its path there.
        probe: The source's size (and checksum) of a file (:func:`soccernet_probe`); None: no
            source information (then only files verified before, or fetched now, count).

    Returns:
        The manifest: ``(game path, file, size in bytes)`` of every file, in order.

    Raises:
        DownloadError: The downloader returned without the file (wrong password, no access,
            HTTP error), or with a file of another size or checksum than the source's: the
            message names the file.
    """
    verified = _Verified(root / ".download" / VERIFIED_NAME)
    manifest = []
    fetched = skipped = 0
    for split, game in games:
        for file in files_of(split, files):
            key = f"{game}/{file}"
            final = join_inside(root, key, source=f"game {game!r} ({split}), file")
            expected: Expected | None = None
            problem: str | None = "missing"
            if final.is_file() and final.stat().st_size > 0 and verified.unchanged(key, final):
                problem = None
            elif final.exists():
                expected = probe(split, game, file) if probe is not None else None
                problem = incomplete(final, expected)
                if problem is None:
                    verified.add(key, final, expected)
                else:
                    log.warning("%s: not complete (%s); fetching it again", final, problem)
            elif probe is not None:
                expected = probe(split, game, file)
            if problem is not None:
                staged = fetch(split, game, file)
                if not staged.is_file():
                    raise DownloadError(
                        f"{final}: the SoccerNet downloader did not deliver {file} of "
                        f"{game!r} ({split}); check the credentials and the log above"
                    )
                wrong = incomplete(staged, expected)
                if wrong is not None and (expected is not None or wrong == "empty file"):
                    staged.unlink()  # the rerun fetches it again
                    raise DownloadError(
                        f"{final}: the SoccerNet downloader delivered an incomplete {file} of "
                        f"{game!r} ({split}): {wrong}"
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
                verified.add(key, final, expected)
                fetched += 1
                log.info("downloaded %s", final)
            else:
                skipped += 1
            manifest.append((game, file, final.stat().st_size))
    log.info("%d file(s) downloaded, %d already complete", fetched, skipped)
    return manifest
