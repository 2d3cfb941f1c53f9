"""Each class leaves its own visual signature around its events, visible after downscaling."""

from __future__ import annotations

import itertools
from pathlib import Path

import decord
import numpy as np
import pytest

from comedian.data.soccernet import CLASSES, VIDEO_NAMES
from comedian.synth import SynthConfig, plan_dataset
from comedian.synth.signatures import COLOURS, REGIONS, SIGNATURES, amplitude, template

#: Mean absolute difference (0-255) below which a frame shows a class's panel, and above which
#: it clearly does not.
MATCH, NO_MATCH = 25.0, 50.0


def test_amplitude_hand_values() -> None:
    a = amplitude(np.array([0.0, 0.35, -0.5, 0.7, 1.0, -2.0]))
    np.testing.assert_allclose(a, [1.0, 0.75, 1 - (0.5 / 0.7) ** 2, 0.0, 0.0, 0.0])


def test_regions_disjoint_and_colours_distinct_within_region() -> None:
    for (_, a), (_, b) in itertools.combinations(REGIONS.items(), 2):
        overlap_x = min(a[2], b[2]) - max(a[0], b[0])
        overlap_y = min(a[3], b[3]) - max(a[1], b[1])
        assert overlap_x <= 0 or overlap_y <= 0
    assert len(set(SIGNATURES.values())) == len(CLASSES)
    for region in REGIONS:
        used = [c for r, cs in SIGNATURES.values() if r == region for c in cs if len(cs) == 1]
        assert len(used) == len(set(used)), region
    # Every pair of panel colours differs by >= 80 in some channel.
    for a, b in itertools.combinations(COLOURS.values(), 2):
        assert np.abs(np.subtract(a, b)).max() >= 80


def test_template_geometry() -> None:
    box, panel = template("Yellow->red card", 398, 224)
    assert box == (159, 67, 239, 157)
    assert panel.shape == (90, 80, 3) and panel.dtype == np.uint8
    assert (panel[:, :40] == COLOURS["yellow"]).all() and (panel[:, 40:] == COLOURS["red"]).all()
    box, panel = template("Goal", 64, 64)
    assert box == (6, 3, 58, 15) and (panel == COLOURS["orange"]).all()
    with pytest.raises(ValueError, match="unknown class"):
        template("Header", 64, 64)


def _distances(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference of each frame to each class panel, inside the panel's box
    shrunk by one pixel (the resize blurs the edges).

    Shapes:
        frames: (N, S, S, 3) uint8; return: (N, 17).
    """
    size = frames.shape[1]
    out = np.empty((len(frames), len(CLASSES)))
    for c, label in enumerate(CLASSES):
        (x0, y0, x1, y1), panel = template(label, size, size)
        region = frames[:, y0 + 1 : y1 - 1, x0 + 1 : x1 - 1].astype(np.int16)
        out[:, c] = np.abs(region - panel[1:-1, 1:-1]).mean(axis=(1, 2, 3))
    return out


@pytest.mark.parametrize("size", [64, 32])
def test_signatures_identify_class_and_time_after_downscaling(
    tiny_root: Path, tiny_cfg: SynthConfig, size: int
) -> None:
    """From frames shrunk to size x size, the nearest panel names the class of every visible
    event at its time, the panel's appearance is centred within one frame (0.04 s) of the
    event, and nothing matches away from visible events (not-shown events included)."""
    fps = tiny_cfg.fps
    seen: set[str] = set()
    n_hidden = 0
    for plan in plan_dataset(tiny_cfg):
        for half in (1, 2):
            video = decord.VideoReader(
                str(tiny_root / plan.path / VIDEO_NAMES[half]), width=size, height=size
            )
            dist = _distances(video.get_batch(list(range(len(video)))).asnumpy())  # (N, 17)
            times = np.arange(len(video)) / fps
            signed = np.zeros(len(video), dtype=bool)
            for e in plan.half_events(half):
                k = round(e.time_s * fps)
                if e.visibility == "not shown":
                    assert dist[k].min() > NO_MATCH, e
                    n_hidden += 1
                    continue
                c = CLASSES.index(e.label)
                assert dist[k].argmin() == c and dist[k, c] < MATCH, (e, dist[k])
                # The panel shows for ~+-0.6 s around the event, centred on it.
                window = np.arange(max(0, k - 25), min(len(video), k + 26))
                shown = window[dist[window, c] < NO_MATCH]
                assert 20 <= len(shown) <= 35 and abs(shown.mean() - k) <= 1, (e, shown)
                signed |= np.abs(times - e.time_s) < 0.75
                seen.add(e.label)
            assert (dist[~signed].min(axis=1) > NO_MATCH).all()
    assert seen == set(CLASSES) and n_hidden > 0
