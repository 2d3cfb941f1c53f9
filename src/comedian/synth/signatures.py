"""The visual signature of each action class: a large coloured panel around the event time.

Usage:
    box, panel = template("Corner", width=398, height=224)   # where and what is drawn
    alpha = amplitude(frame_times_s - event_time_s)            # how strongly, per frame

A synthetic game must be learnable to within one second (method.md section 1 marks frames within
0.5 s of an event), also after frames are shrunk to 32x32 or 64x64. So each class gets a panel
covering at least a fifth of the frame width, in one of five disjoint regions, with a colour that
no other class uses in the same region; it fades in and out over +-0.7 s and peaks (fully opaque)
exactly at the event time. Events that are "not shown" get no panel, as in real broadcasts where
the action happens off camera.
"""

from __future__ import annotations

import numpy as np

from comedian.data.soccernet import CLASSES

#: Half-width of the signature in seconds: frames within 0.7 s of an event get a panel, so the
#: frames a 2 fps model labels positive (|dt| <= 0.5 s) always see it.
HALF_WIDTH_S: float = 0.7

#: Regions as (x0, y0, x1, y1) fractions of the frame; pairwise disjoint.
REGIONS: dict[str, tuple[float, float, float, float]] = {
    "top": (0.10, 0.04, 0.90, 0.24),
    "bottom": (0.10, 0.76, 0.90, 0.96),
    "left": (0.03, 0.30, 0.23, 0.70),
    "right": (0.77, 0.30, 0.97, 0.70),
    "card": (0.40, 0.30, 0.60, 0.70),
}

#: Panel colours: saturated, far from the pitch greens, whites and the stands' greys.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "yellow": (240, 220, 20),
    "orange": (245, 140, 20),
    "blue": (30, 60, 220),
    "cyan": (20, 210, 220),
    "magenta": (210, 40, 200),
    "black": (15, 15, 15),
}

#: Class -> (region, colours of its vertical stripes, left to right). Within a region all
#: colours differ, so the pair identifies the class; the cards mimic a referee's card.
SIGNATURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Penalty": ("card", ("magenta",)),
    "Kick-off": ("right", ("yellow",)),
    "Goal": ("top", ("orange",)),
    "Substitution": ("right", ("cyan",)),
    "Offside": ("left", ("yellow",)),
    "Shots on target": ("top", ("blue",)),
    "Shots off target": ("top", ("cyan",)),
    "Clearance": ("bottom", ("orange",)),
    "Ball out of play": ("bottom", ("black",)),
    "Throw-in": ("bottom", ("blue",)),
    "Foul": ("left", ("red",)),
    "Indirect free-kick": ("left", ("blue",)),
    "Direct free-kick": ("left", ("magenta",)),
    "Corner": ("bottom", ("magenta",)),
    "Yellow card": ("card", ("yellow",)),
    "Red card": ("card", ("red",)),
    "Yellow->red card": ("card", ("yellow", "red")),
}
assert tuple(SIGNATURES) == CLASSES, "one signature per class, in the official order"


def region_box(region: str, width: int, height: int) -> tuple[int, int, int, int]:
    """Pixel box ``(x0, y0, x1, y1)`` (end-exclusive) of a region in a ``width`` x ``height`` frame."""
    fx0, fy0, fx1, fy1 = REGIONS[region]
    return (
        round(fx0 * width),
        round(fy0 * height),
        max(round(fx1 * width), round(fx0 * width) + 1),
        max(round(fy1 * height), round(fy0 * height) + 1),
    )


def template(label: str, width: int, height: int) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The panel of class ``label`` in a ``width`` x ``height`` frame.

    Returns:
        ``(box, panel)``: the pixel box ``(x0, y0, x1, y1)`` and the panel's colours.

    Shapes:
        panel: (y1 - y0, x1 - x0, 3) uint8.
    """
    if label not in SIGNATURES:
        raise ValueError(f"unknown class {label!r} (expected one of {CLASSES})")
    region, colours = SIGNATURES[label]
    x0, y0, x1, y1 = box = region_box(region, width, height)
    # Vertical stripes: stripe k covers columns [k * w / n, (k + 1) * w / n).
    stripe = (np.arange(x1 - x0) * len(colours)) // (x1 - x0)  # (w,)
    palette = np.array([COLOURS[c] for c in colours], dtype=np.uint8)  # (n, 3)
    panel = np.broadcast_to(palette[stripe][None], (y1 - y0, x1 - x0, 3))
    return box, np.ascontiguousarray(panel)


def amplitude(dt_s: np.ndarray) -> np.ndarray:
    """Opacity of a signature ``dt_s`` seconds from its event: ``max(0, 1 - (dt / 0.7) ** 2)``.

    1 at the event time, 0.49 at +-0.5 s, 0 from +-0.7 s on; symmetric, so the peak marks the
    time.
    """
    return np.clip(1.0 - (np.asarray(dt_s, dtype=np.float64) / HALF_WIDTH_S) ** 2, 0.0, 1.0)
