"""Frames of a synthetic broadcast: a panning camera over a pitch with 22 players, a referee and
a ball, plus each visible event's class signature (comedian.synth.signatures).

Usage:
    scene = HalfScene(seed=7, width=398, height=224, fps=25.0, half=1, kits=(0, 1), events=events)
    frames = scene.render(0, 50)   # (50, 224, 398, 3) uint8, frames 0..49 of the half

Every moving thing is a sum of a few sinusoids of time, so frame k depends only on k (not on the
frames before it): halves render in chunks of any size, in any order, with identical results.
All drawing is vectorized over the chunk's frames and figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from comedian.synth.plan import NUM_KITS, Event
from comedian.synth.signatures import HALF_WIDTH_S, amplitude, template

RGB = tuple[int, int, int]

#: Team kits as (shirt, shorts); comedian.synth.plan chooses two distinct indices per game.
KITS: tuple[tuple[RGB, RGB], ...] = (
    ((200, 25, 35), (245, 245, 245)),
    ((25, 60, 170), (245, 245, 245)),
    ((240, 240, 240), (20, 20, 30)),
    ((250, 210, 0), (20, 60, 160)),
    ((110, 180, 235), (250, 250, 250)),
    ((120, 20, 50), (110, 180, 235)),
    ((30, 30, 35), (30, 30, 35)),
    ((250, 120, 20), (20, 20, 20)),
)
assert len(KITS) == NUM_KITS
_GOALKEEPERS: tuple[RGB, RGB] = ((190, 250, 60), (150, 150, 160))
_REFEREE: tuple[RGB, RGB] = ((235, 235, 60), (20, 20, 20))
_SKINS: tuple[RGB, ...] = ((232, 190, 150), (190, 140, 100), (120, 80, 55))

#: Player sprite, feet at the bottom row: h skin, s shirt, p shorts, k socks. Two leg poses
#: alternate while running; both list the same characters in the same order, so one colour
#: table serves both.
_SPRITES: tuple[tuple[str, ...], ...] = (
    (
        "..hh..", "..hh..", "..hh..", "ssssss", "ssssss", "ssssss", ".ssss.", ".ssss.",
        ".ssss.", ".pppp.", ".pppp.", ".k..k.", ".k..k.", ".k..k.",
    ),
    (
        "..hh..", "..hh..", "..hh..", "ssssss", "ssssss", "ssssss", ".ssss.", ".ssss.",
        ".ssss.", ".pppp.", ".pppp.", "..kk..", "..kk..", "..kk..",
    ),
)  # fmt: skip
_BALL: tuple[str, ...] = (".bb.", "bbbb", "bbbb", ".bb.")
#: Formation of the team attacking towards +x: (along the pitch, across), fractions of the
#: field. Index 0 is the goalkeeper.
_FORMATION = np.array(
    [
        [0.04, 0.50], [0.20, 0.15], [0.18, 0.38], [0.18, 0.62], [0.20, 0.85], [0.38, 0.20],
        [0.36, 0.42], [0.36, 0.58], [0.38, 0.80], [0.55, 0.35], [0.55, 0.65],
    ]
)  # fmt: skip
_NUM_FIGURES = 23  # 11 home, 11 away, the referee


def _offsets(rows: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Pixel offsets of a sprite relative to its bottom-centre point, and each pixel's code."""
    height, width = len(rows), len(rows[0])
    dy, dx, codes = [], [], []
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            if ch != ".":
                dy.append(r - height + 1)
                dx.append(c - width // 2)
                codes.append(ch)
    return np.array(dy), np.array(dx), codes


class HalfScene:
    """One half's scene: static pitch canvas, trajectories and event signatures.

    Args:
        seed: Seed of the trajectories and textures.
        width: Frame width.
        height: Frame height.
        fps: Frame rate; frame k shows time k / fps.
        half: 1 or 2; the teams swap ends at half time.
        kits: Kit indices (into :data:`KITS`) of the home and away teams.
        events: The half's events; visible ones get their class signature.
    """

    def __init__(
        self,
        *,
        seed: int,
        width: int,
        height: int,
        fps: float,
        half: int,
        kits: tuple[int, int],
        events: Sequence[Event],
    ) -> None:
        rng = np.random.default_rng(seed)
        self.width, self.height, self.fps = width, height, fps
        # The camera sees half of the pitch canvas, as a broadcast's main camera does.
        self.canvas_width = 2 * width
        self._layout()
        self.canvas = self._draw_canvas(rng)  # (H, Wc, 3)
        # Every window of the canvas as a view, so cropping a chunk is one gather.
        self._windows = np.lib.stride_tricks.as_strided(
            self.canvas,
            shape=(self.canvas_width - width + 1, height, width, 3),
            strides=(3, self.canvas.strides[0], 3, 1),
            writeable=False,
        )
        self._trajectories(rng, half)
        self._sprites(rng, kits)
        self.events = [e for e in events if e.visibility == "visible"]
        self._event_times = np.array([e.time_s for e in self.events], dtype=np.float64)
        self._templates = {e.label: template(e.label, width, height) for e in self.events}

    def _layout(self) -> None:
        h, wc = self.height, self.canvas_width
        self.stands_h = round(0.13 * h)
        self.boards_h = max(2, round(0.04 * h))
        self.field_y0 = self.stands_h + self.boards_h + 3
        self.field_y1 = h - 4
        self.field_x0 = round(0.03 * wc)
        self.field_x1 = wc - self.field_x0

    def _draw_canvas(self, rng: np.random.Generator) -> np.ndarray:
        """Stands, advertising boards and the pitch with its lines, drawn once per half."""
        h, wc = self.height, self.canvas_width
        yy, xx = np.mgrid[0:h, 0:wc]  # (H, Wc)
        x0, x1, y0, y1 = self.field_x0, self.field_x1, self.field_y0, self.field_y1
        length, depth = x1 - x0, y1 - y0
        # Mowing stripes, a little darker towards the far touchline.
        stripe = ((xx - x0) * 16 // length) % 2  # (H, Wc)
        green = np.where(stripe[..., None] == 0, [58, 140, 58], [68, 154, 66])  # (H, Wc, 3)
        canvas = green * (0.88 + 0.12 * yy[..., None] / h)
        # Crowd: 2x2-pixel blobs of grey with some coloured shirts.
        bh, bw = (self.stands_h + 1) // 2, wc // 2
        crowd = 70 + rng.normal(0, 14, size=(bh, bw, 1)) + np.zeros((1, 1, 3))
        shirts = rng.random((bh, bw)) < 0.12
        crowd[shirts] = rng.integers(40, 230, size=(int(shirts.sum()), 3))
        crowd = crowd.repeat(2, axis=0).repeat(2, axis=1)[: self.stands_h]  # (hs, Wc, 3)
        canvas[: self.stands_h] = crowd
        # Advertising boards: segments of alternating sponsor colours.
        boards = np.array([[20, 60, 160], [235, 235, 235], [200, 30, 40], [20, 20, 20]])
        seg = (np.arange(wc) // 48 + int(rng.integers(4))) % len(boards)  # (Wc,)
        canvas[self.stands_h : self.stands_h + self.boards_h] = boards[seg][None]
        # Lines, 2 px wide: touchlines, goal lines, halfway line, centre circle, boxes.
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

        def hline(y: float, xa: float, xb: float) -> np.ndarray:
            return (np.abs(yy - y) < 1) & (xx >= xa) & (xx <= xb)

        def vline(x: float, ya: float, yb: float) -> np.ndarray:
            return (np.abs(xx - x) < 1) & (yy >= ya) & (yy <= yb)

        def box(xa: float, xb: float, half_span: float) -> np.ndarray:
            ya, yb = cy - half_span, cy + half_span
            return hline(ya, xa, xb) | hline(yb, xa, xb) | vline(xa, ya, yb) | vline(xb, ya, yb)

        ring = np.abs(np.hypot(xx - cx, (yy - cy) * 1.6) - 0.2 * depth * 1.6) < 1.1
        lines = hline(y0, x0, x1) | hline(y1, x0, x1) | vline(x0, y0, y1) | vline(x1, y0, y1)
        lines |= vline(cx, y0, y1) | ring
        for xa, sign in ((x0, 1), (x1, -1)):
            pen, area = xa + sign * 0.16 * length, xa + sign * 0.055 * length
            lines |= box(min(xa, pen), max(xa, pen), 0.30 * depth)
            lines |= box(min(xa, area), max(xa, area), 0.14 * depth)
            goal = xa - sign * 6
            lines |= box(min(xa, goal), max(xa, goal), 0.05 * depth)
            spot = xa + sign * 0.105 * length
            lines |= (np.abs(xx - spot) < 1.5) & (np.abs(yy - cy) < 1.5)
        lines |= (np.abs(xx - cx) < 1.5) & (np.abs(yy - cy) < 1.5)
        canvas[lines & (yy >= self.field_y0 - 1)] = (235, 235, 235)
        return np.ascontiguousarray(np.clip(np.round(canvas), 0, 255).astype(np.uint8))

    def _trajectories(self, rng: np.random.Generator, half: int) -> None:
        """Sinusoid parameters of the ball and the figures (see the module docstring)."""
        length = self.field_x1 - self.field_x0
        depth = self.field_y1 - self.field_y0
        # Ball: three sinusoids per axis, slow to fast; top speed ~ 100 px/s (~13 m/s).
        self.ball_amp = np.stack(
            [np.array([0.6, 0.28, 0.12]) * 0.45 * length, np.array([0.6, 0.28, 0.12]) * 0.4 * depth]
        )  # (2, 3)
        bands = np.array([[0.008, 0.02], [0.03, 0.06], [0.08, 0.15]])  # Hz, (3, 2)
        self.ball_freq = rng.uniform(bands[:, 0], bands[:, 1], size=(2, 3))  # (2, 3)
        self.ball_phase = rng.uniform(0, 2 * np.pi, size=(2, 3))  # (2, 3)
        # Figures: formation + a shift following the ball + two small sinusoids per axis.
        home = _FORMATION.copy()
        away = _FORMATION.copy()
        away[:, 0] = 1.0 - away[:, 0]
        away[:, 1] = 1.0 - away[:, 1]
        if half == 2:  # the teams change ends at half time
            home[:, 0], away[:, 0] = 1.0 - home[:, 0], 1.0 - away[:, 0]
        base = np.concatenate([home, away, [[0.5, 0.45]]])  # (23, 2)
        self.fig_base = np.stack(
            [self.field_x0 + base[:, 0] * length, self.field_y0 + base[:, 1] * depth], axis=-1
        )  # (23, 2)
        follow = np.full(_NUM_FIGURES, 0.45)
        follow[[0, 11]] = 0.08  # goalkeepers stay near their goal
        follow[22] = 0.8  # the referee stays near the ball
        self.fig_follow = follow  # (23,)
        self.fig_amp = (
            rng.uniform(0.5, 1.0, size=(_NUM_FIGURES, 2, 2))
            * np.array([0.03 * length, 0.06 * depth])[None, :, None]
        )  # (23, axis, 2)
        self.fig_freq = rng.uniform(0.05, 0.3, size=(_NUM_FIGURES, 2, 2))
        self.fig_phase = rng.uniform(0, 2 * np.pi, size=(_NUM_FIGURES, 2, 2))
        self.stride_phase = rng.uniform(0, 2, size=_NUM_FIGURES)  # (23,)

    def _sprites(self, rng: np.random.Generator, kits: tuple[int, int]) -> None:
        """Sprite offsets per pose and each figure's pixel colours."""
        offsets = [_offsets(rows) for rows in _SPRITES]
        self.sprite_dy = np.stack([o[0] for o in offsets])  # (2, S)
        self.sprite_dx = np.stack([o[1] for o in offsets])  # (2, S)
        codes = offsets[0][2]
        outfits = [KITS[kits[0]]] * 11 + [KITS[kits[1]]] * 11 + [_REFEREE]
        outfits[0], outfits[11] = (_GOALKEEPERS[0], (20, 20, 20)), (_GOALKEEPERS[1], (20, 20, 20))
        skins = rng.integers(len(_SKINS), size=_NUM_FIGURES)
        colours = np.empty((_NUM_FIGURES, len(codes), 3), dtype=np.uint8)  # (23, S, 3)
        for f, ((shirt, shorts), skin) in enumerate(zip(outfits, skins, strict=True)):
            table = {"h": _SKINS[skin], "s": shirt, "p": shorts, "k": shirt}
            colours[f] = [table[c] for c in codes]
        self.sprite_colours = colours
        self.ball_dy, self.ball_dx, _ = _offsets(_BALL)

    def positions(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ball, figures and camera at times ``t``.

        Shapes:
            t: (F,) seconds.
            return: ball (F, 2) and figures (F, 23, 2) as canvas (x, y) floats; camera (F,) int,
            the canvas column of the frame's left edge.
        """
        cx = (self.field_x0 + self.field_x1) / 2
        cy = (self.field_y0 + self.field_y1) / 2
        wave = np.sin(2 * np.pi * self.ball_freq * t[:, None, None] + self.ball_phase)  # (F, 2, 3)
        ball_off = (self.ball_amp * wave).sum(-1)  # (F, 2)
        ball = np.array([cx, cy]) + ball_off  # (F, 2)
        wave = np.sin(2 * np.pi * self.fig_freq * t[:, None, None, None] + self.fig_phase)
        jitter = (self.fig_amp * wave).sum(-1)  # (F, 23, 2)
        shift = ball_off[:, None, :] * self.fig_follow[None, :, None] * np.array([1.0, 0.5])
        figures = self.fig_base + shift + jitter  # (F, 23, 2)
        figures[..., 0] = figures[..., 0].clip(self.field_x0 - 8, self.field_x1 + 8)
        figures[..., 1] = figures[..., 1].clip(self.field_y0 + 4, self.height - 1)
        camera = np.round(ball[:, 0] - self.width / 2).clip(0, self.canvas_width - self.width)
        return ball, figures, camera.astype(np.int64)

    def render(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start .. stop - 1`` of the half.

        Shapes:
            return: (stop - start, H, W, 3) uint8, C-contiguous (ready to pipe to the encoder).
        """
        t = np.arange(start, stop) / self.fps  # (F,)
        ball, figures, camera = self.positions(t)
        frames = self._windows[camera]  # (F, H, W, 3), a copy
        # Figures: pose alternates 4 times a second while running.
        pose = (np.floor(t[:, None] * 4 + self.stride_phase) % 2).astype(np.int64)  # (F, 23)
        ys = np.round(figures[..., 1]).astype(np.int64)[..., None] + self.sprite_dy[pose]
        xs = (np.round(figures[..., 0]).astype(np.int64) - camera[:, None])[..., None]
        xs = xs + self.sprite_dx[pose]  # (F, 23, S)
        fidx = np.broadcast_to(np.arange(len(t))[:, None, None], ys.shape)  # (F, 23, S)
        colours = np.broadcast_to(self.sprite_colours, (*ys.shape, 3))  # (F, 23, S, 3)
        self._blit(frames, fidx, ys, xs, colours)
        # Ball on top of the players.
        by = np.round(ball[:, 1]).astype(np.int64)[:, None] + self.ball_dy  # (F, B)
        bx = np.round(ball[:, 0]).astype(np.int64)[:, None] - camera[:, None] + self.ball_dx
        bidx = np.broadcast_to(np.arange(len(t))[:, None], by.shape)
        self._blit(frames, bidx, by, bx, np.full((*by.shape, 3), 245, dtype=np.uint8))
        self._signatures(frames, t)
        return frames

    def _blit(
        self, frames: np.ndarray, f: np.ndarray, y: np.ndarray, x: np.ndarray, rgb: np.ndarray
    ) -> None:
        """Set pixels ``frames[f, y, x] = rgb`` where (y, x) lies inside the frame."""
        inside = (y >= 0) & (y < self.height) & (x >= 0) & (x < self.width)
        frames[f[inside], y[inside], x[inside]] = rgb[inside]

    def _signatures(self, frames: np.ndarray, t: np.ndarray) -> None:
        """Blend each visible event's panel into the frames within +-HALF_WIDTH_S of it."""
        if not len(self.events):
            return
        near = np.flatnonzero(
            (self._event_times > t[0] - HALF_WIDTH_S) & (self._event_times < t[-1] + HALF_WIDTH_S)
        )
        for i in near:  # at most a few events per chunk
            alpha = amplitude(t - self._event_times[i])  # (F,)
            sel = np.flatnonzero(alpha > 0)
            if not len(sel):
                continue
            (x0, y0, x1, y1), panel = self._templates[self.events[i].label]
            region = frames[sel, y0:y1, x0:x1].astype(np.float32)  # (F', h, w, 3)
            a = alpha[sel, None, None, None].astype(np.float32)
            blended = region + a * (panel.astype(np.float32) - region)
            frames[sel, y0:y1, x0:x1] = np.round(blended).astype(np.uint8)
