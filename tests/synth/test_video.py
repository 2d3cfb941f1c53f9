"""Videos: real H.264 in .mkv that decord reads, exact frame counts, determinism, errors."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import decord
import numpy as np
import pytest

from comedian.data.soccernet import LABELS_NAME, VIDEO_NAMES
from comedian.synth import SynthConfig, VideoEncodeError, generate, plan_games, write_half
from comedian.synth.video import H264Writer, ffmpeg_exe


def _tree(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (the resolved config aside)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "config.resolved.yaml"
    }


def test_layout_matches_plan(tiny_root: Path, tiny_cfg: SynthConfig) -> None:
    games = plan_games(tiny_cfg)
    expected = set()
    for split, path in games:
        expected |= {f"{path}/{VIDEO_NAMES[1]}", f"{path}/{VIDEO_NAMES[2]}"}
        if split != "challenge":
            expected.add(f"{path}/{LABELS_NAME}")
    assert set(_tree(tiny_root)) == expected
    assert (tiny_root / "config.resolved.yaml").is_file()
    # Folders are league/season/game, names with spaces, an apostrophe and a dot.
    assert all(len(path.split("/")) == 3 for _, path in games)
    assert any("'" in path for _, path in games) and any("St. Pauli" in p for _, p in games)


def test_decord_reads_every_half(tiny_root: Path, tiny_cfg: SynthConfig) -> None:
    n_frames = round(tiny_cfg.half_duration_s * tiny_cfg.fps)
    for _, path in plan_games(tiny_cfg):
        for name in VIDEO_NAMES.values():
            video = decord.VideoReader(str(tiny_root / path / name))
            assert len(video) == n_frames
            assert video.get_avg_fps() == pytest.approx(25.0)
            first, last = video.get_batch([0, n_frames - 1]).asnumpy()
            assert first.shape == last.shape == (224, 398, 3)
            # Keyframes every gop frames, as in broadcast streams.
            assert list(video.get_key_indices()) == list(range(0, n_frames, tiny_cfg.gop))


def test_codec_is_h264_in_matroska(tiny_root: Path, tiny_cfg: SynthConfig) -> None:
    path = tiny_root / plan_games(tiny_cfg)[0][1] / VIDEO_NAMES[1]
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    text = info.stderr.decode()
    assert "Input #0, matroska" in text and "Video: h264" in text and "398x224" in text


def test_frames_are_not_trivial(tiny_root: Path, tiny_cfg: SynthConfig) -> None:
    """A green pitch with lines, moving players and a panning camera."""
    video = decord.VideoReader(str(tiny_root / plan_games(tiny_cfg)[0][1] / VIDEO_NAMES[2]))
    frames = video.get_batch(list(range(0, 250, 5))).asnumpy().astype(np.int16)  # (50, H, W, 3)
    pitch = frames[:, 60:]  # below the stands and boards
    green = (pitch[..., 1] > pitch[..., 0] + 30) & (pitch[..., 1] > pitch[..., 2] + 30)
    assert green.mean() > 0.5  # mostly grass (signature panels aside)
    white = (pitch.min(-1) > 200).mean(axis=(1, 2))  # lines and the ball
    assert (white > 0.003).all()
    # Things move: consecutive sampled frames (0.2 s apart) differ, but not wholesale.
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    assert (change > 0.2).all() and np.median(change) < 30
    colours = np.unique(frames[0].reshape(-1, 3) // 32, axis=0)
    assert len(colours) > 20


@pytest.mark.slow
def test_generation_is_deterministic(
    tmp_path: Path, tiny_root: Path, tiny_cfg: SynthConfig
) -> None:
    """Same seed, other worker count: byte-identical videos and labels (hence identical
    decoded frames); another seed: different files."""
    generate(tiny_cfg, tmp_path / "again", workers=1)
    assert _tree(tmp_path / "again") == _tree(tiny_root)
    other = SynthConfig(**{**tiny_cfg.__dict__, "seed": tiny_cfg.seed + 1, "challenge": 0})
    plan = plan_games(other)
    assert set(plan).isdisjoint(plan_games(tiny_cfg))


def test_write_half_is_deterministic_and_seeded(tmp_path: Path) -> None:
    paths = [tmp_path / "a.mkv", tmp_path / "b.mkv", tmp_path / "c.mkv"]
    ev_a = write_half(paths[0], 4.04, seed=11)
    ev_b = write_half(paths[1], 4.04, seed=11)
    write_half(paths[2], 4.04, seed=12)
    assert ev_a == ev_b and ev_a[0].label == "Kick-off"
    frames = [decord.VideoReader(str(p)).get_batch(list(range(101))).asnumpy() for p in paths]
    assert all(len(decord.VideoReader(str(p))) == 101 for p in paths)  # round(4.04 * 25)
    np.testing.assert_array_equal(frames[0], frames[1])
    assert np.abs(frames[0].astype(int) - frames[2]).mean() > 1


def test_write_half_streams_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames reach the encoder chunk by chunk: memory does not grow with the duration."""
    sizes: list[int] = []
    original = H264Writer.write

    def spy(self: H264Writer, frames: np.ndarray) -> None:
        sizes.append(len(frames))
        original(self, frames)

    monkeypatch.setattr(H264Writer, "write", spy)
    write_half(tmp_path / "h.mkv", 5.0, seed=0, events=[])
    assert sum(sizes) == 125 and max(sizes) <= 50 and len(sizes) == 3


def test_encoder_failure_names_file_and_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.mkv"
    with pytest.raises(VideoEncodeError, match="bad.mkv.*status"):
        write_half(path, 1.0, seed=0, preset="no-such-preset")
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_wrong_frames_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "x.mkv"
    with pytest.raises(ValueError, match=r"x\.mkv: expected \(F, 224, 398, 3\) uint8"):
        with H264Writer(path, width=398, height=224, fps=25.0) as video:
            video.write(np.zeros((2, 224, 398, 3), dtype=np.uint8))
            video.write(np.zeros((2, 224, 400, 3), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(VideoEncodeError, match="no frames"):
        with H264Writer(path, width=398, height=224, fps=25.0):
            pass
    assert list(tmp_path.iterdir()) == []
