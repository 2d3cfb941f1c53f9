"""NMS settings: one validation for options, config, sweep grid and slugs; canonical slugs;
per-class windows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from comedian.cli import main
from comedian.config import ConfigError, apply_overrides, parse_set_args
from comedian.data.soccernet import CLASS_INDEX, NUM_CLASSES
from comedian.spotting.settings import SLUG_PATTERN, NmsSetting
from comedian.spotting.sweep import grid
from comedian.stages import nms as nms_stage
from comedian.stages import sweep as sweep_stage
from comedian.workflow import nms_args


@pytest.mark.parametrize(
    ("setting", "slug"),
    [
        (NmsSetting(), "soft_w20_t0.001_m0"),
        (NmsSetting("hard", 10, 0.05), "hard_w10_t0.05_m0"),
        (NmsSetting("soft", 8, 1, 0.25), "soft_w8_t1_m0.25"),
        (NmsSetting(threshold=1e-5), "soft_w20_t0.00001_m0"),
        # Classes in the official order whatever the mapping's order; Penalty is class 0.
        (
            NmsSetting(windows_per_class={"Goal": 30, "Yellow->red card": 4, "Penalty": 40}),
            "soft_w20_t0.001_m0_penalty40_goal30_yellowredcard4",
        ),
        # An entry equal to the global window is the same setting: dropped.
        (NmsSetting(windows_per_class={"Goal": 20}), "soft_w20_t0.001_m0"),
    ],
)
def test_slug_round_trip(setting: NmsSetting, slug: str) -> None:
    assert setting.slug == slug
    assert NmsSetting.from_slug(slug) == setting
    assert hash(NmsSetting.from_slug(slug)) == hash(setting)
    assert re.fullmatch(SLUG_PATTERN, slug)


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("soft_w20_t0.0010_m0", "not canonical, write 'soft_w20_t0.001_m0'"),
        ("soft_w020_t0.001_m0", "not canonical, write 'soft_w20_t0.001_m0'"),
        ("soft_w20_t0.001_m0.0", "not canonical, write 'soft_w20_t0.001_m0'"),
        ("soft_w20_t1.0_m0", "not canonical, write 'soft_w20_t1_m0'"),
        ("soft_w20_t0.001_m0_goal30_penalty40", "write 'soft_w20_t0.001_m0_penalty40_goal30'"),
        ("soft_w20_t0.001_m0_goal30_goal40", "write 'soft_w20_t0.001_m0_goal30'"),
        ("soft_w20_t0.001_m0_goal20", "write 'soft_w20_t0.001_m0'"),
        ("soft_w20_t0.001_m0_goals30", "unknown class 'goals'"),
        ("soft_w0_t0.001_m0", "window: 0 is not an integer >= 1"),
        ("soft_w20_t0.001_m0_goal0", "window: 0 is not an integer >= 1"),
        ("soft_w20_t0_m0", r"threshold: 0.0 is not in \(0, 1\]"),
        ("soft_w20_t1.5_m0", r"threshold: 1.5 is not in \(0, 1\]"),
        ("soft_w20_t0.001_m1", r"min_weight: 1.0 is not in \[0, 1\)"),
        ("hard_w20_t0.5_m0.3", "given for hard NMS"),
        ("soft_w20_t1e-3_m0", "not a slug"),
        ("Soft_w20_t0.001_m0", "not a slug"),
    ],
)
def test_bad_or_non_canonical_slugs_are_refused(slug: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        NmsSetting.from_slug(slug)
    assert repr(slug) in str(err.value)  # the slug is named


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"threshold": 0}, r"threshold: 0.0 is not in \(0, 1\]"),
        ({"threshold": 1.01}, r"threshold: 1.01 is not in"),
        ({"min_weight": 1}, r"min_weight: 1.0 is not in \[0, 1\)"),
        ({"kind": "hard", "min_weight": 0.5}, "given for hard NMS"),
        ({"window": 0}, "window: 0 is not"),
        ({"windows_per_class": {"Goal": -3}}, "window: -3 is not"),
        ({"windows_per_class": {"Goal": 2.5}}, "window: 2.5 is not"),
        ({"windows_per_class": {"goal": 30}}, "unknown class 'goal'"),
        ({"windows_per_class": [30]}, "windows_per_class"),
        ({"kind": "medium"}, "'medium' is not one of"),
    ],
)
def test_config_values_are_checked(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_overrides(nms_stage.Config(), overrides)


def test_stage_config_is_the_setting() -> None:
    assert nms_stage.Config is NmsSetting
    cfg = apply_overrides(nms_stage.Config(), {"kind": "hard", "windows_per_class.Goal": 30})
    assert cfg == NmsSetting("hard", windows_per_class={"Goal": 30})
    assert cfg.windows[CLASS_INDEX["Goal"]] == 30 and cfg.windows.count(20) == NUM_CLASSES - 1


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--threshold", "0", "threshold: 0.0 is not in"),
        ("--min-weight", "1.5", "min_weight: 1.5 is not in"),
        ("--window", "-4", "window: -4 is not"),
    ],
)
def test_cli_options_are_checked_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture, option: str, value: str, message: str
) -> None:
    out = tmp_path / "out"
    status = main(["nms", "--raw", str(tmp_path / "missing"), "--out", str(out), option, value])
    assert status == 2  # a bad option: one line, before reading --raw (which is missing)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_per_class_windows_by_hand() -> None:
    # Hard NMS, one column each for Penalty (window 2: radius 1) and Goal (the global 20).
    # Penalty keeps both peaks (2 rows apart); Goal keeps only the larger within +-10.
    scores = np.zeros((5, NUM_CLASSES), np.float32)
    column = np.array([0.5, 0.0, 0.25, 0.0, 0.0], np.float32)
    scores[:, CLASS_INDEX["Penalty"]] = column
    scores[:, CLASS_INDEX["Goal"]] = column
    out = NmsSetting("hard", 20, 0.1, windows_per_class={"Penalty": 2}).apply(scores)
    np.testing.assert_array_equal(out[:, CLASS_INDEX["Penalty"]], [0.5, 0, 0.25, 0, 0])
    np.testing.assert_array_equal(out[:, CLASS_INDEX["Goal"]], [0.5, 0, 0, 0, 0])
    assert out.sum() == 1.25


@pytest.mark.parametrize(
    "slug",
    ["soft_w20_t0.001_m0", "hard_w30_t0.2_m0", "soft_w12_t0.00001_m0.3_goal30_yellowredcard4"],
)
def test_nms_args_give_the_slug_setting(slug: str) -> None:
    # The rule's options, parsed as the CLI parses them, build the slug's setting exactly.
    words = shlex.split(nms_args(SimpleNamespace(nms=slug)))
    items = [w for w in words if w != "--set"]
    cfg = apply_overrides(nms_stage.Config(), parse_set_args(items))
    assert cfg == NmsSetting.from_slug(slug) and cfg.slug == slug


def test_nms_args_refuse_non_canonical_slugs() -> None:
    with pytest.raises(ConfigError, match="not canonical"):
        nms_args(SimpleNamespace(nms="soft_w20_t0.0010_m0"))


def test_sweep_grid_uses_the_same_rules() -> None:
    settings = grid(["soft", "hard"], [10], [0.01, 1], [0.0, 0.5])
    assert [s.slug for s in settings] == [
        "soft_w10_t0.01_m0",
        "soft_w10_t0.01_m0.5",
        "soft_w10_t1_m0",
        "soft_w10_t1_m0.5",
        "hard_w10_t0.01_m0",
        "hard_w10_t1_m0",
    ]
    with pytest.raises(ConfigError, match=r"threshold: 0.0 is not in \(0, 1\]"):
        grid(["soft"], [10], [0.0])
    # Checked with hard NMS too, which has no min_weight: a typo is never silently ignored.
    with pytest.raises(ConfigError, match=r"min_weight: 1.0 is not in \[0, 1\)"):
        grid(["hard"], [10], [0.01], [1.0])
    with pytest.raises(ConfigError, match="windows: empty list"):
        grid(["soft"], [], [0.01])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"thresholds": [0.01, 2]}, r"threshold: 2.0 is not in \(0, 1\]"),
        ({"windows": [10, 0]}, "window: 0 is not"),
        ({"min_weights": [-1]}, "min_weight: -1.0 is not"),
        ({"kinds": []}, "kinds: empty list"),
    ],
)
def test_sweep_config_is_checked_when_built(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_overrides(sweep_stage.Config(), overrides)
