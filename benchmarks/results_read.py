"""Reading results files: ``comedian evaluate`` on 100 games at soft-NMS density, before and after.

Usage:
    python benchmarks/results_read.py [--games 100] [--baseline-rev e32c3f5] [--repeats 3]

Writes the results files of ``--games`` synthetic games: soft NMS (COMEDIAN's setting: window 20,
threshold 0.001) of synthetic sigmoid scores, and their labels. The same predictions are written
twice, by today's and by the baseline's ``write_results``; each reader reads its own writer's.
Then runs ``evaluate_games`` with every metric (what ``comedian evaluate`` computes), alternating
three readers, best of ``--repeats`` each (CPU seconds; every reader gets the same page cache):

* before: ``src/comedian/spotting/results.py`` at ``--baseline-rev`` (loaded from git: the
  hand-written byte-level parser it held), reading the files its own ``write_results`` wrote
  (the aligned layout that parser needs);
* msgspec only: ``comedian.spotting.results._decode_json`` (msgspec decoding, no value checks);
* after: :func:`comedian.spotting.results.read_results` (the compiled scanner, msgspec for
  other layouts, and the value checks).

It also times reading alone, and checks that the three give identical arrays and metrics.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import comedian.spotting.results as results  # noqa: E402
from comedian.data.soccernet import CLASSES, LABELS_NAME, RESULTS_NAME  # noqa: E402
from comedian.data.soccernet import format_game_time as game_time  # noqa: E402
from comedian.spotting.metrics import METRIC_NAMES, evaluate_games  # noqa: E402
from comedian.spotting.nms import soft_nms  # noqa: E402
from spotting import synthetic_scores  # noqa: E402  (benchmarks/spotting.py)

REPO = Path(__file__).resolve().parents[1]
CLOCK = time.process_time
Reader = Callable[[Path], dict[str, np.ndarray]]


def baseline_module(rev: str) -> ModuleType:
    """results.py at git revision ``rev``, as a module."""
    text = subprocess.run(
        ["git", "show", f"{rev}:src/comedian/spotting/results.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "results_baseline.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("results_baseline", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["results_baseline"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def msgspec_reader(path: Path) -> dict[str, np.ndarray]:
    return results._decode_json(Path(path), Path(path).read_bytes())


def write_tree(root: Path, games: int, baseline: ModuleType) -> int:
    """Labels and soft-NMS results of ``games`` games (``preds``: today's writer,
    ``preds_before``: the baseline's); returns the number of predictions."""
    rng = np.random.default_rng(0)
    total = 0
    for g in range(games):
        game = f"league/2016-2017/2016-09-{g % 28 + 1:02d} - 20-45 Team {g} 1 - 1 Other {g}"
        scores, events = synthetic_scores(rng, 2)  # (2, T, 17): one game
        preds = results.peaks_to_predictions(
            dict(zip((1, 2), soft_nms(scores, window=20, threshold=0.001), strict=True))
        )
        total += len(preds["half"])
        results.write_results(root / "preds" / game / RESULTS_NAME, game, preds)
        baseline.write_results(root / "preds_before" / game / RESULTS_NAME, game, preds)
        slot, row, cls = np.nonzero(events)
        annotations = [
            {
                "gameTime": game_time(int(h) + 1, int(r) * 500),
                "label": CLASSES[c],
                "position": str(int(r) * 500),
                "team": "home",
                "visibility": "visible",
            }
            for h, r, c in zip(slot, row, cls, strict=True)
        ]
        (root / "labels" / game).mkdir(parents=True)
        (root / "labels" / game / LABELS_NAME).write_text(
            results.msgspec.json.encode({"annotations": annotations}).decode()
        )
    return total


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = CLOCK()
    out = fn()
    return CLOCK() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--games", type=int, default=100)
    parser.add_argument("--baseline-rev", default="e32c3f5")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    baseline = baseline_module(args.baseline_rev)
    readers: dict[str, Reader] = {
        "before": baseline.read_results,
        "msgspec only": msgspec_reader,
        "after": results.read_results,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        total = write_tree(root, args.games, baseline)
        trees = {name: root / ("preds_before" if name == "before" else "preds") for name in readers}
        files = {name: sorted(tree.rglob(RESULTS_NAME)) for name, tree in trees.items()}
        size = sum(f.stat().st_size for f in files["after"])
        print(
            f"# {args.games} games, {total} predictions ({total / 2 / args.games:.0f} a half), "
            f"{size / 1e6:.0f} MB of results files; numpy {np.__version__}, "
            f"msgspec {results.msgspec.__version__}, baseline {args.baseline_rev}"
        )
        read = {name: np.inf for name in readers}
        evaluate = {name: np.inf for name in readers}
        outputs: dict[str, object] = {}
        arrays: dict[str, list] = {}
        original = results.read_results
        for _ in range(args.repeats):
            for name, reader in readers.items():  # alternating: same machine load for all
                t, arrays[name] = timed(lambda r=reader, n=name: [r(f) for f in files[n]])
                read[name] = min(read[name], t)
                results.read_results = reader  # evaluate_games looks it up at each call
                try:
                    t, outputs[name] = timed(
                        lambda n=name: evaluate_games(
                            root / "labels", trees[n], metrics=METRIC_NAMES
                        )
                    )
                finally:
                    results.read_results = original
                evaluate[name] = min(evaluate[name], t)
        for name in readers:
            same = all(
                np.array_equal(a[k], b[k])
                for a, b in zip(arrays[name], arrays["before"], strict=True)
                for k in a
            )
            assert same and outputs[name] == outputs["before"], name
        print("| reader | read all files (s) | evaluate, all metrics (s) | evaluate vs before |")
        print("|---|---|---|---|")
        for name in readers:
            print(
                f"| {name} | {read[name]:.2f} | {evaluate[name]:.2f} | "
                f"{evaluate[name] / evaluate['before']:.2f}x |"
            )
        print("identical arrays and metrics: True")


if __name__ == "__main__":
    main()
