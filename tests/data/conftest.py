"""Fixtures for the data tests: a tiny H.264 video whose frames show their own index."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

#: Index video geometry: 8 bits as a 2 x 4 grid of 24 x 16 blocks (bit 0 top-left, row-major).
INDEX_H, INDEX_W, INDEX_FPS, INDEX_SECONDS = 48, 64, 25, 4
GRID_ROWS, GRID_COLS = 2, 4


def index_frames(n: int, h: int = INDEX_H, w: int = INDEX_W) -> np.ndarray:
    """Frames whose blocks spell their index in binary (white = 1). Shape (n, h, w, 3)."""
    bits = (np.arange(n)[:, None] >> np.arange(GRID_ROWS * GRID_COLS)) & 1  # (n, 8)
    grid = bits.reshape(n, GRID_ROWS, GRID_COLS).astype(np.uint8) * 255
    frames = np.repeat(np.repeat(grid, h // GRID_ROWS, axis=1), w // GRID_COLS, axis=2)
    return np.repeat(frames[..., None], 3, axis=3)


def read_index(frames: np.ndarray) -> np.ndarray:
    """Invert :func:`index_frames` on decoded (lossy, maybe resized) frames. Shape (n,)."""
    n, h, w, _ = frames.shape
    gray = frames.astype(np.float64).mean(axis=3)  # (n, h, w)
    bh, bw = h // GRID_ROWS, w // GRID_COLS
    # Sample each block's centre half: JPEG/H.264 ringing and resampling blur sit at the edges.
    cells = gray[:, : bh * GRID_ROWS, : bw * GRID_COLS].reshape(n, GRID_ROWS, bh, GRID_COLS, bw)
    centre = cells[:, :, bh // 4 : bh - bh // 4, :, bw // 4 : bw - bw // 4].mean(axis=(2, 4))
    bits = (centre.reshape(n, -1) > 127.5).astype(np.int64)  # (n, 8)
    return (bits << np.arange(bits.shape[1])).sum(axis=1)


def write_video(path: Path, frames: np.ndarray, fps: int) -> Path:
    """Encode RGB frames to near-lossless H.264 (yuv420p, B-frames, like SoccerNet) with ffmpeg."""
    n, h, w, _ = frames.shape
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{w}x{h}",
        "-r",
        str(fps),
        "-i",
        "-",
        "-c:v",
        "libx264",
        "-crf",
        "4",
        "-g",
        "10",  # a keyframe every 10 frames: decoding must cross many groups of pictures
        "-pix_fmt",
        "yuv420p",
        str(path),
    ]
    subprocess.run(cmd, input=frames.tobytes(), check=True, capture_output=True)
    return path


@dataclass(frozen=True)
class IndexVideo:
    """A test video whose frame i shows i in binary blocks, and the helpers to read it."""

    path: Path
    fps: int = INDEX_FPS
    height: int = INDEX_H
    width: int = INDEX_W
    seconds: int = INDEX_SECONDS

    @property
    def num_frames(self) -> int:
        return self.fps * self.seconds

    @staticmethod
    def frames(n: int, h: int = INDEX_H, w: int = INDEX_W) -> np.ndarray:
        """See :func:`index_frames`."""
        return index_frames(n, h, w)

    @staticmethod
    def read_index(frames: np.ndarray) -> np.ndarray:
        """See :func:`read_index`."""
        return read_index(frames)


@pytest.fixture(scope="session")
def index_video(tmp_path_factory: pytest.TempPathFactory) -> IndexVideo:
    """A 4 s, 25 fps, 64x48 H.264 .mkv (SoccerNet's container) whose frame i shows i."""
    folder = tmp_path_factory.mktemp("index video")  # a space, as in real game folders
    path = write_video(folder / "1_224p.mkv", index_frames(INDEX_FPS * INDEX_SECONDS), INDEX_FPS)
    return IndexVideo(path)
