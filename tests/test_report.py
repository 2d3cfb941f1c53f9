"""``comedian.report``: the training lines of shared and per-run stages, worked by hand."""

from __future__ import annotations

from pathlib import Path

from comedian.report import summarize


def _log(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("step,epoch,lr,loss,valid_tight\n" + "\n".join(rows) + "\n")


def test_training_lines_of_shared_and_per_run_stages(tmp_path):
    # teacher (shared by all runs): 12 steps of loss 1, 2, ..., 12
    _log(tmp_path / "teacher/train_log.csv", [f"{s},0,0.1,{s}," for s in range(1, 13)])
    # a run's finetune: 3 steps and two validations
    _log(tmp_path / "finetune/vivit/train_log.csv",
         ["1,0,0.1,0.5,", "2,0,0.1,0.3,", "2,0,,,0.25", "3,1,0.1,0.1,", "3,1,,,0.5"])  # fmt: skip
    _log(tmp_path / "pretrain/.hidden/train_log.csv", ["1,0,0.1,9,"])  # a temporary: skipped
    lines = [line.split("  [")[0] for line in summarize(tmp_path).splitlines()]
    # first 10 steps: mean(1..10) = 5.5; last 10: mean(3..12) = 7.5
    assert "teacher: 12 steps, loss 5.5000 -> 7.5000" in lines
    # fewer than 10 steps: both means cover all of them, (0.5 + 0.3 + 0.1) / 3 = 0.3
    assert "finetune vivit: 3 steps, loss 0.3000 -> 0.3000, best valid_tight 50.00" in lines
    assert not any(line.startswith("pretrain") for line in lines)


def test_viewer_pages_are_named(tmp_path):
    folder = tmp_path / "report/timeline/vivit/test/soft"
    folder.mkdir(parents=True)
    for name in ("b.html", "a.html", ".a.html.x1y2z3w4.tmp", "a.png"):
        (folder / name).write_text("x")
    lines = summarize(tmp_path).splitlines()
    assert lines == [f"match viewer: 2 pages, open one in a browser, e.g. {folder / 'a.html'}"]
