"""The tiny models and stage command lines of the pretraining tests (8 frames = 4 tokens, 16 px).

``stage_args(stage, data, out)`` gives the ``comedian`` arguments of one training stage on the
tiny stores (results under ``out``); ``run_chain`` runs pretrain -> teacher -> extract_features
-> pca -> distill once, as the DAG does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from comedian.cli import main

VIVIT = {"img_size": 16, "patch_size": 8, "num_frames": 8, "embed_dim": 16, "depth": 2,
         "num_heads": 2, "temporal_depth": 1, "temporal_num_heads": 2, "drop_path_rate": 0.0,
         "temporal_drop_path_rate": 0.0}  # fmt: skip
RESNET = {"width": 2, "depths": [1, 1, 1, 1]}
COMMON = {"accelerator": "cpu", "num_workers": 0, "epochs": 1}
#: Each training stage's tiny settings (2 steps an epoch).
SETTINGS: dict[str, dict[str, Any]] = {
    "pretrain": {"model": VIVIT, "batch_size": 40, "queue_size": 64, "proj_hidden": 32,
                 "proj_dim": 16},
    "teacher": {"model": RESNET, "batch_size": 4, "windows_per_half": 2, "img_size": 16},
    "distill": {"model": VIVIT, "batch_size": 2, "windows_per_half": 1, "queue_size": 32,
                "proj_hidden": 32},
}  # fmt: skip


def sets(**kw: object) -> list[str]:
    return [a for k, v in kw.items() for a in ("--set", f"{k}={json.dumps(v)}")]


def csv_steps(path: Path) -> list[int]:
    """The step of every training row (rows with a loss) of a train_log.csv."""
    rows = path.read_text().splitlines()[1:]
    return [int(r.split(",")[0]) for r in rows if r.split(",")[3]]


def stage_args(
    stage: str, d: Any, out: Path, *, inputs: Path | None = None, **overrides: object
) -> list[str]:
    """``comedian`` arguments of a training stage writing ``out/<stage>/model.pt``.

    ``distill`` reads ``pca/features`` and ``pretrain/model.pt`` under ``inputs`` (default
    ``out``), as :func:`run_chain` wrote them.
    """
    inputs = out if inputs is None else inputs
    io = {
        "pretrain": ["--games", str(d.games), "--frames", str(d.frames2)],
        "teacher": ["--games", str(d.games), "--frames", str(d.frames2), "--frames4",
                    str(d.frames4), "--labels", str(d.labels)],
        "distill": ["--games", str(d.games), "--frames", str(d.frames2), "--features",
                    str(inputs / "pca/features"), "--init", str(inputs / "pretrain/model.pt")],
    }[stage]  # fmt: skip
    values = {**COMMON, **SETTINGS[stage], **overrides}
    return [stage, *io, "--out", str(out / stage / "model.pt"), *sets(**values)]


def stage_inputs(stage: str, d: Any, inputs: Path, **overrides: object) -> list[str]:
    """:func:`stage_args` without the stage name and ``--out`` (a rule gives the output)."""
    args = stage_args(stage, d, inputs, **overrides)[1:]
    i = args.index("--out")
    return args[:i] + args[i + 2 :]


def run_chain(d: Any, out: Path) -> None:
    """The five pretraining stages once, each for one epoch of 2 steps."""
    main(stage_args("pretrain", d, out))
    main(stage_args("teacher", d, out))
    for slug in d.slugs:
        for half in (1, 2):
            main(["extract-features", "--model", str(out / "teacher/model.pt"),
                  "--frames4", str(d.frames4 / slug / f"{half}.frames"),
                  "--frames", str(d.frames2 / slug / f"{half}.frames"),
                  "--out", str(out / f"features/{slug}/{half}.npy"), "--batch-size", "16"])  # fmt: skip
    main(["pca", "--games", str(d.games), "--features", str(out / "features"),
          "--transform", str(out / "pca/transform.npz"), "--out", str(out / "pca/features"),
          "--n-components", "8"])  # fmt: skip
    main(stage_args("distill", d, out))
