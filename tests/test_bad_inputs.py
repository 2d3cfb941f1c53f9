"""Bad inputs through the real command line: one line naming the file or option, no traceback,
the right exit status, and no input changed (checksums before and after each case).

The cases run ``comedian.cli.main`` in this process (the console entry point calls exactly it),
so the table of ~100 cases costs seconds; a few run ``python -m comedian`` as a subprocess to
check the entry point and the absence of tracebacks end to end.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from comedian.cli import main
from comedian.data.games import read_games_table
from comedian.data.soccernet import LABELS_NAME, NUM_CLASSES
from comedian.models import build_model
from comedian.spotting.scores import write_raw_game

SYNTH = {"seed": 5, "train": 0, "valid": 0, "test": 1, "challenge": 0, "half_duration_s": 10.0}


@dataclass
class World:
    """Valid and broken inputs of every stage, under one root."""

    root: Path
    data: Path  # the synthetic dataset (one test game)
    game: str  # its relative path
    raw: Path  # raw scores of that game
    raw_b: Path  # another run's raw scores
    games: Path  # games table
    nms: Path  # results of nms on ``raw``
    bad: Path  # broken files
    frames: Path  # 2 fps frame stores of the game (<slug>/<half>.frames), 32 x 32
    slug: str  # the game's slug
    features: Path  # teacher features of the game (<slug>/<half>.npy)

    @property
    def video(self) -> Path:
        return self.data / self.game / "1_224p.mkv"

    @property
    def labels(self) -> Path:
        return self.data / self.game / LABELS_NAME


def _checksums(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _raw(folder: Path, game: str, length: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    write_raw_game(
        folder,
        game,
        {h: rng.random((length, NUM_CLASSES), dtype=np.float32) for h in (1, 2)},
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("bad inputs")  # a space, as real game folders have
    data = root / "data"
    assert main(["synth", "--out", str(data), *(f"--set={k}={v}" for k, v in SYNTH.items())]) == 0
    (labels,) = data.rglob(LABELS_NAME)
    game = labels.parent.relative_to(data).as_posix()
    raw, raw_b = root / "raw", root / "raw_b"
    _raw(raw, game, 12, 0)
    _raw(raw_b, game, 12, 1)
    games = root / "games.tsv"
    assert (
        main(
            ["games", "--out", str(games), "--set=source=synthetic"]
            + [f"--set=synth.{k}={v}" for k, v in SYNTH.items()]
            + ["--set=splits=[test]"]
        )
        == 0
    )
    nms = root / "nms"
    assert main(["nms", "--raw", str(raw), "--out", str(nms)]) == 0
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty").write_bytes(b"")
    (bad / "text.txt").write_text("hello\n")
    (bad / "binary").write_bytes(bytes(range(256)) * 8)
    (bad / "video.mkv").write_bytes(b"\x1aE\xdf\xa3 not really matroska" * 100)
    data_bytes = (data / game / "1_224p.mkv").read_bytes()
    (bad / "half.mkv").write_bytes(data_bytes[: len(data_bytes) // 2])
    # raw scores, one broken game folder each
    for name, arr in {
        "nan": np.full((12, NUM_CLASSES), np.nan, np.float32),
        "f64": np.zeros((12, NUM_CLASSES), np.float64),
        "shape": np.zeros((12, 5), np.float32),
        "zero_len": np.zeros((0, NUM_CLASSES), np.float32),
    }.items():
        folder = bad / f"raw_{name}" / game
        folder.mkdir(parents=True)
        np.save(folder / "1.npy", arr)
        np.save(folder / "2.npy", np.zeros((12, NUM_CLASSES), np.float32))
    for name, content in {"empty": b"", "text": b"not numpy\n", "pickle": None}.items():
        folder = bad / f"raw_{name}" / game
        folder.mkdir(parents=True)
        if content is None:
            np.save(folder / "1.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        else:
            (folder / "1.npy").write_bytes(content)
        np.save(folder / "2.npy", np.zeros((12, NUM_CLASSES), np.float32))
    half = bad / "raw_one_half" / game
    half.mkdir(parents=True)
    np.save(half / "1.npy", np.zeros((12, NUM_CLASSES), np.float32))
    _raw(bad / "raw_other_game", "x/y/z", 12, 2)
    _raw(bad / "raw_longer", game, 30, 3)
    # labels trees with a broken Labels-v2.json
    good_labels = json.loads((data / game / LABELS_NAME).read_text(encoding="utf-8"))
    broken = {
        "labels_empty": b"",
        "labels_json": b'{"annotations": [',
        "labels_latin1": json.dumps(
            {**good_labels, "UrlLocal": "Mönchengladbach é"}, ensure_ascii=False
        ).encode("latin-1"),
        "labels_list": b"[1, 2, 3]",
        "labels_no_annotations": b'{"UrlLocal": "x"}',
        "labels_utf16": json.dumps(good_labels).encode("utf-16"),
    }
    for name, content in broken.items():
        (bad / name / game).mkdir(parents=True)
        (bad / name / game / LABELS_NAME).write_bytes(content)
    # predictions trees with a broken results file
    for name, content in {
        "pred_empty": b"",
        "pred_json": b'{"predictions": [',
        "pred_label": json.dumps(
            {
                "predictions": [
                    {
                        "gameTime": "1 - 00:01",
                        "label": "Kick",
                        "position": "1000",
                        "half": "1",
                        "confidence": "0.5",
                    }
                ]
            }
        ).encode(),
        "pred_nan": json.dumps(
            {
                "predictions": [
                    {
                        "gameTime": "1 - 00:01",
                        "label": "Goal",
                        "position": "1000",
                        "half": "1",
                        "confidence": "nan",
                    }
                ]
            }
        ).encode(),
        "pred_half": json.dumps(
            {
                "predictions": [
                    {
                        "gameTime": "3 - 00:01",
                        "label": "Goal",
                        "position": "1000",
                        "half": "3",
                        "confidence": "0.5",
                    }
                ]
            }
        ).encode(),
    }.items():
        (bad / name / game).mkdir(parents=True)
        (bad / name / game / "results_spotting.json").write_bytes(content)
    # games tables
    (bad / "games_empty.tsv").write_bytes(b"")
    (bad / "games_header_only.tsv").write_text("slug\tsplit\tpath\n")
    (bad / "games_columns.tsv").write_text("a\tb\n1\t2\n")
    (bad / "games_slug.tsv").write_text(
        f"Bad Slug\ttest\t{game}\n".join(["slug\tsplit\tpath\n", ""])
    )
    (bad / "games_binary.tsv").write_bytes(b"\xff\xfe\x00\x01" * 50)
    # checkpoints
    (bad / "empty.pth").write_bytes(b"")
    (bad / "text.pth").write_text("this is not a checkpoint\n")
    torch.save({"w": torch.zeros(3)}, bad / "other_arch.pth")
    torch.save([1, 2, 3], bad / "list.pth")
    torch.save({"trunk.transformer.cls_token": torch.zeros(1, 1, 8)}, bad / "whole.pth")
    whole = (bad / "whole.pth").read_bytes()
    (bad / "truncated.pth").write_bytes(whole[: len(whole) // 2])
    # exported models: a tiny spotting model, one with a 5-class head, a teacher, a bare trunk
    tiny = {"img_size": 32, "num_frames": 128, "embed_dim": 16, "depth": 1, "num_heads": 2,
            "temporal_depth": 1, "temporal_num_heads": 2}  # fmt: skip
    for name, arch, kwargs in (
        ("spot17.pt", "vivit_tiny", {**tiny, "num_classes": NUM_CLASSES}),
        ("spot5.pt", "vivit_tiny", {**tiny, "num_classes": 5}),
        ("trunk.pt", "vivit_tiny", tiny),
        ("spot_8_frames.pt", "vivit_tiny", {**tiny, "num_frames": 8, "num_classes": 17}),
        ("teacher.pt", "resnet3d_50", {"depths": (1, 1, 1, 1), "width": 4, "num_classes": 17}),
    ):
        model = build_model(arch, **kwargs)
        doc = {"arch": arch, "model_kwargs": kwargs, "state_dict": model.state_dict()}
        torch.save(doc, bad / name)
    # a model file whose zip is damaged in the middle (the stored tensors' bytes)
    model_bytes = bytearray((bad / "spot17.pt").read_bytes())
    mid = len(model_bytes) // 2
    model_bytes[mid : mid + 4096] = b"\x00" * 4096
    (bad / "corrupt_zip.pt").write_bytes(bytes(model_bytes))
    # games tables whose path leaves the folders it is joined to
    row = "slug\tsplit\tpath\n{}\ttest\t{}\n"
    (bad / "games_dotdot.tsv").write_text(row.format("escape", "../../escaped/game"))
    (bad / "games_absolute.tsv").write_text(row.format("escape", str(root / "escaped")))
    (bad / "games_empty_path.tsv").write_text(row.format("escape", ""))
    # 2 fps stores of the game, for the readers behind them
    slug = read_games_table(games)["slug"].iloc[0]
    frames = root / "frames"
    for h in (1, 2):
        video = data / game / f"{h}_224p.mkv"
        out = frames / slug / f"{h}.frames"
        assert (
            main(["decode", "--video", str(video), "--out", str(out), "--set", "size=[32, 32]"])
            == 0
        )
    # training labels trees: an unknown class, a position that is not an integer (ms)
    for name, change in {
        "labels_class": {"label": "Kick"},
        "labels_position": {"position": "12.5 s"},
        "labels_negative": {"position": "-500"},
    }.items():
        doc = json.loads((data / game / LABELS_NAME).read_text(encoding="utf-8"))
        doc["annotations"][0].update(change)
        (bad / name / game).mkdir(parents=True)
        (bad / name / game / LABELS_NAME).write_text(json.dumps(doc), encoding="utf-8")
    # results files with a confidence outside [0, 1]
    for name, conf in {"pred_conf5": "5.0", "pred_inf": "Infinity"}.items():
        doc = {"predictions": [{"gameTime": "1 - 00:01", "label": "Goal", "position": "1000",
                                "half": "1", "confidence": conf}]}  # fmt: skip
        (bad / name / game).mkdir(parents=True)
        (bad / name / game / "results_spotting.json").write_text(
            json.dumps(doc).replace('"' + conf + '"', conf)
        )
    # raw scores with inf
    inf = np.zeros((12, NUM_CLASSES), np.float32)
    inf[3, 4] = np.inf
    (bad / "raw_inf" / game).mkdir(parents=True)
    np.save(bad / "raw_inf" / game / "1.npy", inf)
    np.save(bad / "raw_inf" / game / "2.npy", np.zeros((12, NUM_CLASSES), np.float32))
    # teacher features, and broken ones (a half with 0 rows, integers, 1-D, not numpy)
    features = root / "features"
    for h in (1, 2):
        (features / slug).mkdir(parents=True, exist_ok=True)
        np.save(features / slug / f"{h}.npy", np.random.default_rng(h).random((20, 8), np.float32))
    for name, arr in {
        "feat_zero_rows": np.zeros((0, 8), np.float32),
        "feat_int": np.zeros((20, 8), np.int64),
        "feat_1d": np.zeros(20, np.float32),
        "feat_text": None,
        "feat_rows": np.zeros((7, 8), np.float32),
    }.items():
        (bad / name / slug).mkdir(parents=True)
        np.save(bad / name / slug / "1.npy", np.zeros((20, 8), np.float32))
        if arr is None:
            (bad / name / slug / "2.npy").write_text("not numpy\n")
        else:
            np.save(bad / name / slug / "2.npy", arr)
    # metrics files: a string and a NaN tight average-mAP, a short per-class list
    per_class = [0.5] * NUM_CLASSES
    for name, tight in {
        "metrics_string": {"a_mAP": "0.5", "a_mAP_per_class": per_class},
        "metrics_nan": {"a_mAP": float("nan"), "a_mAP_per_class": per_class},
        "metrics_short": {"a_mAP": 0.5, "a_mAP_per_class": per_class[:3]},
        "metrics_ok": {"a_mAP": 0.5, "a_mAP_per_class": per_class},
    }.items():
        folder = bad / name / "test" / "soft"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({"tight": tight, "loose": tight}))
    return World(
        root=root, data=data, game=game, raw=raw, raw_b=raw_b, games=games, nms=nms, bad=bad,
        frames=frames, slug=slug, features=features,
    )  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One bad invocation: argv from the world, expected exit status, text the line must hold."""

    id: str
    argv: Callable[[World, Path], list[str]]
    status: int
    expect: Callable[[World, Path], str]


def S(x: Path | str) -> str:
    return str(x)


def _cases() -> list[Case]:
    c: list[Case] = []

    def add(id: str, argv, status: int, expect) -> None:  # noqa: A002
        c.append(Case(id, argv, status, expect if callable(expect) else (lambda w, o, e=expect: e)))

    # --- decode -----------------------------------------------------------------------------
    dec = lambda w, o, *a: ["decode", "--video", S(w.video), "--out", S(o / "1.frames"), *a]  # noqa: E731
    add(
        "decode-missing-video",
        lambda w, o: ["decode", "--video", S(w.bad / "nope.mkv"), "--out", S(o / "1.frames")],
        1,
        lambda w, o: S(w.bad / "nope.mkv"),
    )
    add(
        "decode-empty-video",
        lambda w, o: ["decode", "--video", S(w.bad / "empty"), "--out", S(o / "1.frames")],
        1,
        lambda w, o: S(w.bad / "empty"),
    )
    add(
        "decode-text-video",
        lambda w, o: ["decode", "--video", S(w.bad / "text.txt"), "--out", S(o / "1.frames")],
        1,
        lambda w, o: S(w.bad / "text.txt"),
    )
    add(
        "decode-fake-mkv",
        lambda w, o: ["decode", "--video", S(w.bad / "video.mkv"), "--out", S(o / "1.frames")],
        1,
        lambda w, o: S(w.bad / "video.mkv"),
    )
    add(
        "decode-truncated",
        lambda w, o: ["decode", "--video", S(w.bad / "half.mkv"), "--out", S(o / "1.frames")],
        1,
        "truncated?",
    )
    add(
        "decode-video-is-folder",
        lambda w, o: ["decode", "--video", S(w.bad), "--out", S(o / "1.frames")],
        1,
        lambda w, o: S(w.bad),
    )
    add(
        "decode-out-is-video",
        lambda w, o: ["decode", "--video", S(w.video), "--out", S(w.video)],
        2,
        "--out",
    )
    add(
        "decode-out-inside-video-dir-is-fine-but-out-is-input-dir",
        lambda w, o: ["decode", "--video", S(w.video), "--out", S(w.video.parent)],
        2,
        "holds the input --video",
    )
    add(
        "decode-out-via-dotdot",
        lambda w, o: [
            "decode",
            "--video",
            S(w.video),
            "--out",
            S(w.video.parent / ".." / w.video.parent.name / w.video.name),
        ],
        2,
        "--out",
    )
    for fps in ("0", "-2", "nan", "inf", "1e9", "abc"):
        add(f"decode-fps-{fps}", lambda w, o, f=fps: dec(w, o, "--fps", f), 2, "fps")
    for size in ("[0, 10]", "[10]", "[100000, 100000]", "abc", "[a, b]", "[-4, 8]"):
        add(f"decode-size-{size}", lambda w, o, s=size: dec(w, o, "--set", f"size={s}"), 2, "size")
    for opt, val in (
        ("--jpeg-quality", "0"),
        ("--jpeg-quality", "101"),
        ("--batch-size", "0"),
        ("--num-threads", "-1"),
        ("--max-missing-s", "-1"),
        ("--jpeg-quality", "x"),
    ):
        add(
            f"decode{opt}={val}",
            lambda w, o, a=opt, v=val: dec(w, o, a, v),
            2,
            opt.lstrip("-").replace("-", "_") if opt == "--jpeg-quality" and val == "x" else opt,
        )
    add("decode-unknown-set", lambda w, o: dec(w, o, "--set", "fsp=2"), 2, "fsp")
    add("decode-set-bad-yaml", lambda w, o: dec(w, o, "--set", "size=[1, 2"), 2, "size=[1, 2")
    add("decode-set-no-equals", lambda w, o: dec(w, o, "--set", "size"), 2, "'size'")
    add("decode-unknown-option", lambda w, o: dec(w, o, "--fpss", "2"), 2, "--fpss")
    add("decode-missing-out", lambda w, o: ["decode", "--video", S(w.video)], 2, "--out")
    add(
        "decode-out-under-a-file",
        lambda w, o: ["decode", "--video", S(w.video), "--out", S(w.bad / "text.txt" / "1.frames")],
        1,
        lambda w, o: S(w.bad / "text.txt"),
    )

    # --- nms --------------------------------------------------------------------------------
    nms = lambda w, o, raw, *a: ["nms", "--raw", S(raw), "--out", S(o / "nms"), *a]  # noqa: E731
    for name in ("nan", "f64", "shape", "zero_len", "empty", "text", "pickle"):
        add(
            f"nms-raw-{name}",
            lambda w, o, n=name: nms(w, o, w.bad / f"raw_{n}"),
            1,
            lambda w, o, n=name: S(w.bad / f"raw_{n}" / w.game / "1.npy"),
        )
    add("nms-raw-one-half", lambda w, o: nms(w, o, w.bad / "raw_one_half"), 1, "2.npy")
    add(
        "nms-raw-missing", lambda w, o: nms(w, o, w.bad / "none"), 1, lambda w, o: S(w.bad / "none")
    )
    add("nms-raw-empty-dir", lambda w, o: nms(w, o, w.bad / "labels_json" / "x"), 1, "x")
    add(
        "nms-raw-is-file",
        lambda w, o: nms(w, o, w.bad / "text.txt"),
        1,
        lambda w, o: S(w.bad / "text.txt"),
    )
    add("nms-out-is-raw", lambda w, o: ["nms", "--raw", S(w.raw), "--out", S(w.raw)], 2, "--out")
    add(
        "nms-out-inside-raw",
        lambda w, o: ["nms", "--raw", S(w.raw), "--out", S(w.raw / "sub")],
        2,
        "lies inside the input --raw",
    )
    add(
        "nms-out-holds-raw",
        lambda w, o: ["nms", "--raw", S(w.raw), "--out", S(w.root)],
        2,
        "holds the input --raw",
    )
    add(
        "nms-zip-is-raw-file",
        lambda w, o: nms(w, o, w.raw, "--zip", S(w.raw / w.game / "1.npy")),
        2,
        "--zip",
    )
    add("nms-type", lambda w, o: nms(w, o, w.raw, "--type", "medium"), 2, "--type")
    add("nms-window-text", lambda w, o: nms(w, o, w.raw, "--window", "ten"), 2, "window")
    add("nms-threshold-text", lambda w, o: nms(w, o, w.raw, "--threshold", "low"), 2, "threshold")
    add("nms-unknown-set", lambda w, o: nms(w, o, w.raw, "--set", "windows=3"), 2, "windows")
    add(
        "nms-class-windows-text",
        lambda w, o: nms(w, o, w.raw, "--set", "class_windows=[a]"),
        2,
        "class_windows",
    )

    # --- evaluate ---------------------------------------------------------------------------
    def ev(w: World, o: Path, labels: Path, pred: Path, *a: str) -> list[str]:
        return ["evaluate", "--labels", S(labels), "--predictions", S(pred), "--out",
                S(o / "metrics.json"), *a]  # fmt: skip

    for name in (
        "labels_empty",
        "labels_json",
        "labels_latin1",
        "labels_list",
        "labels_no_annotations",
        "labels_utf16",
    ):
        add(
            f"evaluate-{name}",
            lambda w, o, n=name: ev(w, o, w.bad / n, w.nms),
            1,
            lambda w, o, n=name: S(w.bad / n / w.game / LABELS_NAME),
        )
    for name in ("pred_empty", "pred_json", "pred_label", "pred_nan", "pred_half"):
        add(
            f"evaluate-{name}",
            lambda w, o, n=name: ev(w, o, w.data, w.bad / n),
            1,
            lambda w, o, n=name: S(w.bad / n / w.game / "results_spotting.json"),
        )
    add(
        "evaluate-no-predictions",
        lambda w, o: ev(w, o, w.data, w.bad / "raw_nan"),
        1,
        "results_spotting.json",
    )
    add("evaluate-labels-missing", lambda w, o: ev(w, o, w.bad / "nope", w.nms), 1, "nope")
    add(
        "evaluate-out-in-labels",
        lambda w, o: [
            "evaluate",
            "--labels",
            S(w.data),
            "--predictions",
            S(w.nms),
            "--out",
            S(w.data / "metrics.json"),
        ],
        2,
        "--labels",
    )
    add(
        "evaluate-out-is-labels-file",
        lambda w, o: [
            "evaluate",
            "--labels",
            S(w.data),
            "--predictions",
            S(w.nms),
            "--out",
            S(w.labels),
        ],
        2,
        "--out",
    )
    add(
        "evaluate-out-in-predictions",
        lambda w, o: [
            "evaluate",
            "--labels",
            S(w.data),
            "--predictions",
            S(w.nms),
            "--out",
            S(w.nms / w.game / "results_spotting.json"),
        ],
        2,
        "--predictions",
    )
    add(
        "evaluate-out-is-games",
        lambda w, o: (
            ev(w, o, w.data, w.nms, "--games", S(w.games))[:-2]
            + ["--out", S(w.games), "--games", S(w.games)]
        ),
        2,
        "--games",
    )
    add(
        "evaluate-split-without-games",
        lambda w, o: ev(w, o, w.data, w.nms, "--split", "test"),
        1,
        "--games",
    )
    add(
        "evaluate-bad-split",
        lambda w, o: ev(w, o, w.data, w.nms, "--games", S(w.games), "--split", "tset"),
        1,
        "tset",
    )
    for name in (
        "games_empty.tsv",
        "games_header_only.tsv",
        "games_columns.tsv",
        "games_slug.tsv",
        "games_binary.tsv",
    ):
        add(
            f"evaluate-{name}",
            lambda w, o, n=name: ev(
                w, o, w.data, w.nms, "--games", S(w.bad / n), "--split", "test"
            ),
            1,
            lambda w, o, n=name: S(w.bad / n),
        )
    add(
        "evaluate-games-missing",
        lambda w, o: ev(w, o, w.data, w.nms, "--games", S(w.bad / "nope.tsv"), "--split", "test"),
        1,
        "nope.tsv",
    )
    add("evaluate-metric", lambda w, o: ev(w, o, w.data, w.nms, "--metric", "map"), 2, "--metric")
    add(
        "evaluate-missing",
        lambda w, o: ev(w, o, w.data, w.nms, "--missing", "skip"),
        2,
        "--missing",
    )

    # --- sweep ------------------------------------------------------------------------------
    def sw(w: World, o: Path, raw: Path, labels: Path, *a: str) -> list[str]:
        return ["sweep", "--raw", S(raw), "--labels", S(labels), "--out", S(o / "sweep.tsv"),
                *a]  # fmt: skip

    add("sweep-raw-nan", lambda w, o: sw(w, o, w.bad / "raw_nan", w.data), 1, "1.npy")
    add("sweep-raw-missing", lambda w, o: sw(w, o, w.bad / "nope", w.data), 1, "nope")
    add("sweep-labels-json", lambda w, o: sw(w, o, w.raw, w.bad / "labels_json"), 1, LABELS_NAME)
    add("sweep-labels-missing", lambda w, o: sw(w, o, w.raw, w.bad / "nope"), 1, "nope")
    add(
        "sweep-out-in-raw",
        lambda w, o: [
            "sweep",
            "--raw",
            S(w.raw),
            "--labels",
            S(w.data),
            "--out",
            S(w.raw / "sweep.tsv"),
        ],
        2,
        "--raw",
    )
    add(
        "sweep-heatmap-is-labels",
        lambda w, o: sw(w, o, w.raw, w.data, "--heatmap", S(w.labels)),
        2,
        "--heatmap",
    )
    add(
        "sweep-windows-text",
        lambda w, o: sw(w, o, w.raw, w.data, "--set", "windows=[a]"),
        2,
        "windows",
    )
    add("sweep-types", lambda w, o: sw(w, o, w.raw, w.data, "--set", "types=[medium]"), 2, "types")
    add(
        "sweep-games-empty",
        lambda w, o: sw(
            w, o, w.raw, w.data, "--games", S(w.bad / "games_empty.tsv"), "--split", "test"
        ),
        1,
        "games_empty.tsv",
    )
    add(
        "sweep-split-without-games",
        lambda w, o: sw(w, o, w.raw, w.data, "--split", "test"),
        1,
        "--games",
    )

    # --- ensemble ---------------------------------------------------------------------------
    en = lambda w, o, *raws: ["ensemble", "--raw", *map(S, raws), "--out", S(o / "ens")]  # noqa: E731
    add(
        "ensemble-out-is-member",
        lambda w, o: ["ensemble", "--raw", S(w.raw), S(w.raw_b), "--out", S(w.raw_b)],
        2,
        "--raw",
    )
    add(
        "ensemble-out-inside-member",
        lambda w, o: ["ensemble", "--raw", S(w.raw), S(w.raw_b), "--out", S(w.raw / "x")],
        2,
        "--raw",
    )
    add(
        "ensemble-out-holds-member",
        lambda w, o: ["ensemble", "--raw", S(w.raw), S(w.raw_b), "--out", S(w.root)],
        2,
        "--raw",
    )
    add("ensemble-member-nan", lambda w, o: en(w, o, w.raw, w.bad / "raw_nan"), 1, "raw_nan")
    add(
        "ensemble-other-games",
        lambda w, o: en(w, o, w.raw, w.bad / "raw_other_game"),
        1,
        "raw_other_game",
    )
    add("ensemble-other-length", lambda w, o: en(w, o, w.raw, w.bad / "raw_longer"), 1, "one shape")
    add("ensemble-missing", lambda w, o: en(w, o, w.raw, w.bad / "nope"), 1, "nope")
    add(
        "ensemble-reduce",
        lambda w, o: en(w, o, w.raw, w.raw_b) + ["--reduce", "median"],
        2,
        "--reduce",
    )
    add("ensemble-no-raw", lambda w, o: ["ensemble", "--out", S(o / "ens")], 2, "--raw")

    # --- import-weights ---------------------------------------------------------------------
    iw = lambda w, o, src, *a: ["import-weights", "--src", S(src), "--out", S(o / "m.pt"), *a]  # noqa: E731
    for name in (
        "empty.pth",
        "text.pth",
        "truncated.pth",
        "list.pth",
        "other_arch.pth",
        "whole.pth",
        "nope.pth",
        "binary",
    ):
        add(
            f"import-{name}",
            lambda w, o, n=name: iw(w, o, w.bad / n),
            1,
            lambda w, o, n=name: S(w.bad / n),
        )
    add(
        "import-out-is-src",
        lambda w, o: [
            "import-weights",
            "--src",
            S(w.bad / "whole.pth"),
            "--out",
            S(w.bad / "whole.pth"),
        ],
        2,
        "--src",
    )
    add("import-arch", lambda w, o: iw(w, o, w.bad / "whole.pth", "--arch", "resnet"), 2, "--arch")
    add(
        "import-trust-pickle-text",
        lambda w, o: iw(w, o, w.bad / "text.pth", "--trust-pickle", "yes please"),
        2,
        "trust_pickle",
    )

    # --- games, synth -----------------------------------------------------------------------
    add(
        "games-source",
        lambda w, o: ["games", "--out", S(o / "g.tsv"), "--source", "youtube"],
        2,
        "--source",
    )
    add(
        "games-split",
        lambda w, o: ["games", "--out", S(o / "g.tsv"), "--set", "splits=[val]"],
        1,
        "val",
    )
    add(
        "games-out-is-folder",
        lambda w, o: ["games", "--out", S(w.bad), "--source", "synthetic"],
        1,
        lambda w, o: S(w.bad),
    )
    add(
        "games-synth-key",
        lambda w, o: ["games", "--out", S(o / "g.tsv"), "--set", "synth.sede=1"],
        2,
        "synth.sede",
    )
    add("synth-width", lambda w, o: ["synth", "--out", S(o / "d"), "--set", "width=397"], 2, "397")
    add("synth-unknown", lambda w, o: ["synth", "--out", S(o / "d"), "--set", "sead=1"], 2, "sead")
    add(
        "synth-duration",
        lambda w, o: ["synth", "--out", S(o / "d"), "--half-duration-s", "long"],
        2,
        "half_duration_s",
    )
    add(
        "synth-out-is-file",
        lambda w, o: [
            "synth",
            "--out",
            S(w.bad / "text.txt"),
            "--set",
            "test=1",
            "--set",
            "train=0",
            "--set",
            "valid=0",
            "--set",
            "half_duration_s=10",
        ],
        1,
        lambda w, o: S(w.bad / "text.txt"),
    )
    # --- spot -------------------------------------------------------------------------------
    spot = lambda w, o, *a: ["spot", "--video", S(w.video), "--out", S(o / "spotted"), *a]  # noqa: E731
    add(
        "spot-missing-video",
        lambda w, o: (
            ["spot", "--video", S(w.bad / "nope.mkv"), "--weights", S(w.bad / "text.txt")]
            + ["--out", S(o / "spotted")]
        ),
        1,
        lambda w, o: S(w.bad / "nope.mkv"),
    )
    add(
        "spot-text-weights",
        lambda w, o: spot(w, o, "--weights", S(w.bad / "text.txt")),
        1,
        lambda w, o: S(w.bad / "text.txt"),
    )
    add(
        "spot-three-videos",
        lambda w, o: (
            ["spot", "--video", S(w.video), S(w.video), S(w.video)]
            + ["--weights", S(w.bad / "text.txt"), "--out", S(o / "spotted")]
        ),
        2,
        "--video",
    )
    add(
        "spot-zero-window",
        lambda w, o: spot(w, o, "--weights", S(w.bad / "text.txt"), "--window", "0"),
        2,
        "window",
    )
    add(
        "spot-out-is-the-video",
        lambda w, o: (
            ["spot", "--video", S(w.video), "--weights", S(w.bad / "text.txt")]
            + ["--out", S(w.video)]
        ),
        2,
        "--out",
    )

    # --- training stages and predict ------------------------------------------------------
    def tr(stage: str, *a: str):  # noqa: ANN202
        return lambda w, o: [stage, "--games", S(w.games), "--frames", S(w.bad), "--labels",
                             S(w.data), "--out", S(o / "model.pt"), *a]  # fmt: skip

    add("finetune_head-no-train-games", tr("finetune-head"), 1, lambda w, o: S(w.games))
    add("finetune_head-bad-epochs", tr("finetune-head", "--epochs", "many"), 2, "epochs")
    add("finetune_head-bad-model-key", tr("finetune-head", "--set", "model.size=3"), 2, "size")
    add("finetune-missing-init", lambda w, o: tr("finetune", "--init", S(w.bad / "nope.pt"))(w, o),
        1, lambda w, o: S(w.bad / "nope.pt"))  # fmt: skip
    add("finetune-text-init", lambda w, o: tr("finetune", "--init", S(w.bad / "text.txt"))(w, o),
        1, lambda w, o: S(w.bad / "text.txt"))  # fmt: skip
    add(
        "finetune-out-is-init",
        lambda w, o: ["finetune", "--games", S(w.games), "--frames", S(w.bad), "--labels",
                      S(w.data), "--init", S(w.bad / "text.txt"), "--out", S(w.bad / "text.txt")],
        2,
        "--out",
    )  # fmt: skip
    pred = lambda w, o, m, *a: ["predict", "--model", S(m), "--games", S(w.games), "--frames",  # noqa: E731
                                S(w.bad), "--out", S(o / "raw"), *a]  # fmt: skip
    add("predict-text-model", lambda w, o: pred(w, o, w.bad / "text.txt"), 1,
        lambda w, o: S(w.bad / "text.txt"))  # fmt: skip
    add("predict-empty-model", lambda w, o: pred(w, o, w.bad / "empty"), 1,
        lambda w, o: S(w.bad / "empty"))  # fmt: skip
    add("predict-missing-model", lambda w, o: pred(w, o, w.bad / "nope.pt"), 1,
        lambda w, o: S(w.bad / "nope.pt"))  # fmt: skip
    add("predict-out-holds-frames",
        lambda w, o: ["predict", "--model", S(w.bad / "text.txt"), "--games", S(w.games),
                      "--frames", S(w.bad), "--out", S(w.root)], 2, "--out")  # fmt: skip
    add("predict-bad-batch", lambda w, o: pred(w, o, w.bad / "text.txt", "--batch-size", "x"), 2,
        "batch")  # fmt: skip
    add("summary-missing-metrics",
        lambda w, o: ["summary", "--metrics", S(w.bad / "a" / "b" / "c" / "metrics.json"), "--out",
                      S(o / "s.tsv")], 1, lambda w, o: S(w.bad / "a" / "b" / "c" / "metrics.json"))  # fmt: skip
    add("summary-text-metrics",
        lambda w, o: ["summary", "--metrics", S(w.bad / "text.txt"), "--out", S(o / "s.tsv")], 1,
        lambda w, o: S(w.bad / "text.txt"))  # fmt: skip
    add("pretrain-no-train-games",
        lambda w, o: ["pretrain", "--games", S(w.games), "--frames", S(w.bad), "--out",
                      S(o / "m.pt")], 1, "train")  # fmt: skip
    add("teacher-text-init",
        lambda w, o: ["teacher", "--games", S(w.games), "--frames", S(w.bad), "--frames4",
                      S(w.bad), "--labels", S(w.data), "--out", S(o / "t.pt"), "--init",
                      S(w.bad / "text.txt")], 1, "")  # fmt: skip
    add("extract-text-model",
        lambda w, o: ["extract-features", "--model", S(w.bad / "text.txt"), "--frames4",
                      S(w.bad / "empty"), "--frames", S(w.bad / "empty"), "--out",
                      S(o / "f.npy")], 1, "")  # fmt: skip
    add("pca-missing-features",
        lambda w, o: ["pca", "--games", S(w.games), "--features", S(w.bad / "nofeatures"),
                      "--transform", S(o / "t.npz"), "--out", S(o / "f")], 1, "")  # fmt: skip
    add("distill-missing-init",
        lambda w, o: ["distill", "--games", S(w.games), "--frames", S(w.bad), "--features",
                      S(w.bad), "--out", S(o / "d.pt"), "--init", S(w.bad / "nope.pt")], 1, "")  # fmt: skip
    add("download-no-password",
        lambda w, o: ["download", "--root", S(o / "sn"), "--manifest", S(o / "m.tsv"),
                      "--set", "source=exrcsdrive", "--set", "password_env=COMEDIAN_NO_SUCH_VAR"],
        1, "COMEDIAN_NO_SUCH_VAR")  # fmt: skip
    add("unknown-stage", lambda w, o: ["decodee", "--video", "x"], 2, "decodee")
    _cases_reliability(add)
    return c


def _cases_reliability(add) -> None:  # noqa: ANN001
    """Paths read from files that leave their folder, outputs onto inputs, values checked at
    the door, errors naming the file and what it holds."""

    # --- a games table row whose path leaves the folder it is joined to --------------------
    def pred(w: World, o: Path, model: str, games: Path | None = None, *a: str) -> list[str]:
        return ["predict", "--model", S(w.bad / model), "--games", S(games or w.games),
                "--frames", S(w.frames), "--out", S(o / "raw"), *a]  # fmt: skip

    for table, problem in (
        ("games_dotdot.tsv", "climbs out with '..'"),
        ("games_absolute.tsv", "is absolute"),
        ("games_empty_path.tsv", "empty path"),
    ):
        stem = table.removesuffix(".tsv").removeprefix("games_")
        add(
            f"predict-games-path-{stem}",
            lambda w, o, t=table: pred(w, o, "spot17.pt", w.bad / t),
            1,
            lambda w, o, p=problem: p,
        )
        add(
            f"evaluate-games-path-{stem}",
            lambda w, o, t=table: [
                "evaluate", "--labels", S(w.data), "--predictions", S(w.nms), "--games",
                S(w.bad / t), "--out", S(o / "metrics.json"),
            ],
            1,
            lambda w, o, t=table: f"{w.bad / t}: line 2 (column path)",
        )  # fmt: skip
    add(
        "sweep-games-path-dotdot",
        lambda w, o: ["sweep", "--raw", S(w.raw), "--labels", S(w.data), "--games",
                      S(w.bad / "games_dotdot.tsv"), "--out", S(o / "sweep.tsv")],
        1,
        lambda w, o: f"{w.bad / 'games_dotdot.tsv'}: line 2",
    )  # fmt: skip
    add(
        "pca-games-path-absolute",
        lambda w, o: ["pca", "--games", S(w.bad / "games_absolute.tsv"), "--features",
                      S(w.features), "--transform", S(o / "t.npz"), "--out", S(o / "f")],
        1,
        "is absolute",
    )  # fmt: skip
    add(
        "pretrain-games-path-dotdot",
        lambda w, o: ["pretrain", "--games", S(w.bad / "games_dotdot.tsv"), "--frames",
                      S(w.frames), "--out", S(o / "m.pt")],
        1,
        "climbs out",
    )  # fmt: skip

    # --- outputs onto inputs (paths resolved, links followed, folders holding inputs) ------
    def ext(w: World, o: Path, out: Path | str) -> list[str]:
        f = w.frames / w.slug / "1.frames"
        return ["extract-features", "--model", S(w.bad / "teacher.pt"), "--frames4", S(f),
                "--frames", S(f), "--out", S(out)]  # fmt: skip

    add("extract-out-is-frames", lambda w, o: ext(w, o, w.frames / w.slug / "1.frames"), 2,
        "is the input --frames4")  # fmt: skip
    add("extract-out-is-model", lambda w, o: ext(w, o, w.bad / "teacher.pt"), 2, "--model")

    def linked(o: Path, target: Path) -> Path:
        link = o / "link"
        link.symlink_to(target)
        return link

    add(
        "extract-out-links-to-frames",
        lambda w, o: ext(w, o, linked(o, w.frames / w.slug / "1.frames")),
        2,
        "is the input --frames",
    )
    add("extract-out-holds-frames", lambda w, o: ext(w, o, w.frames), 2, "holds the input")

    def pca(w: World, o: Path, transform: Path, out: Path, features: Path | None = None):  # noqa: ANN202
        return ["pca", "--games", S(w.games), "--features", S(features or w.features),
                "--transform", S(transform), "--out", S(out), "--fit-split", "test"]  # fmt: skip

    add("pca-out-is-features", lambda w, o: pca(w, o, o / "t.npz", w.features), 2,
        "--out")  # fmt: skip
    add(
        "pca-transform-onto-a-feature-file",
        lambda w, o: pca(w, o, w.features / w.slug / "1.npy", o / "f"),
        2,
        "--transform",
    )
    add("pca-out-holds-features", lambda w, o: pca(w, o, o / "t.npz", w.root), 2,
        "holds the input")  # fmt: skip
    add(
        "pca-out-links-to-features",
        lambda w, o: pca(w, o, o / "t.npz", linked(o, w.features)),
        2,
        "is the input --features",
    )
    add(
        "pca-config-beside-transform-in-features",
        lambda w, o: pca(w, o, w.features / "t.npz", o / "f"),
        2,
        "lies inside the input --features",
    )
    add(
        "teacher-out-is-init",
        lambda w, o: ["teacher", "--games", S(w.games), "--frames", S(w.frames), "--frames4",
                      S(w.frames), "--labels", S(w.data), "--init", S(w.bad / "teacher.pt"),
                      "--out", S(w.bad / "teacher.pt")],
        2,
        "--init",
    )  # fmt: skip
    add(
        "distill-out-in-features",
        lambda w, o: ["distill", "--games", S(w.games), "--frames", S(w.frames), "--features",
                      S(w.features), "--out", S(w.features / "model.pt")],
        2,
        "--features",
    )  # fmt: skip
    add(
        "pretrain-run-files-onto-games",
        lambda w, o: ["pretrain", "--games", S(w.bad / "train_log.csv"), "--frames",
                      S(w.frames), "--out", S(w.bad / "model.pt")],
        2,
        "a run file beside --out",
    )  # fmt: skip

    # --- values checked at the door --------------------------------------------------------
    def summ(w: World, o: Path, *names: str) -> list[str]:
        files = [S(w.bad / n / "test" / "soft" / "metrics.json") for n in names]
        return ["summary", "--metrics", *files, "--out", S(o / "s.tsv")]

    add("summary-tight-string", lambda w, o: summ(w, o, "metrics_string"), 1, "tight.a_mAP")
    add("summary-tight-nan", lambda w, o: summ(w, o, "metrics_nan"), 1, "got nan")
    add("summary-per-class-short", lambda w, o: summ(w, o, "metrics_short"), 1,
        "a_mAP_per_class: expected a list of 17")  # fmt: skip
    add("summary-file-twice", lambda w, o: summ(w, o, "metrics_ok", "metrics_ok"), 2,
        "given twice")  # fmt: skip

    def ev(w: World, o: Path, pred: str) -> list[str]:
        return ["evaluate", "--labels", S(w.data), "--predictions", S(w.bad / pred), "--out",
                S(o / "metrics.json")]  # fmt: skip

    add("evaluate-confidence-5", lambda w, o: ev(w, o, "pred_conf5"), 1, "above 1")
    add("evaluate-confidence-inf", lambda w, o: ev(w, o, "pred_inf"),
        1, lambda w, o: S(w.bad / "pred_inf" / w.game / "results_spotting.json"))  # fmt: skip
    add(
        "nms-raw-inf",
        lambda w, o: ["nms", "--raw", S(w.bad / "raw_inf"), "--out", S(o / "nms")],
        1,
        "NaN or inf",
    )
    for name, problem in (
        ("feat_zero_rows", "must be (rows >= 1, dims >= 1), got (0, 8)"),
        ("feat_int", "must be floating point, got int64"),
        ("feat_1d", "must be (rows >= 1, dims >= 1), got (20,)"),
        ("feat_text", "are not a readable .npy array"),
    ):
        add(
            f"pca-{name.replace('_', '-')}",
            lambda w, o, n=name: pca(w, o, o / "t.npz", o / "f", w.bad / n),
            1,
            lambda w, o, n=name, p=problem: (
                f"{w.bad / n / w.slug / '2.npy'}: features of half 2 of {w.slug} {p}"
            ),
        )

    tiny = "model={img_size: 32, embed_dim: 16, num_heads: 2, depth: 1, temporal_depth: 1, temporal_num_heads: 2}"

    def distill(w: World, o: Path, features: str) -> list[str]:
        return ["distill", "--games", S(w.games), "--frames", S(w.frames), "--features",
                S(w.bad / features), "--out", S(o / "model.pt"), "--set", "train_split=test",
                "--set", tiny]  # fmt: skip

    for name, problem in (
        ("feat_zero_rows", "must be (rows >= 1, dims >= 1), got (0, 8)"),
        ("feat_text", "are not a readable .npy array"),
        ("feat_rows", "have 7 rows, its frame store"),
    ):
        add(
            f"distill-{name.replace('_', '-')}",
            lambda w, o, n=name: distill(w, o, n),
            1,
            lambda w, o, n=name, p=problem: (
                f"{w.bad / n / w.slug / '2.npy'}: features of half 2 of {w.slug} {p}"
            ),
        )

    def head(w: World, o: Path, labels: str) -> list[str]:
        return ["finetune-head", "--games", S(w.games), "--frames", S(w.frames), "--labels",
                S(w.bad / labels), "--out", S(o / "model.pt"), "--set", "train_split=test",
                "--set", tiny]  # fmt: skip

    for labels, problem in (
        ("labels_class", "field 'label' = 'Kick'"),
        ("labels_position", "field 'position' = '12.5 s'"),
        ("labels_negative", "field 'position' = -500 is negative"),
    ):
        add(
            f"finetune_head-{labels.replace('_', '-')}",
            lambda w, o, n=labels: head(w, o, n),
            1,
            lambda w, o, n=labels, p=problem: (
                f"{w.bad / n / w.game / LABELS_NAME}: annotation 0: {p}"
            ),
        )

    # --- errors that name the thing --------------------------------------------------------
    for model, holds in (
        ("teacher.pt", "holds a resnet3d_50 model with a 17-class head"),
        ("spot5.pt", "holds a vivit_tiny model with a 5-class head"),
        ("trunk.pt", "holds a vivit_tiny model with no head"),
        ("spot_8_frames.pt", "holds a vivit_tiny model for clips of 4 tokens"),
    ):
        add(f"predict-model-{model}", lambda w, o, m=model: pred(w, o, m), 1,
            lambda w, o, m=model, h=holds: f"{w.bad / m}: {h}")  # fmt: skip
        add(
            f"spot-weights-{model}",
            lambda w, o, m=model: ["spot", "--video", S(w.video), "--weights", S(w.bad / m),
                                   "--out", S(o / "spotted")],
            1,
            lambda w, o, m=model, h=holds: f"{w.bad / m}: {h}",
        )  # fmt: skip
        add(
            f"finetune-init-{model}",
            lambda w, o, m=model: ["finetune", "--games", S(w.games), "--frames", S(w.frames),
                                   "--labels", S(w.data), "--init", S(w.bad / m), "--out",
                                   S(o / "model.pt")],
            1,
            lambda w, o, m=model, h=holds: f"{w.bad / m}: {h}",
        )  # fmt: skip
    add(
        "finetune_head-init-teacher",
        lambda w, o: (
            head(w, o, "labels_class")[:-4]
            + ["--init", S(w.bad / "teacher.pt"), "--set", "train_split=test", "--set", tiny]
        ),
        1,
        lambda w, o: f"{w.bad / 'teacher.pt'}: ",
    )
    add(
        "import-corrupt-zip",
        lambda w, o: ["import-weights", "--src", S(w.bad / "corrupt_zip.pt"), "--out",
                      S(o / "m.pt"), "--arch", "vivit_tiny"],
        1,
        lambda w, o: f"{w.bad / 'corrupt_zip.pt'}: damaged weights file",
    )  # fmt: skip
    add("predict-corrupt-zip", lambda w, o: pred(w, o, "corrupt_zip.pt"), 1,
        lambda w, o: f"{w.bad / 'corrupt_zip.pt'}: damaged weights file")  # fmt: skip
    add(
        "spot-corrupt-zip",
        lambda w, o: ["spot", "--video", S(w.video), "--weights", S(w.bad / "corrupt_zip.pt"),
                      "--out", S(o / "spotted")],
        1,
        lambda w, o: f"{w.bad / 'corrupt_zip.pt'}: damaged weights file",
    )  # fmt: skip
    for value in ("0", "-3", "ten", "2.5"):
        add(
            f"nms-windows-per-class-{value}",
            lambda w, o, v=value: ["nms", "--raw", S(w.raw), "--out", S(o / "nms"), "--set",
                                   f"windows_per_class={{Goal: {v}}}"],
            2,
            "windows_per_class.Goal",
        )  # fmt: skip
    add(
        "sweep-windows-per-class",
        lambda w, o: ["sweep", "--raw", S(w.raw), "--labels", S(w.data), "--out",
                      S(o / "sweep.tsv"), "--set", "windows=[0]"],
        2,
        "window",
    )  # fmt: skip


CASES = _cases()


def test_at_least_80_cases_over_every_stage() -> None:
    from comedian.cli import STAGES

    assert len(CASES) >= 80
    commands = {case.id.split("-")[0] for case in CASES}
    assert {s.split("_")[0] for s in STAGES} <= commands


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, world: World, tmp_path: Path, capsys) -> None:
    before = _checksums(world.root)
    argv = case.argv(world, tmp_path)
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        status = exc.code
    err = capsys.readouterr().err
    after = _checksums(world.root)
    assert before == after, "an input changed"
    lines = [line for line in err.splitlines() if line.strip()]
    message = lines[-1] if lines else ""
    assert status == case.status, err
    assert "Traceback" not in err
    # Log lines (timestamped) may come first; the error itself is one line.
    assert message.startswith("comedian"), err
    assert sum(not ln[:4].isdigit() for ln in lines) == 1, err
    assert case.expect(world, tmp_path) in message, err


@pytest.mark.parametrize(
    "argv_of",
    [
        lambda w: ["decode", "--video", S(w.bad / "half.mkv"), "--out", S(w.root / "x.frames")],
        lambda w: ["nms", "--raw", S(w.bad / "raw_empty"), "--out", S(w.root / "nms_x")],
        lambda w: [
            "import-weights",
            "--src",
            S(w.bad / "truncated.pth"),
            "--out",
            S(w.root / "m.pt"),
        ],
    ],
    ids=["decode-truncated", "nms-empty-npy", "import-truncated"],
)
def test_entry_point_prints_one_line(world: World, argv_of) -> None:
    before = _checksums(world.root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("COMEDIAN_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "comedian", *argv_of(world)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("comedian ")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert _checksums(world.root) == before
    debug = subprocess.run(
        [sys.executable, "-m", "comedian", "--debug", *argv_of(world)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and sum(not ln[:4].isdigit() for ln in lines) == 1, err
    return lines[-1]


def test_a_full_disk_names_the_output_and_leaves_no_partial_file(
    world: World, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    def to_csv(self, path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        Path(path).write_text("setting\ttight\nsoft_w8_t0.0")  # half a table, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    before = _checksums(world.root)
    out = tmp_path / "sweep" / "sweep.tsv"
    argv = ["sweep", "--raw", S(world.raw), "--labels", S(world.data), "--out", S(out),
            "--set", "windows=[8]", "--set", "thresholds=[0.01]"]  # fmt: skip
    assert main(argv) == 1
    message = _one_line(capsys.readouterr().err)
    assert message == f"comedian sweep: {out}: No space left on device"
    assert list(out.parent.iterdir()) == []  # no sweep.tsv, no temporary file
    assert _checksums(world.root) == before


class _Downloader:
    """SoccerNet's downloader, local: delivers ``<game>/<file>`` holding its own name, or half
    of it (``short``)."""

    short = False
    _HF_VIDEO_BRANCH_BY_FILE: dict[str, str] = {}
    _HF_LABEL_FILES = {LABELS_NAME}

    def __init__(self, LocalDirectory: str, **kwargs: object) -> None:  # noqa: N803
        self.local = Path(LocalDirectory)

    def downloadGame(self, game: str, files: list[str], spl: str, source: str) -> None:  # noqa: N802
        for file in files:
            data = f"{game}/{file}".encode()
            (self.local / game).mkdir(parents=True, exist_ok=True)
            (self.local / game / file).write_bytes(data[:10] if _Downloader.short else data)


def test_download_counts_a_file_complete_only_by_the_sources_size(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import SoccerNet.Downloader

    from comedian.data.download import Expected
    from comedian.stages import download

    monkeypatch.setattr(SoccerNet.Downloader, "SoccerNetDownloader", _Downloader)
    sizes = lambda split, game, file: Expected(len(f"{game}/{file}".encode()))  # noqa: E731
    monkeypatch.setattr(download, "soccernet_probe", lambda **kw: sizes)
    root, manifest = tmp_path / "sn", tmp_path / "m.tsv"
    argv = ["download", "--root", S(root), "--manifest", S(manifest), "--set", "splits=[valid]",
            "--set", f"files=[{LABELS_NAME}]"]  # fmt: skip
    _Downloader.short = True
    assert main(argv) == 1
    message = _one_line(capsys.readouterr().err)
    assert "incomplete Labels-v2.json" in message and "10 bytes, the source has" in message
    assert not manifest.exists() and not [
        p for p in root.rglob(LABELS_NAME) if ".download" not in p.parts
    ]
    # an empty and a short file in place (a copy cut short) are fetched again, not skipped
    games = read_games_table_of_split("valid")[:2]
    for game, data in zip(games, (b"", b"{"), strict=True):
        (root / game).mkdir(parents=True)
        (root / game / LABELS_NAME).write_bytes(data)
    _Downloader.short = False
    assert main(argv) == 0
    for game in games:
        assert (root / game / LABELS_NAME).read_bytes() == f"{game}/{LABELS_NAME}".encode()


def read_games_table_of_split(split: str) -> list[str]:
    from comedian.data.games import soccernet_games

    return soccernet_games([split])["path"].tolist()


def _outputs() -> dict[str, set[str]]:
    """The output options of every stage: its ``Paths`` fields marked ``"output": True`` (a
    path option not marked is an input)."""
    import importlib

    from comedian.cli import STAGES
    from comedian.stages import output_fields

    return {
        stage: set(output_fields(importlib.import_module(f"comedian.stages.{stage}").Paths))
        for stage in STAGES
    }


OUTPUTS = _outputs()


def _path_options(stage: str) -> dict[str, bool]:
    """The path options of a stage as the command line builds them: option -> takes a list."""
    import argparse
    import importlib

    from comedian import cli

    parser = argparse.ArgumentParser()
    cli._add_paths(parser, importlib.import_module(f"comedian.stages.{stage}").Paths)
    return {
        a.option_strings[0]: a.nargs == "+" for a in parser._actions if a.dest.startswith("path__")
    }


def _guard_cases() -> list[tuple[str, str, str]]:
    from comedian.cli import STAGES

    cases = []
    for stage in STAGES:
        options = _path_options(stage)
        outs = {f"--{o.replace('_', '-')}" for o in OUTPUTS.get(stage, ())}
        for out in sorted(outs):
            cases += [(stage, out, opt) for opt in options if opt not in outs]
    return cases


def test_every_stage_marks_its_outputs() -> None:
    from comedian.cli import STAGES

    assert set(OUTPUTS) == set(STAGES)
    for stage, outs in OUTPUTS.items():
        assert outs, f"{stage}: no Paths field is marked as an output"
        options = _path_options(stage)
        assert {f"--{o.replace('_', '-')}" for o in outs} <= set(options), stage
    # the stages that write more than one path
    assert OUTPUTS["download"] == {"root", "manifest"} and OUTPUTS["pca"] == {"transform", "out"}
    assert OUTPUTS["nms"] == {"out", "zip"} and OUTPUTS["sweep"] == {"out", "heatmap"}


@pytest.mark.parametrize(
    ("stage", "out", "inp"), _guard_cases(), ids=[" ".join(c) for c in _guard_cases()]
)
def test_every_stage_refuses_an_output_onto_an_input(
    stage: str, out: str, inp: str, tmp_path: Path, capsys
) -> None:
    """Every output option given an input's path, a link to it, or a folder holding it is
    refused by the guard first, before any work (the files need not even exist)."""
    (tmp_path / "link").symlink_to(tmp_path / "input")
    for given, problem in (
        (tmp_path / "input", f"is the input {inp} "),
        (tmp_path / "link", f"is the input {inp} "),
        (tmp_path, "holds the input"),
    ):
        argv = [stage.replace("_", "-")]
        for opt in _path_options(stage):
            value = tmp_path / "input" if opt == inp else tmp_path / "others" / opt.lstrip("-")
            argv += [opt, S(given if opt == out else value)]
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
        message = _one_line(capsys.readouterr().err)
        assert status == 2 and message.startswith(f"comedian {argv[0]}: {out} "), message
        assert problem in message, message
