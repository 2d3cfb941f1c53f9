"""Bad inputs through the real command line: one line naming the file or option, no traceback,
the right exit status, and no input changed (checksums before and after each case).

The cases run ``comedian.cli.main`` in this process (the console entry point calls exactly it),
so the table of ~100 cases costs seconds; a few run ``python -m comedian`` as a subprocess to
check the entry point and the absence of tracebacks end to end.
"""

from __future__ import annotations

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
from comedian.data.soccernet import LABELS_NAME, NUM_CLASSES
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
    return World(
        root=root, data=data, game=game, raw=raw, raw_b=raw_b, games=games, nms=nms, bad=bad
    )


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
    add("finetune_head-bad-model-key", tr("finetune-head", "--set", "model.size=3"), 1, "size")
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
    return c


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
