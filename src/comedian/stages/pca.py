"""PCA of the teacher features, step 2b (method.md §4) (rule ``pca``).

Usage:
    python -m comedian pca --games results/games/games.tsv --features results/extract_features \\
        --transform results/pca/transform.npz --out results/pca/features [--n-components 512]

Fits the z-score (population std) + PCA (scikit-learn, no whitening) on the features of every
half of the train split, saves the transform, and applies it unchanged to every half of every
game of the games table: ``<out>/<game>/<half>.npy``, float32 (num_rows, n_components).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from comedian.atomic import atomic_path
from comedian.config import write_resolved
from comedian.data.games import read_games_table
from comedian.data.pca import PcaError, fit_pca, read_features
from comedian.data.soccernet import HALVES
from comedian.guards import refuse_overwrite
from comedian.paths import BANK_IN_DIR

log = logging.getLogger(__name__)

STAGE = "pca"


#: What ``comedian --help`` says of this stage.
SUMMARY = "step 2b: fit z-score + PCA on train features, apply to every half"


@dataclass(frozen=True)
class Paths:
    """Inputs and outputs of the PCA."""

    games: Path = field(metadata={"help": "games table (results/games/games.tsv)"})
    features: Path = field(metadata={"help": "teacher features folder (results/extract_features)"})
    transform: Path = field(
        metadata={"output": True, "help": "transform file to write (results/pca/transform.npz)"}
    )
    out: Path = field(
        metadata={"output": True, "help": "folder of the reduced features (results/pca/features)"}
    )


@dataclass(frozen=True)
class Config:
    """PCA settings: the paper's (method.md §4)."""

    n_components: int = field(default=512, metadata={"help": "components kept"})
    fit_split: str = field(default="train", metadata={"help": "split the transform is fitted on"})
    max_rows: int | None = field(
        default=500_000, metadata={"help": "fit on a uniform subsample of rows (null: all)"}
    )
    seed: int = 0


def feature_path(folder: Path, slug: str, half: int) -> Path:
    return Path(folder) / BANK_IN_DIR.format(game=slug, half=half)


def load_features(folder: Path, slug: str, half: int) -> np.ndarray:
    """One half's teacher features (memory map), checked (:func:`read_features`)."""
    return read_features(feature_path(folder, slug, half), half=f"half {half} of {slug}")


def run(cfg: Config, *, paths: Paths) -> None:
    """Fit on the train split, apply to every half of the table."""
    refuse_overwrite(
        inputs={"--games": paths.games, "--features": paths.features},
        outputs={
            "--transform": paths.transform,
            "--out": paths.out,
            "config.resolved.yaml": Path(paths.transform).parent / "config.resolved.yaml",
        },
    )
    table = read_games_table(paths.games)
    train = table[table["split"] == cfg.fit_split]
    if train.empty:
        raise ValueError(f"{paths.games}: no game in split {cfg.fit_split!r} to fit the PCA on")
    # every half is checked before the fit (a broken file fails in seconds, not after it);
    # each map is dropped at once, so that the open files stay within the train split's
    for slug in table["slug"]:
        for h in HALVES:
            load_features(paths.features, slug, h)
    banks = [load_features(paths.features, s, h) for s in train["slug"] for h in HALVES]
    pca = fit_pca(banks, cfg.n_components, max_rows=cfg.max_rows, seed=cfg.seed)
    pca.save(paths.transform)
    for slug in table["slug"]:
        for h in HALVES:
            src = feature_path(paths.features, slug, h)
            reduced = pca.transform(
                load_features(paths.features, slug, h), source=f"{src} (half {h} of {slug})"
            )
            if not np.isfinite(reduced).all():
                raise PcaError(f"{src}: features of half {h} of {slug} hold NaN or inf")
            dst = Path(paths.out) / BANK_IN_DIR.format(game=slug, half=h)
            dst.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dst) as tmp, open(tmp, "wb") as f:
                np.save(f, reduced)
    write_resolved(Path(paths.transform).parent / "config.resolved.yaml", stage=STAGE,
                   config=cfg, paths=paths)  # fmt: skip
    log.info(
        "%s: %d train halves, %d components (%.1f %% of the variance) -> %s",
        STAGE, len(banks), pca.out_dim, 100 * pca.explained_variance_ratio.sum(), paths.out,
    )  # fmt: skip
