"""Temporary names, whole-folder replacement, stale-file cleaning, a full disk, the overwrite
guard and paths read from files; frame stores whose header lies about the frame size or field
types."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from comedian.atomic import (
    atomic_path,
    atomic_tree,
    remove_stale_siblings,
    remove_stale_temporaries,
    temporary_target,
)
from comedian.data.frames import FrameStore, FrameStoreError, write_store
from comedian.errors import InputError, UsageError
from comedian.guards import join_inside, refuse_overwrite


def test_temporary_names_are_hidden_and_end_in_tmp(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "1.frames") as tmp:
        assert tmp.name.startswith(".1.frames.") and tmp.suffix == ".tmp"
        assert temporary_target(tmp.name) == "1.frames"
        tmp.write_bytes(b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["1.frames"]
    assert temporary_target("1.frames") is None and temporary_target(".x.tmp") is None


def test_atomic_tree_replaces_owned_files_as_a_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (out / "a" / "r.json").write_text("old a")
    (out / "b").mkdir()
    (out / "b" / "r.json").write_text("old b")  # a game the new run does not have
    (out / "notes.txt").write_text("mine")
    with atomic_tree(out, owned=("r.json",)) as tmp:
        (tmp / "a").mkdir()
        (tmp / "a" / "r.json").write_text("new a")
    assert (out / "a" / "r.json").read_text() == "new a"
    assert not (out / "b" / "r.json").exists()
    assert (out / "notes.txt").read_text() == "mine"
    with pytest.raises(RuntimeError), atomic_tree(out, owned=("r.json",)) as tmp:
        (tmp / "a").mkdir()
        (tmp / "a" / "r.json").write_text("half")
        raise RuntimeError("killed")
    assert (out / "a" / "r.json").read_text() == "new a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / "g").mkdir()
    stale = [tmp_path / "g" / ".1.frames.abcd_123.tmp", tmp_path / ".out.zzzzzzzz.tmp"]
    for p in stale:
        p.write_bytes(b"")
    other = tmp_path / "g" / ".2.frames.abcd_123.tmp"
    other.write_bytes(b"")
    keep = [tmp_path / "g" / ".hidden", tmp_path / "g" / "x.tmp"]
    for p in keep:
        p.write_bytes(b"")
    assert remove_stale_siblings(tmp_path / "g" / "1.frames") == 1
    assert other.exists()
    assert remove_stale_temporaries(tmp_path) == 2
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)


@pytest.mark.parametrize(
    ("inp", "out", "problem"),
    [
        ("v.mkv", "v.mkv", "is the input"),
        ("d", "d/x.json", "lies inside"),
        ("d/v.mkv", "d", "holds the input"),
        ("d", "d/../d/sub", "lies inside"),
        ("link.mkv", "v.mkv", "is the input"),  # a symbolic link to the output
    ],
)
def test_refuse_overwrite(tmp_path: Path, inp: str, out: str, problem: str) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "v.mkv").write_bytes(b"v")
    (tmp_path / "v.mkv").write_bytes(b"v")
    (tmp_path / "link.mkv").symlink_to(tmp_path / "v.mkv")
    with pytest.raises(UsageError, match=problem):
        refuse_overwrite(inputs={"--in": tmp_path / inp}, outputs={"--out": tmp_path / out})
    refuse_overwrite(inputs={"--in": tmp_path / "d"}, outputs={"--out": tmp_path / "e" / "x"})


def _store(path: Path) -> Path:
    frames = np.full((2, 16, 16, 3), 128, np.uint8)
    write_store(path, [frames], fps=2.0, num_frames=2, frame_size=(16, 16), duration_s=1.0)
    return path


def _patch(path: Path, old: bytes, new: bytes) -> None:
    assert len(old) == len(new)  # same header length: only the field changes
    data = path.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (b'"frame_size":[16,16]', b'"frame_size":[16,24]', "JPEG is 16x16"),
        (b'"frame_size":[16,16]', b'"frame_size":[16,-1]', "frame_size"),
        (b'"frame_size":[16,16]', b'"frame_size":"16x16"', "frame_size"),
        (b'"fps":2.0', b'"fps":"2"', "fps"),
        (b'"fps":2.0', b'"fps":0.0', "fps"),
        (b'"num_frames":2', b'"num_frames":"', None),  # broken JSON
        (b'"duration_s":1.0', b'"duration_s":NaN', "duration_s"),
    ],
)
def test_store_header_lies_are_caught(tmp_path: Path, old: bytes, new: bytes, problem) -> None:
    path = _store(tmp_path / "s.frames")
    _patch(path, old, new)
    with pytest.raises(FrameStoreError, match=str(path)) as err:
        FrameStore(path).read(0, 2)
    if problem:
        assert problem in str(err.value)


def test_store_with_right_header_reads_every_pixel(tmp_path: Path) -> None:
    frames = FrameStore(_store(tmp_path / "s.frames")).read_indices([1, 0])
    assert np.abs(frames.astype(int) - 128).max() <= 2  # JPEG of a flat grey: all pixels set


@pytest.mark.parametrize(
    ("rel", "problem"),
    [
        ("../x", "climbs out"),
        ("a/../../x", "climbs out"),
        ("a/..", "climbs out"),
        ("/etc", "is absolute"),
        ("//etc", "is absolute"),
        ("", "empty path"),
        (".", "empty path"),
        ("a\x00b", "NUL"),
    ],
)
def test_join_inside_refuses_paths_that_leave_the_root(tmp_path: Path, rel: str, problem) -> None:
    with pytest.raises(InputError, match=f"^games.tsv: line 3: .*{problem}"):
        join_inside(tmp_path, rel, source="games.tsv: line 3")


def test_join_inside_keeps_real_game_names(tmp_path: Path) -> None:
    game = "england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1 Burnley..x"
    assert join_inside(tmp_path, game, source="t") == tmp_path / game
    assert join_inside(tmp_path, "./a/b", source="t") == tmp_path / "a" / "b"


def _disk_full(written: bytes):  # noqa: ANN202
    def write(path: Path) -> None:
        with open(path, "wb") as f:
            f.write(written)
        raise OSError(errno.ENOSPC, "No space left on device")

    return write


def test_a_full_disk_names_the_output_and_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "sweep.tsv"
    with pytest.raises(OSError, match="No space left") as info, atomic_path(out) as tmp:
        _disk_full(b"half a ta")(tmp)
    assert info.value.filename == str(out) and info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OSError) as info, atomic_tree(tmp_path / "raw", owned=("1.npy",)) as tmp:
        (tmp / "game").mkdir()
        _disk_full(b"x")(tmp / "game" / "1.npy")
    assert info.value.filename == str(tmp_path / "raw")  # the error named no file
    with pytest.raises(OSError) as info, atomic_tree(tmp_path / "raw", owned=("1.npy",)) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp / "game" / "1.npy"))
    assert info.value.filename == str(tmp_path / "raw" / "game" / "1.npy")
    assert list(tmp_path.iterdir()) == []
    other = OSError(errno.EACCES, "Permission denied", str(tmp_path / "elsewhere"))
    with pytest.raises(OSError) as info, atomic_path(out):
        raise other
    assert info.value is other  # an error about another file is left as it is
