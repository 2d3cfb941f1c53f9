"""Download the SoccerNet-v2 224p videos and Labels-v2.json of some splits (rule ``download``).

Usage:
    export SOCCERNET_PASSWORD=...   # the NDA password (source exrcsdrive); HF_TOKEN for huggingface
    python -m comedian download --root /data/SoccerNet --manifest results/download/test.tsv \\
        --set "splits=[test]" [--source exrcsdrive]

Uses the SoccerNet package's ``SoccerNetDownloader`` on the official game lists of the splits.
The password is read from the environment variable named by ``password_env``, never from the
config or the command line, and is never logged. Resumable: files already complete under
``root`` are skipped, and a file reaches its final name only once it is complete; complete
means the size (and SHA-256, where the source gives one) the source announces, so an empty or
short file in place is fetched again (``comedian.data.download``). The manifest (game, file, bytes; TSV) is written last.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from comedian.atomic import atomic_path
from comedian.config import write_resolved
from comedian.data.download import download_games, soccernet_fetcher, soccernet_probe
from comedian.data.games import soccernet_games
from comedian.data.soccernet import LABELS_NAME, SPLITS, VIDEO_NAMES
from comedian.errors import InputError
from comedian.guards import refuse_overwrite

#: What ``comedian --help`` says of this stage.
SUMMARY = "download SoccerNet-v2 224p videos and labels of some splits (resumable)"


@dataclass(frozen=True)
class Paths:
    """Where the dataset goes and the manifest that marks a finished split."""

    root: Path = field(
        metadata={"output": True, "help": "the SoccerNet-v2 dataset root (league/season/game)"}
    )
    manifest: Path = field(
        metadata={"output": True, "help": "TSV of the downloaded files, written last"}
    )


@dataclass(frozen=True)
class Config:
    """Download settings (defaults: the files the paper's pipeline reads)."""

    splits: tuple[str, ...] = field(default=SPLITS, metadata={"help": "splits to download"})
    files: tuple[str, ...] = field(
        default=(*VIDEO_NAMES.values(), LABELS_NAME),
        metadata={"help": "files of each game (challenge games have no labels)"},
    )
    source: Literal["huggingface", "exrcsdrive"] = field(
        default="huggingface",
        metadata={"help": "SoccerNet's Hugging Face datasets or the KAUST drive (NDA password)"},
    )
    password_env: str = field(
        default="SOCCERNET_PASSWORD",
        metadata={"help": "environment variable holding the NDA password (exrcsdrive)"},
    )


def run(cfg: Config, *, paths: Paths) -> None:
    """Download every missing file of the configured splits, then write the manifest."""
    refuse_overwrite(inputs={}, outputs={"--root": paths.root, "--manifest": paths.manifest})
    unknown = [s for s in cfg.splits if s not in SPLITS]
    if unknown:
        raise ValueError(f"unknown split(s) {unknown} (expected some of {list(SPLITS)})")
    password = os.environ.get(cfg.password_env) or None
    if cfg.source == "exrcsdrive" and password is None:
        raise InputError(
            f"{cfg.password_env}: set this environment variable to the SoccerNet NDA password "
            "(source exrcsdrive)"
        )
    table = soccernet_games(cfg.splits)
    # The staging folder stays between runs so that interrupted downloads resume there.
    staging = paths.root / ".download"
    fetch = soccernet_fetcher(staging, source=cfg.source, password=password)
    manifest = download_games(
        paths.root,
        zip(table["split"], table["path"], strict=True),
        files=cfg.files,
        fetch=fetch,
        probe=soccernet_probe(source=cfg.source, password=password),
    )
    with atomic_path(paths.manifest) as tmp:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
            writer.writerow(["game", "file", "bytes"])
            writer.writerows(manifest)
    write_resolved(
        paths.manifest.with_suffix(".resolved.yaml"), stage="download", config=cfg, paths=paths
    )
