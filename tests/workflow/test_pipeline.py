"""comedian.workflow: the input and params functions of the rules and the target lists, called
as Snakemake calls them (wildcards as attributes), on small configs with hand-written answers."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from comedian.data.games import soccernet_games
from comedian.workflow import NO_MATCH, Pipeline, input_folder, one_of, output_folder
from comedian.workflow.targets import report_targets, timeline_games, training_logs

REPO = Path(__file__).resolve().parents[2]
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())
SYNTH = {"seed": 3, "train": 2, "valid": 1, "test": 1, "challenge": 0, "half_duration_s": 12.0}


def pipeline(**overrides) -> Pipeline:
    """The default config with the small synthetic dataset and ``overrides`` (whole sections)."""
    config = copy.deepcopy(DEFAULT)
    config["synth"] = SYNTH
    config.update(overrides)
    return Pipeline(config)


def W(**wildcards) -> SimpleNamespace:  # noqa: N802 (as Snakemake's wildcards read)
    return SimpleNamespace(**wildcards)


def slugs(p: Pipeline, split: str) -> list[str]:
    return list(p.games.loc[p.games["split"] == split, "slug"])


def test_target_lists() -> None:
    games = pd.DataFrame({"slug": ["a", "b", "c", "d"], "split": ["valid", "test", "test", "test"]})
    assert timeline_games(games, ["valid", "test"], 2) == ("test", ["b", "c"])
    assert timeline_games(games, ["valid"], 5) == ("valid", ["a"])
    assert training_logs(["x", "y"], ["x"]) == [
        "results/teacher/train_log.csv",
        "results/pretrain/x/train_log.csv",
        "results/distill/x/train_log.csv",
        "results/finetune_head/x/train_log.csv",
        "results/finetune/x/train_log.csv",
        "results/finetune_head/y/train_log.csv",
        "results/finetune/y/train_log.csv",
    ]
    assert training_logs([], []) == []
    assert report_targets(["r"], ["test"], [], "soft_w20_t0.001_m0", ("test", ["b"])) == [
        "results/report/summary.png",
        "results/report/class_ap.png",
        "results/report/timeline/r/test/soft_w20_t0.001_m0/b.png",
    ]
    assert report_targets([], [], [], "s", ("test", [])) == []


def test_frame_stores_of_splits_and_of_the_jobs_split() -> None:
    p = pipeline()
    a, b = slugs(p, "train")
    assert p.get_frames(2, "train")(W()) == [
        f"results/decode/2fps/{a}/1.frames",
        f"results/decode/2fps/{a}/2.frames",
        f"results/decode/2fps/{b}/1.frames",
        f"results/decode/2fps/{b}/2.frames",
    ]
    (t,) = slugs(p, "test")
    stores = p.get_frames(4, "{split}")
    assert stores(W(split="test")) == [f"results/decode/4fps/{t}/{h}.frames" for h in (1, 2)]
    assert stores(W(split="challenge")) == []
    assert len(p.get_frames(2, "train", "valid")(W())) == 2 * 3
    assert p.halves("x/{game}-{half}", ["test"]) == [f"x/{t}-1", f"x/{t}-2"]


def test_final_targets_follow_the_config() -> None:
    p = pipeline()
    targets = p.final_targets()
    assert targets[0] == "results/games/games.tsv"
    assert len([t for t in targets if t.endswith(".frames")]) == 2 * 2 * 4  # 2 rates
    assert "results/summary.tsv" in targets
    assert "results/report/training.png" in targets
    (t,) = slugs(p, "test")
    assert f"results/report/timeline/vivit/test/soft_w20_t0.001_m0/{t}.png" in targets
    # nothing scored (no configured split in the dataset): the stores and the table only
    dataset = {**DEFAULT["dataset"], "splits": ["train"]}
    alone = pipeline(dataset=dataset, spotting={"splits": ["test"]})
    assert [t for t in alone.final_targets() if not t.endswith(".frames")] == [
        "results/games/games.tsv"
    ]


def test_labels_and_videos_of_soccernet_wait_for_the_download(tmp_path: Path) -> None:
    games = soccernet_games(["test"])
    first, second = games["path"][:2]
    (tmp_path / first).mkdir(parents=True)
    (tmp_path / first / "Labels-v2.json").write_text("{}")
    (tmp_path / first / "1_224p.mkv").write_bytes(b"")
    dataset = {"source": "soccernet", "root": str(tmp_path), "splits": ["test"]}
    p = pipeline(dataset=dataset)
    labels = p.get_labels("{split}")(W(split="test"))
    assert labels == [str(tmp_path / first / "Labels-v2.json"), "results/download/test.tsv"]
    slug = {path: s for s, path in p.game_paths.items()}
    assert p.get_video(W(game=slug[first], half="1")) == [str(tmp_path / first / "1_224p.mkv")]
    assert p.get_video(W(game=slug[first], half="2")) == ["results/download/test.tsv"]
    assert p.get_game_labels(W(game=slug[second])) == ["results/download/test.tsv"]
    assert p.video_path(W(game=slug[second], half="2")) == str(tmp_path / second / "2_224p.mkv")
    # synthetic files are made by the rule synth: always inputs as they are
    s = pipeline()
    (t,) = slugs(s, "test")
    assert s.get_game_labels(W(game=t)) == [str(s.game_dir(t) / "Labels-v2.json")]


def test_starting_weights_local_files_are_inputs_hub_files_are_not() -> None:
    runs = {
        "pre": {"pretrain": True},
        "hub": {"init": "hf://someone/ssl/vit.pth"},
        "local": {"init": "weights/vit 1.pth"},
        "fresh": {},
        "released": {"weights": "comedian-vivit-tiny-seed42", "arch": "vivit_tiny"},
        "exported": {"weights": "models/m.pt"},
    }
    p = pipeline(runs=runs, teacher_init="hf://someone/k400/r50.pyth")
    get_init, init_arg = p.get_init("finetune_head"), p.init_arg("finetune_head")
    assert get_init(W(run="pre")) == {"init": "results/distill/pre/model.pt"}
    assert init_arg(W(run="pre")) == "--init results/distill/pre/model.pt"
    assert get_init(W(run="hub")) == {}
    assert init_arg(W(run="hub")) == "--init hf://someone/ssl/vit.pth"
    assert get_init(W(run="local")) == {"init": "weights/vit 1.pth"}
    assert init_arg(W(run="local")) == "--init 'weights/vit 1.pth'"
    assert get_init(W(run="fresh")) == {} and init_arg(W(run="fresh")) == ""
    # every later stage of a run starts from the model of the stage before
    assert p.init_ref("distill", W(run="pre")) == "results/pretrain/pre/model.pt"
    assert p.init_ref("finetune", W(run="fresh")) == "results/finetune_head/fresh/model.pt"
    assert p.get_init("teacher")(W()) == {}
    assert p.init_arg("teacher")(W()) == "--init hf://someone/k400/r50.pyth"
    assert p.model_ref(W(run="released")) == "comedian-vivit-tiny-seed42"
    assert p.get_model(W(run="released")) == {}
    assert p.get_model(W(run="exported")) == {"model": "models/m.pt"}
    assert p.get_model(W(run="local")) == {"model": "results/finetune/local/model.pt"}
    assert p.trained_runs == ["pre", "hub", "local", "fresh"]
    assert p.pretrained_runs == ["pre"]


def test_run_sets_give_the_section_then_the_run_then_its_overrides() -> None:
    runs = {"r": {"arch": "vivit_tiny", "seed": 7, "finetune": {"epochs": 3}, "init": "x.pt"}}
    p = pipeline(runs=runs, finetune={"epochs": 1, "lr": 0.5})
    assert p.run_sets("finetune")(W(run="r")) == (
        "--set epochs=1 --set lr=0.5 --set 'arch=\"vivit_tiny\"' --set seed=7 --set epochs=3"
    )
    assert p.predict_sets(W(run="r")) == " ".join(
        f"--set {k}={v}" for k, v in DEFAULT["predict"].items()
    )


def test_run_patterns_match_their_runs_only() -> None:
    assert not re.fullmatch(NO_MATCH, "") and not re.fullmatch(NO_MATCH, "x")
    assert one_of([]) == NO_MATCH
    assert re.fullmatch(one_of(["a.b", "c"]), "a.b") and not re.fullmatch(one_of(["a.b"]), "axb")
    runs = {"pre": {"pretrain": True}, "plain": {}, "rel": {"weights": "m.pt"}}
    p = pipeline(runs=runs, spotting={"ensembles": {"duo": ["pre", "rel"]}})
    assert (p.run_pattern, p.trained_run_pattern) == ("pre|plain|rel", "pre|plain")
    assert (p.pretrained_run_pattern, p.ensemble_pattern) == ("pre", "duo")
    assert p.get_raw_scores(W(run="duo", split="test")) == "results/ensemble/duo/test/raw"
    assert p.get_ensemble_members(W(run="duo", split="test")) == [
        "results/predict/pre/test/raw",
        "results/predict/rel/test/raw",
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"runs": {"s": {"arch": "viswin_tiny", "pretrain": True}}},
            "config runs.s: arch 'viswin_tiny' cannot be pretrained",
        ),
        (
            {"runs": {"s": {"arch": "resnet3d_50"}}},
            "config runs.s: arch 'resnet3d_50' is not a spotting model",
        ),
        (
            {"runs": {"s": {"pretrain": True, "init": "x.pt"}}},
            "config runs.s: pretrain and init exclude each other",
        ),
        ({"decode": {"rates": [2]}}, r"config decode.rates: \[2\] lacks 4"),
    ],
)
def test_bad_runs_fail_naming_the_key(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pipeline(**overrides)


def test_bank_folders_are_read_off_the_jobs_files() -> None:
    files = {"features": ["results/pca/features/g/1.npy", "results/pca/features/g/2.npy"]}
    assert input_folder("features")(W(), files) == "results/pca/features"
    assert output_folder("features")(W(), {"features": "a/b/c/1.npy"}) == "a/b"
