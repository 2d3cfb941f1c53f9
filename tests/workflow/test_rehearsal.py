"""The rehearsal of the paper recipe (``make rehearsal``), cut down for the suite: one pretrained
ViViT-T run of config/paper.yaml through every stage, on one train and one test game of 66 s
halves, at the paper's shapes (config/rehearsal.yaml)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from comedian.data.frames import FrameStore
from comedian.data.games import read_games_table
from comedian.data.pca import PcaTransform

METRICS = "results/evaluate/vivit/test/soft_w20_t0.001_m0/metrics.json"


@pytest.mark.slow
def test_rehearsal_of_one_paper_run_at_the_paper_shapes(workflow):
    workflow.write_config(
        "ci.yaml",
        {
            "synth": {"train": 1, "valid": 0, "test": 1},
            "dataset": {"splits": ["train", "test"]},
            "spotting": {"splits": ["test"]},
        },
    )
    configs = ["config/paper.yaml", "config/rehearsal.yaml", "config/ci.yaml"]
    workflow.run("--cores", "2", "--configfile", *configs, "--", METRICS, timeout=3600)
    root = workflow.root
    table = read_games_table(root / "results/games/games.tsv")
    slug = table.loc[table["split"] == "train", "slug"].iloc[0]
    store = FrameStore(root / f"results/decode/2fps/{slug}/1.frames")
    assert (store.num_frames, store.frame_size) == (132, (224, 398))  # 66 s at 2 fps, 398x224
    store4 = FrameStore(root / f"results/decode/4fps_224x224/{slug}/1.frames")
    assert (store4.num_frames, store4.frame_size) == (264, (224, 224))  # the teacher's input
    clip = FrameStore(root / f"results/decode/2fps_224x224/{slug}/1.frames")
    assert (clip.num_frames, clip.frame_size) == (132, (224, 224))  # the clip stages' input
    assert np.load(root / f"results/extract_features/{slug}/1.npy").shape == (132, 2048)
    pca = PcaTransform.load(root / "results/pca/transform.npz")  # 264 rows, 512 components
    assert (pca.n_rows, pca.in_dim, pca.out_dim) == (264, 2048, 512)
    assert np.load(root / f"results/pca/features/{slug}/1.npy").shape == (132, 512)
    distilled = torch.load(root / "results/distill/vivit/model.pt", weights_only=True)
    assert distilled["model_kwargs"]["embed_dim"] == 192  # the paper's ViViT-T
    assert distilled["config"]["queue_size"] == 65536  # more slots than the epoch's 128 keys
    metrics = json.loads((root / METRICS).read_text())
    assert metrics  # the SoccerNet metric of the test split
