"""Every pretraining stage runs 2 steps on tiny stores: pretrain, teacher, extract_features, pca,
distill, then finetune_head starts from the distilled ViViT."""

from __future__ import annotations

import numpy as np
import torch
import yaml
from pretrain_tiny import VIVIT, csv_steps

from comedian.data.frames import FrameStore
from comedian.data.pca import PcaTransform
from comedian.models import build_model, model_from_checkpoint
from comedian.models.loading import init_trunk
from comedian.training import read_model_file


def test_pretrain_exports_the_vit_after_two_steps(chain):
    doc = read_model_file(chain / "pretrain/model.pt")
    assert doc["arch"] == "vit_tiny" and doc["model_kwargs"]["embed_dim"] == 16
    assert "num_frames" not in doc["model_kwargs"]  # only the spatial settings
    assert csv_steps(chain / "pretrain/train_log.csv") == [1, 2]
    assert not (chain / "pretrain/.resume").exists()
    resolved = yaml.safe_load((chain / "pretrain/config.resolved.yaml").read_text())
    assert resolved["stage"] == "pretrain" and resolved["config"]["batch_size"] == 40


def test_teacher_fine_tunes_with_a_17_class_head(chain):
    doc = read_model_file(chain / "teacher/model.pt")
    assert doc["arch"] == "resnet3d_50" and doc["model_kwargs"]["num_classes"] == 17
    assert doc["config"]["img_size"] == 16
    assert csv_steps(chain / "teacher/train_log.csv") == [1, 2]


def test_extraction_covers_every_row_of_every_half(chain, tiny_data):
    doc = read_model_file(chain / "teacher/model.pt")
    model = model_from_checkpoint(doc).eval()
    for slug in tiny_data.slugs:
        feats = np.load(chain / f"features/{slug}/1.npy")
        n = FrameStore(tiny_data.frames2 / slug / "1.frames").num_frames
        assert feats.shape == (n, model.num_features) and feats.dtype == np.float32
        assert (np.abs(feats).sum(axis=1) > 0).all()  # no zero row, the last ones included


def test_pca_is_fitted_on_train_and_applied_to_every_split(chain, tiny_data):
    pca = PcaTransform.load(chain / "pca/transform.npz")
    train = [s for s in tiny_data.slugs[:2]]
    assert pca.n_rows == sum(np.load(chain / f"features/{s}/{h}.npy").shape[0]
                             for s in train for h in (1, 2))  # fmt: skip
    for slug in tiny_data.slugs:  # the valid game too, with the train transform
        raw = np.load(chain / f"features/{slug}/2.npy")
        np.testing.assert_allclose(
            np.load(chain / f"pca/features/{slug}/2.npy"), pca.transform(raw), rtol=1e-6
        )


def test_distill_starts_from_pretrain_and_feeds_finetune_head(chain):
    doc = read_model_file(chain / "distill/model.pt")
    assert doc["arch"] == "vivit_tiny" and not any(
        k.startswith("projector") for k in doc["state_dict"]
    )
    assert csv_steps(chain / "distill/train_log.csv") == [1, 2]
    # finetune_head's trunk init (init_trunk) takes every trunk weight of the distilled ViViT
    spotting = build_model("vivit_tiny", **VIVIT, num_classes=17)
    report = init_trunk(spotting, chain / "distill/model.pt")
    assert report["mode"] == "trunk" and report["copied"] == len(doc["state_dict"])
    for k, v in doc["state_dict"].items():
        torch.testing.assert_close(spotting.state_dict()[k], v)


def test_max_steps_caps_a_stage(tiny_data, tmp_path):
    from pretrain_tiny import stage_args

    from comedian.cli import main

    # the teacher's tiny epoch is 2 steps (8 windows, batch 4); max_steps 1 stops after one
    main(stage_args("teacher", tiny_data, tmp_path, max_steps=1))
    assert csv_steps(tmp_path / "teacher/train_log.csv") == [1]
    assert read_model_file(tmp_path / "teacher/model.pt")["config"]["max_steps"] == 1
