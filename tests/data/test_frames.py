"""Frame stores and decoding: the nearest-frame rule against decord, format, reader, errors."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import decord
import imageio_ffmpeg
import numpy as np
import pytest

from comedian import __version__
from comedian.cli import main
from comedian.data import decode as decode_module
from comedian.data import frames as frames_module
from comedian.data.decode import (
    VideoError,
    decode_video,
    fetch_plan,
    nearest_source_frames,
    resize_frames,
    store_frame_count,
    timestamp_gaps,
)
from comedian.data.frames import FrameStore, FrameStoreError, write_store

# The index video of conftest.py: 4 s of 25 fps, 64x48.
H, W, SOURCE_FPS, SECONDS = 48, 64, 25, 4
# Hand-computed: at 25 fps, time t is source frame 25 t; ties (x.5) go to the earlier frame.
EXPECTED_2FPS = [0, 12, 25, 37, 50, 62, 75, 87]  # floor(12.5 k)
EXPECTED_4FPS = [0, 6, 12, 19, 25, 31, 37, 44, 50, 56, 62, 69, 75, 81, 87, 94]  # 6.25 k, ties down


def oracle(video: Path, fps: int) -> list[int]:
    """Brute-force nearest frame from decord's own timestamps, in exact rationals.

    The .mkv time base is 1 ms, so rounding decord's float32 seconds to ms recovers the
    exact presentation times.
    """
    vr = decord.VideoReader(str(video))
    stamps = vr.get_frame_timestamp(np.arange(len(vr)))
    starts = [Fraction(round(float(s) * 1000), 1000) for s in stamps[:, 0]]
    duration = Fraction(round(float(stamps[-1, 1]) * 1000), 1000)
    out, k = [], 0
    while Fraction(k, fps) < duration:
        dist = [abs(s - Fraction(k, fps)) for s in starts]
        out.append(dist.index(min(dist)))  # index() returns the earliest of equal minima
        k += 1
    return out


@pytest.fixture(scope="module")
def store_2fps(index_video, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stores") / "2fps" / "1.frames"
    assert main(["decode", "--video", str(index_video.path), "--out", str(out), "--fps", "2"]) == 0
    return out


# ---- the selection rule -------------------------------------------------------------------


def test_store_frame_count_is_k_over_fps_below_duration():
    assert store_frame_count(2.0, 4.0) == 8  # k = 0..7; 8 / 2 = 4.0 is not < 4.0
    assert store_frame_count(2.0, 4.01) == 9
    assert store_frame_count(4.0, 0.2) == 1
    assert store_frame_count(2.0, 2700.0) == 5400
    with pytest.raises(ValueError, match="positive"):
        store_frame_count(0.0, 10.0)


def test_nearest_frames_hand_computed_25fps_with_float32_ties():
    starts = (np.arange(100) / 25).astype(np.float32)  # what decord returns
    # float32 makes 0.52 - 0.5 look smaller than 0.5 - 0.48: the tie must still go down.
    assert float(starts[13]) - 0.5 < 0.5 - float(starts[12])
    assert nearest_source_frames(starts, 2.0, 4.0).tolist() == EXPECTED_2FPS
    assert nearest_source_frames(starts, 4.0, 4.0).tolist() == EXPECTED_4FPS


def test_nearest_frames_at_45_minutes():
    starts = (np.arange(67_500) / 25).astype(np.float32)  # a 2700 s half
    idx = nearest_source_frames(starts, 2.0, 2700.0)
    assert len(idx) == 5400
    assert idx[-3:].tolist() == [67_462, 67_475, 67_487]  # 2699.5 s: tie 2699.48 / 2699.52
    np.testing.assert_array_equal(idx, np.floor(np.arange(5400) * 12.5).astype(np.int64))


def test_nearest_frames_tie_tolerance_is_one_float32_step():
    # Around 1000 s a float32 step is 2**-14 s (61 us): decord cannot tell apart distances
    # closer than that, so a frame nearer by one step is a tie (earlier wins), by two it wins.
    step = 2.0**-14
    prev, nxt = np.float32(1000.48), np.float32(1000.52)
    assert float(np.spacing(nxt)) == step
    one_step = np.array([0.0, prev, np.nextafter(nxt, np.float32(0))], dtype=np.float32)
    two_steps = np.array([0.0, prev, np.nextafter(one_step[2], np.float32(0))], dtype=np.float32)
    assert nearest_source_frames(one_step, 2.0, 1000.6)[-1] == 1
    assert nearest_source_frames(two_steps, 2.0, 1000.6)[-1] == 2
    # float64 timestamps resolve 1 us, so there a frame nearer by 3 us wins.
    assert nearest_source_frames(np.array([0.0, 0.48, 0.519997]), 2.0, 0.6)[-1] == 2


def test_nearest_frames_uneven_and_unsorted_timestamps():
    # Frames at 0.0, 0.3, 0.45, 0.9, 1.2 s given out of order; targets 0, .5, 1.0, 1.5 (2 fps).
    starts = np.array([0.9, 0.0, 1.2, 0.3, 0.45])
    # 0 -> 0.0 (idx 1); 0.5 -> 0.45 (idx 4); 1.0 -> 0.9 (idx 0); 1.5 -> 1.2 (idx 2, last frame)
    assert nearest_source_frames(starts, 2.0, 1.6).tolist() == [1, 4, 0, 2]
    # A later frame that is strictly nearer wins: 0.5 -> 0.52 rather than 0.47.
    assert nearest_source_frames(np.array([0.0, 0.47, 0.52]), 2.0, 0.6).tolist() == [0, 2]


def test_fetch_plan_bridges_each_keyframe_crossing():
    index = np.array([0, 12, 25, 37, 37, 50])
    fetch, pos = fetch_plan(index, np.array([0, 10, 20, 37, 60]))
    # Frames 9, 19 and 36 precede keyframes 10, 20 and 37; keyframe 60 lies past the last target.
    assert fetch.tolist() == [0, 9, 12, 19, 25, 36, 37, 50]
    assert pos.tolist() == [0, 2, 4, 6, 6, 7]
    np.testing.assert_array_equal(fetch[pos], index)


# ---- decoding against decord's timestamps -------------------------------------------------


@pytest.mark.parametrize("fps", [2, 4])
def test_store_frames_are_the_nearest_source_frames(index_video, tmp_path, fps):
    out = tmp_path / f"{fps}.frames"
    main(["decode", "--video", str(index_video.path), "--out", str(out), "--fps", str(fps)])
    store = FrameStore(out)
    expected = oracle(index_video.path, fps)
    assert expected == (EXPECTED_2FPS if fps == 2 else EXPECTED_4FPS)
    assert index_video.read_index(store.read(0, len(store))).tolist() == expected
    assert store.meta["source_frame_index"] == expected


def test_store_faster_than_the_source_repeats_frames(index_video, tmp_path):
    # 50 fps from 25 fps: odd k fall exactly between two source frames and take the earlier.
    out = tmp_path / "50.frames"
    decode_video(index_video.path, out, fps=50.0, batch_size=7)
    store = FrameStore(out)
    assert len(store) == 200
    assert index_video.read_index(store.read(0, 200)).tolist() == [k // 2 for k in range(200)]


def test_metadata(store_2fps, index_video):
    store = FrameStore(store_2fps)
    assert store.fps == 2.0
    assert store.num_frames == len(store) == 8
    assert store.duration_s == pytest.approx(SECONDS)
    assert store.frame_size == (H, W)
    meta = store.meta
    assert meta["source"] == {
        "path": str(index_video.path),
        "width": W,
        "height": H,
        "fps": SOURCE_FPS,
        "num_frames": SOURCE_FPS * SECONDS,
        "container_duration_s": float(SECONDS),
    }
    assert meta["source_timestamp_s"] == pytest.approx([k / 25 for k in EXPECTED_2FPS], abs=1e-6)
    assert meta["codec"] == "jpeg" and meta["jpeg_quality"] == 90
    assert meta["comedian_version"] == __version__ and meta["git_revision"]
    assert meta["config"] == {
        "fps": 2.0,
        "size": None,
        "jpeg_quality": 90,
        "num_threads": 0,
        "batch_size": 64,
        "max_missing_s": 2.0,
    }


def test_round_trip_pixels_within_jpeg_tolerance(store_2fps, index_video):
    store = FrameStore(store_2fps)
    source = decord.VideoReader(str(index_video.path)).get_batch(EXPECTED_2FPS).asnumpy()
    diff = np.abs(store.read(0, 8).astype(np.int16) - source.astype(np.int16))
    assert diff.mean() < 3.0  # q90 JPEG of hard black/white edges


def test_round_trip_smooth_image(tmp_path):
    yy, xx = np.mgrid[0:64, 0:96]
    img = np.stack([xx * 2.5, yy * 3.5, (xx + yy) * 1.5], axis=-1).astype(np.uint8)
    batch = np.stack([img, 255 - img])  # (2, 64, 96, 3)
    write_store(tmp_path / "s.frames", [batch], fps=2, num_frames=2, frame_size=(64, 96),
                duration_s=1.0)  # fmt: skip
    back = FrameStore(tmp_path / "s.frames").read(0, 2)
    diff = np.abs(back.astype(np.int16) - batch.astype(np.int16))
    assert diff.mean() < 1.5 and diff.max() <= 24


def test_resize_at_decode(index_video, tmp_path):
    out = tmp_path / "small.frames"
    main(["decode", "--video", str(index_video.path), "--out", str(out), "--set", "size=[32, 40]"])
    store = FrameStore(out)
    assert store.frame_size == (32, 40)
    assert store.read(0, 3).shape == (3, 32, 40, 3)
    assert store.meta["source"]["width"] == W and store.meta["config"]["size"] == [32, 40]
    assert index_video.read_index(store.read(0, len(store))).tolist() == EXPECTED_2FPS


@pytest.mark.parametrize("width", [16, 24, 48])
def test_resize_at_widths_decord_cannot_scale_to(index_video, tmp_path, width):
    # decord 0.6 fails to copy frames it scaled to these widths: the frames are resized after
    # decoding instead, with the same frames chosen
    assert not decode_module._decord_scales(
        decord.VideoReader(str(index_video.path), height=32, width=width)
    )
    out = tmp_path / "small.frames"
    decode_video(index_video.path, out, fps=2.0, size=(32, width))
    store = FrameStore(out)
    assert store.frame_size == (32, width) and store.meta["config"]["size"] == [32, width]
    assert index_video.read_index(store.read(0, len(store))).tolist() == EXPECTED_2FPS


def test_resizing_after_decoding_matches_decords_scaling(index_video, tmp_path, monkeypatch):
    # at a width decord scales to, the fallback gives the same images within JPEG noise
    decode_video(index_video.path, tmp_path / "decord.frames", fps=2.0, size=(32, 40))
    monkeypatch.setattr(decode_module, "_decord_scales", lambda reader: False)
    decode_video(index_video.path, tmp_path / "torch.frames", fps=2.0, size=(32, 40))
    a, b = (FrameStore(tmp_path / f"{n}.frames").read(0, 8).astype(np.int16)
            for n in ("decord", "torch"))  # fmt: skip
    diff = np.abs(a - b)
    assert a.shape == b.shape == (8, 32, 40, 3)
    assert diff.mean() < 3 and np.percentile(diff, 99) < 40


def test_resize_frames_keeps_flat_colours_and_mirror_symmetry():
    flat = np.empty((2, 8, 12, 3), np.uint8)
    flat[...] = [10, 100, 200]  # channels stay in place, values unchanged
    out = resize_frames(flat, (4, 6))
    assert out.shape == (2, 4, 6, 3) and out.dtype == np.uint8
    assert (out == np.array([10, 100, 200], np.uint8)).all()
    # a black left half and a white right half, shrunk 4 times: the symmetric kernel gives
    # mirror values (summing to 255) on the two sides, dark on the left
    edge = np.zeros((1, 8, 8, 3), np.uint8)
    edge[:, :, 4:] = 255
    small = resize_frames(edge, (2, 2)).astype(int)  # (1, 2, 2, 3)
    left, right = small[0, :, 0], small[0, :, 1]
    assert (left + right == 255).all() and (left < 64).all()


def test_small_batches_give_the_same_store(index_video, store_2fps, tmp_path):
    out = tmp_path / "b3.frames"
    decode_video(index_video.path, out, fps=2.0, batch_size=3, num_threads=1)
    np.testing.assert_array_equal(FrameStore(out).read(0, 8), FrameStore(store_2fps).read(0, 8))


# ---- reader -------------------------------------------------------------------------------


def test_read_and_read_indices(store_2fps):
    store = FrameStore(store_2fps)
    all_frames = store.read(0, 8)
    assert all_frames.shape == (8, H, W, 3) and all_frames.dtype == np.uint8
    assert store.read(3, 3).shape == (0, H, W, 3)
    np.testing.assert_array_equal(store.read(2, 5), all_frames[2:5])
    picked = store.read_indices([7, 0, 0, 3])
    assert picked.shape == (4, H, W, 3)
    np.testing.assert_array_equal(picked, all_frames[[7, 0, 0, 3]])
    assert store.read_indices(np.array([], dtype=np.int64)).shape == (0, H, W, 3)


@pytest.mark.parametrize("k0, k1", [(-1, 2), (0, 9), (5, 4)])
def test_read_bounds(store_2fps, k0, k1):
    with pytest.raises(IndexError, match=r"1\.frames.*out of range"):
        FrameStore(store_2fps).read(k0, k1)


@pytest.mark.parametrize("bad", [[8], [-1], [0, 100]])
def test_read_indices_bounds(store_2fps, bad):
    with pytest.raises(IndexError, match="out of range"):
        FrameStore(store_2fps).read_indices(bad)


def test_store_pickles_and_forks(store_2fps, index_video):
    store = FrameStore(store_2fps)
    store.read(0, 1)  # the parent opens its descriptor first
    clone = pickle.loads(pickle.dumps(store))
    assert clone._fd is None
    np.testing.assert_array_equal(clone.read(0, 8), store.read(0, 8))
    with multiprocessing.get_context("fork").Pool(1) as pool:
        in_child = pool.apply(FrameStore.read, (store, 0, 8))
    assert index_video.read_index(in_child).tolist() == EXPECTED_2FPS
    store.close()
    assert store.read(1, 2).shape[0] == 1  # reopens after close


# ---- bad inputs and atomicity -------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_corrupt_video_fails_naming_it(tmp_path):
    video = tmp_path / "it's a game" / "1_224p.mkv"
    video.parent.mkdir()
    video.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    out = tmp_path / "out" / "1.frames"
    with pytest.raises(VideoError, match=r"it's a game/1_224p\.mkv: cannot read video"):
        main(["decode", "--debug", "--video", str(video), "--out", str(out)])
    assert _leftovers(out.parent) == []


def test_corrupt_video_exits_non_zero_from_the_command_line(tmp_path):
    video = tmp_path / "Chelsea 1 - 1 Burnley" / "1_224p.mkv"
    video.parent.mkdir()
    video.write_bytes(b"not a video" * 1000)
    out = tmp_path / "out" / "1.frames"
    cmd = [sys.executable, "-m", "comedian", "decode", "--video", str(video), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"{video}: cannot read video" in proc.stderr
    assert _leftovers(out.parent) == []


def test_missing_video_fails_naming_it(tmp_path):
    out = tmp_path / "out" / "1.frames"
    with pytest.raises(VideoError, match=r"nowhere/2_224p\.mkv: video file not found"):
        main(
            [
                "decode",
                "--debug",
                "--video",
                str(tmp_path / "nowhere" / "2_224p.mkv"),
                "--out",
                str(out),
            ]
        )
    assert not out.exists()


def test_truncated_store_is_rejected(store_2fps, tmp_path):
    data = store_2fps.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 200, 20):
        bad = tmp_path / f"cut{cut}.frames"
        bad.write_bytes(data[:cut])
        with pytest.raises(FrameStoreError, match=rf"cut{cut}\.frames: .*truncated|cut{cut}"):
            FrameStore(bad)
    padded = tmp_path / "padded.frames"
    padded.write_bytes(data + b"\0")
    with pytest.raises(FrameStoreError, match="padded.frames: truncated or padded"):
        FrameStore(padded)


def test_not_a_store_is_rejected(index_video, tmp_path):
    with pytest.raises(FrameStoreError, match=r"1_224p\.mkv: not a frame store"):
        FrameStore(index_video.path)
    empty = tmp_path / "empty.frames"
    empty.write_bytes(b"")
    with pytest.raises(FrameStoreError, match="empty.frames: not a frame store"):
        FrameStore(empty)
    with pytest.raises(FileNotFoundError):
        FrameStore(tmp_path / "missing.frames")


def test_encoding_failure_midway_leaves_no_file(index_video, tmp_path, monkeypatch):
    calls = []
    real_encode = frames_module._encode

    def failing(frames: np.ndarray, quality: int) -> list[bytes]:
        calls.append(len(frames))
        if len(calls) == 2:
            raise OSError("disk full")
        return real_encode(frames, quality)

    monkeypatch.setattr(frames_module, "_encode", failing)
    out = tmp_path / "out" / "1.frames"
    with pytest.raises(OSError, match="disk full"):
        decode_video(index_video.path, out, fps=4.0, batch_size=5)
    # It failed midway: encoding runs one batch ahead of writing, and there are 4 batches.
    assert len(calls) in (2, 3)
    assert _leftovers(out.parent) == []


def test_decoder_failure_midway_leaves_no_file(tmp_path):
    def batches():
        yield np.zeros((2, H, W, 3), np.uint8)
        raise VideoError("x.mkv: decoding failed")

    out = tmp_path / "1.frames"
    with pytest.raises(VideoError, match="decoding failed"):
        write_store(out, batches(), fps=2, num_frames=4, frame_size=(H, W),
                    duration_s=2.0)  # fmt: skip
    assert _leftovers(tmp_path) == []


def test_write_store_checks_count_and_shape(tmp_path):
    good = np.zeros((3, H, W, 3), np.uint8)
    with pytest.raises(ValueError, match="expected 4 frames, got 3"):
        write_store(tmp_path / "a.frames", [good], fps=2, num_frames=4,
                    frame_size=(H, W), duration_s=2.0)  # fmt: skip
    with pytest.raises(ValueError, match=r"uint8 \(B, 10, 10, 3\)"):
        write_store(tmp_path / "a.frames", [good], fps=2, num_frames=3, frame_size=(10, 10),
                    duration_s=2.0)  # fmt: skip
    assert _leftovers(tmp_path) == []
    assert not os.path.exists(tmp_path / "a.frames")


def test_timestamp_gaps_hand_computed():
    # 0.04 s frames with 8..12 s missing (frames at 7.96 and 12.16 s are neighbours)
    starts = np.concatenate([np.arange(0, 200) * 0.04, 12.16 + np.arange(0, 50) * 0.04])
    gaps = timestamp_gaps(np.random.default_rng(0).permutation(starts).astype(np.float32))
    np.testing.assert_allclose(gaps, [[8.0, 12.16]], atol=1e-5)
    assert timestamp_gaps(np.arange(100) * 0.04).shape == (0, 2)  # no gap
    # a variable rate (0.04 and 0.05 s steps) is not a gap
    assert timestamp_gaps(np.cumsum(np.tile([0.04, 0.05], 50))).shape == (0, 2)


@pytest.fixture(scope="module")
def damaged_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of 25 fps with a fifth of the file's bytes zeroed in the middle: decodes, but the
    frames from 8.00 to 12.16 s are gone."""
    folder = tmp_path_factory.mktemp("damaged video")
    n = 25 * 20
    frames = index_video_frames(n).copy()  # (n, 48, 64, 3)
    noise = np.random.default_rng(0).integers(0, 256, (n, 8, 64, 3), dtype=np.uint8)
    frames[:, 40:] = noise  # incompressible rows: the zeroed bytes hold whole seconds
    path = folder / "1_224p.mkv"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt",
           "rgb24", "-s", "64x48", "-r", "25", "-i", "-", "-c:v", "libx264", "-crf", "4", "-g",
           "10", "-pix_fmt", "yuv420p", str(path)]  # fmt: skip
    subprocess.run(cmd, input=frames.tobytes(), check=True, capture_output=True)
    data = bytearray(path.read_bytes())
    size = len(data)
    data[size // 2 - size // 10 : size // 2 + size // 10] = bytes(2 * (size // 10))
    path.write_bytes(bytes(data))
    return path


def test_a_gap_in_the_middle_of_a_video_fails_naming_its_time(damaged_video, tmp_path, capsys):
    before = damaged_video.read_bytes()
    out = tmp_path / "out" / "1.frames"
    assert main(["decode", "--video", str(damaged_video), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"comedian decode: {damaged_video}: damaged? no frames from 8.00 s to")
    assert "more than max_missing_s=2" in err
    assert _leftovers(out.parent) == [] and damaged_video.read_bytes() == before
    # the gap (4.16 s) is within a budget of 5 s: accepted, its neighbours stand in
    assert main(["decode", "--video", str(damaged_video), "--out", str(out),
                 "--max-missing-s", "5"]) == 0  # fmt: skip
    assert FrameStore(out).num_frames == 40


def index_video_frames(n: int) -> np.ndarray:
    """Frames whose 2 x 4 blocks spell their index (as the index video's)."""
    bits = (np.arange(n)[:, None] >> np.arange(8)) & 1
    grid = bits.reshape(n, 2, 4).astype(np.uint8) * 255
    frames = np.repeat(np.repeat(grid, 24, axis=1), 16, axis=2)
    return np.repeat(frames[..., None], 3, axis=3)
