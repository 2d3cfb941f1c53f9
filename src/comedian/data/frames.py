"""Frame stores: all decoded frames of one half in ONE file, JPEG-encoded, with random access.

Usage:
    write_store(out, batches, fps=2.0, num_frames=n, frame_size=(224, 398), meta={...})
    store = FrameStore("results/decode/2fps/<game>/1.frames")
    clip = store.read(100, 228)            # (128, H, W, 3) uint8 RGB
    some = store.read_indices([0, 7, 7])   # (3, H, W, 3)

SoccerNet at 2 fps is 5.4 M frames: one image file per frame breaks cluster file quotas, so a
half is one file (method.md section 0). Frame k of a store is the frame at time ``k / fps``
seconds of its half; :mod:`comedian.data.decode` documents which source frame that is.

File format (version 1, all integers little-endian)::

    offset 0   magic             8 bytes  b"CMDNFRMS"
    offset 8   format version    uint32   1
    offset 12  reserved          uint32   0
    offset 16  header length L   uint64   bytes of the JSON header
    offset 24  header            L bytes  UTF-8 JSON object (keys below)
               padding           zero bytes up to a multiple of 8
    offset T   offset table      int64 x (num_frames + 1): absolute file offsets; frame k is
                                 bytes [table[k], table[k + 1]); table[num_frames] = file size
    table[0]   frames            the JPEG files (baseline JFIF, RGB, 4:2:0), concatenated

Header keys: ``format`` ("comedian-frames"), ``version``, ``fps``, ``num_frames``,
``duration_s``, ``frame_size`` ([H, W] of the stored frames), ``codec`` ("jpeg"),
``jpeg_quality``, ``chroma_subsampling`` ("420"), plus whatever the writer adds: the decoder puts
``source`` (path as given, width, height, fps, num_frames), ``source_frame_index`` and
``source_timestamp_s`` (one per stored frame), ``comedian_version``, ``git_revision`` and
``config`` (the resolved decode config; the store embeds it instead of a separate
``config.resolved.yaml`` so a half stays one file).

The table sits before the data so a reader needs two small reads to open a store, and a
truncated file is caught on open (the last offset must equal the file size). Reads use
``os.pread`` on a descriptor opened lazily in the reading process, so a store object can be
created in the main process and used inside forked or spawned DataLoader workers.
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import simplejpeg

from comedian.atomic import atomic_path
from comedian.errors import InputError

log = logging.getLogger(__name__)

MAGIC = b"CMDNFRMS"
VERSION = 1
FORMAT_NAME = "comedian-frames"
SUFFIX = ".frames"
_PREFIX = struct.Struct("<8sIIQ")  # magic, version, reserved, header length
_REQUIRED_KEYS = ("fps", "num_frames", "duration_s", "frame_size")
_MAX_SIDE = 65_535  # JPEG's own limit
#: JPEG chroma subsampling of stored frames. H.264 SoccerNet videos are 4:2:0 already, so
#: 4:2:0 JPEG keeps all the colour the source has and decodes faster than 4:4:4.
CHROMA_SUBSAMPLING = "420"


class FrameStoreError(InputError):
    """A file is not a valid frame store (bad magic, truncated, inconsistent header)."""


def _encode(frames: np.ndarray, quality: int) -> list[bytes]:
    """JPEG-encode a batch of RGB frames (simplejpeg releases the GIL while encoding)."""
    return [
        simplejpeg.encode_jpeg(
            np.ascontiguousarray(f),
            quality=quality,
            colorspace="RGB",
            colorsubsampling=CHROMA_SUBSAMPLING,
        )
        for f in frames
    ]


def _table_start(header_len: int) -> int:
    end = _PREFIX.size + header_len
    return end + (-end) % 8


def write_store(
    path: str | os.PathLike[str],
    batches: Iterable[np.ndarray],
    *,
    fps: float,
    num_frames: int,
    frame_size: tuple[int, int],
    duration_s: float,
    jpeg_quality: int = 90,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a frame store atomically from batches of RGB frames.

    JPEG encoding of one batch runs in a helper thread while ``batches`` produces the next one
    (decoding the video), so the two overlap.

    Args:
        path: Final file name (``.frames`` suffix by convention). Nothing exists there unless
            the whole store was written: an exception anywhere (including inside ``batches``)
            leaves no file.
        batches: Frames in store order, each batch uint8 of shape (B, H, W, 3), RGB.
        fps: Store frame rate; frame k is at time k / fps seconds.
        num_frames: Number of frames ``batches`` yields in total (checked).
        frame_size: (H, W) of every frame (checked).
        duration_s: Duration of the half in seconds.
        jpeg_quality: libjpeg quality, 1..100.
        meta: Extra header keys (JSON-serializable); they may not override the format keys.

    Returns:
        The header written to the file.

    Raises:
        ValueError: For a frame of the wrong shape or dtype, or a frame count that differs from
            ``num_frames``.
    """
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"{path}: jpeg_quality must be in 1..100, got {jpeg_quality}")
    if num_frames < 1:
        raise ValueError(f"{path}: a store needs at least one frame, got num_frames={num_frames}")
    height, width = (int(v) for v in frame_size)
    header = store_header(
        path,
        fps=fps,
        num_frames=num_frames,
        frame_size=(height, width),
        duration_s=duration_s,
        jpeg_quality=jpeg_quality,
        meta=meta,
    )
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    table_start = _table_start(len(header_bytes))
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        f.write(_PREFIX.pack(MAGIC, VERSION, 0, len(header_bytes)))
        f.write(header_bytes)
        f.write(b"\0" * (table_start - f.tell()))
        f.write(b"\0" * (8 * (num_frames + 1)))  # the table, filled in at the end
        offsets = _write_frames(f, batches, path, num_frames, (height, width), jpeg_quality)
        f.seek(table_start)
        f.write(offsets.tobytes())
    log.info("wrote %s: %d frames, %.1f KB/frame", path, num_frames, _kb_per_frame(offsets))
    return header


def store_header(
    path: str | os.PathLike[str],
    *,
    fps: float,
    num_frames: int,
    frame_size: tuple[int, int],
    duration_s: float,
    jpeg_quality: int,
    meta: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The JSON header of a store: the format keys, then ``meta`` (which may not override
    them; the error names ``path``)."""
    header: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": VERSION,
        "fps": float(fps),
        "num_frames": int(num_frames),
        "duration_s": float(duration_s),
        "frame_size": list(frame_size),
        "codec": "jpeg",
        "jpeg_quality": int(jpeg_quality),
        "chroma_subsampling": CHROMA_SUBSAMPLING,
    }
    clash = sorted(set(header) & set(meta or {}))
    if clash:
        raise ValueError(f"{path}: meta may not override format keys {clash}")
    header.update(meta or {})
    return header


def _write_frames(
    f: BinaryIO,
    batches: Iterable[np.ndarray],
    path: str | os.PathLike[str],
    num_frames: int,
    frame_size: tuple[int, int],
    quality: int,
) -> np.ndarray:
    """Encode ``batches`` to JPEG and append them to ``f``, encoding one batch in a helper
    thread while ``batches`` produces the next one.

    Returns:
        int64 (num_frames + 1,) absolute offsets: frame k is bytes [o[k], o[k + 1]).

    Raises:
        ValueError: For a batch of the wrong shape or dtype, or a frame count other than
            ``num_frames`` (naming ``path``).
    """
    height, width = frame_size
    offsets = np.empty(num_frames + 1, dtype="<i8")
    offsets[0] = f.tell()
    written = 0

    def check(frames: np.ndarray) -> np.ndarray:
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (height, width, 3):
            raise ValueError(
                f"{path}: frames must be uint8 (B, {height}, {width}, 3), "
                f"got {frames.dtype} {frames.shape}"
            )
        return frames

    def flush(job: Future[list[bytes]]) -> None:
        nonlocal written
        jpegs = job.result()
        if written + len(jpegs) > num_frames:
            raise ValueError(f"{path}: more than num_frames={num_frames} frames given")
        sizes = np.fromiter((len(j) for j in jpegs), dtype=np.int64, count=len(jpegs))
        offsets[written + 1 : written + 1 + len(jpegs)] = offsets[written] + np.cumsum(sizes)
        f.write(b"".join(jpegs))
        written += len(jpegs)

    with ThreadPoolExecutor(1) as pool:
        pending: Future[list[bytes]] | None = None
        for frames in batches:
            job = pool.submit(_encode, check(np.asarray(frames)), quality)
            if pending is not None:
                flush(pending)
            pending = job
        if pending is not None:
            flush(pending)
    if written != num_frames:
        raise ValueError(f"{path}: expected {num_frames} frames, got {written}")
    return offsets


def _kb_per_frame(offsets: np.ndarray) -> float:
    return float(offsets[-1] - offsets[0]) / max(len(offsets) - 1, 1) / 1e3


class FrameStore:
    """Random-access reader of a frame store file (see the module docstring for the format).

    Opening reads only the header and offset table; frames are read on demand with
    ``os.pread`` from a descriptor opened lazily by the process that reads (fork- and
    pickle-safe: DataLoader workers each open their own).

    Args:
        path: The store file.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        FrameStoreError: If it is not a store, is truncated or its header is inconsistent;
            the message names the file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._pid: int | None = None
        self.meta, self._offsets = self._read_index()
        self.fps = float(self.meta["fps"])
        self.num_frames = int(self.meta["num_frames"])
        self.duration_s = float(self.meta["duration_s"])
        height, width = self.meta["frame_size"]
        self.frame_size: tuple[int, int] = (int(height), int(width))

    def _fail(self, problem: str) -> FrameStoreError:
        return FrameStoreError(f"{self.path}: {problem}")

    def _read_index(self) -> tuple[dict[str, Any], np.ndarray]:
        with self.path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            prefix = f.read(_PREFIX.size)
            if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
                raise self._fail("not a frame store (bad magic bytes)")
            _, version, _, header_len = _PREFIX.unpack(prefix)
            if version != VERSION:
                raise self._fail(f"unsupported frame store version {version} (expected {VERSION})")
            table_start = _table_start(header_len)
            if table_start > size:
                raise self._fail(f"truncated: {size} bytes, the header alone needs {table_start}")
            try:
                meta = json.loads(f.read(header_len).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise self._fail(f"corrupt header ({err})") from err
            if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
                raise self._fail(f"header is not a {FORMAT_NAME!r} header")
            missing = [k for k in _REQUIRED_KEYS if k not in meta]
            if missing:
                raise self._fail(f"header lacks {missing}")
            self._check_header(meta)
            num_frames = meta["num_frames"]
            data_start = table_start + 8 * (num_frames + 1)
            if num_frames < 1 or data_start > size:
                raise self._fail(f"truncated: {size} bytes, the offset table needs {data_start}")
            f.seek(table_start)
            offsets = np.frombuffer(f.read(8 * (num_frames + 1)), dtype="<i8").astype(np.int64)
        if offsets[-1] != size:
            raise self._fail(
                f"truncated or padded: the offset table says {int(offsets[-1])} bytes, "
                f"the file has {size}"
            )
        if offsets[0] != data_start or np.any(np.diff(offsets) <= 0):
            raise self._fail("corrupt offset table")
        return meta, offsets

    def _check_header(self, meta: dict[str, Any]) -> None:
        """Type- and range-check the format keys (a hand-edited or foreign header)."""

        def number(v: Any) -> bool:
            return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

        def integer(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        if not number(meta["fps"]) or meta["fps"] <= 0:
            raise self._fail(f"header field fps={meta['fps']!r} is not a number > 0")
        if not integer(meta["num_frames"]) or meta["num_frames"] < 1:
            raise self._fail(
                f"header field num_frames={meta['num_frames']!r} is not an integer >= 1"
            )
        if not number(meta["duration_s"]) or meta["duration_s"] < 0:
            raise self._fail(f"header field duration_s={meta['duration_s']!r} is not a number >= 0")
        size = meta["frame_size"]
        if (
            not isinstance(size, list)
            or len(size) != 2
            or not all(integer(v) and 1 <= v <= _MAX_SIDE for v in size)
        ):
            raise self._fail(
                f"header field frame_size={size!r} is not [height, width] in 1..{_MAX_SIDE}"
            )
        if meta.get("codec", "jpeg") != "jpeg":
            raise self._fail(f"header field codec={meta.get('codec')!r} is not 'jpeg'")

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        h, w = self.frame_size
        return f"FrameStore({str(self.path)!r}, {self.num_frames} frames {h}x{w} @ {self.fps} fps)"

    def _descriptor(self) -> int:
        # A descriptor per process: after fork the child opens its own rather than sharing one
        # whose lifetime the parent controls.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDONLY)
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        """Close this process's descriptor (reads reopen it)."""
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FrameStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn down os already
            pass

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fd"] = None
        state["_pid"] = None
        return state

    def _pread(self, start: int, end: int) -> bytes:
        data = os.pread(self._descriptor(), end - start, start)
        if len(data) != end - start:
            raise self._fail(f"truncated: short read at byte {start} (file changed after open?)")
        return data

    def _decode_into(self, out: np.ndarray, data: bytes | memoryview, k: int) -> None:
        # Every pixel of ``out`` (allocated uninitialised) must be written: a JPEG of another
        # size would leave part of it as it was, so its size is checked against the header.
        try:
            height, width, _, _ = simplejpeg.decode_jpeg_header(data)
            if (height, width) != self.frame_size:
                raise self._fail(
                    f"frame {k}: JPEG is {height}x{width}, the header's frame_size is "
                    f"{self.frame_size[0]}x{self.frame_size[1]}"
                )
            simplejpeg.decode_jpeg(data, colorspace="RGB", buffer=out)
        except FrameStoreError:
            raise
        except ValueError as err:
            raise self._fail(f"frame {k}: corrupt JPEG data ({err})") from err

    def read(self, k0: int, k1: int) -> np.ndarray:
        """Read the consecutive frames ``k0 .. k1 - 1``.

        Args:
            k0: First frame, 0 <= k0 <= k1.
            k1: One past the last frame, k1 <= len(self).

        Returns:
            uint8 RGB frames. Shape (k1 - k0, H, W, 3).

        Raises:
            IndexError: If the range is outside ``[0, len(self)]`` (the message names the file).
        """
        k0, k1 = int(k0), int(k1)
        if not 0 <= k0 <= k1 <= self.num_frames:
            raise IndexError(
                f"{self.path}: frames [{k0}, {k1}) out of range [0, {self.num_frames})"
            )
        out = np.empty((k1 - k0, *self.frame_size, 3), dtype=np.uint8)  # (T, H, W, 3)
        if k1 == k0:
            return out
        start = int(self._offsets[k0])
        data = memoryview(self._pread(start, int(self._offsets[k1])))
        bounds = self._offsets[k0 : k1 + 1] - start
        for i in range(k1 - k0):
            self._decode_into(out[i], data[bounds[i] : bounds[i + 1]], k0 + i)
        return out

    def read_indices(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Read frames at arbitrary indices (any order, repeats allowed).

        Args:
            indices: Frame indices, each in ``[0, len(self))``. Shape (N,).

        Returns:
            uint8 RGB frames in the order of ``indices``. Shape (N, H, W, 3).

        Raises:
            IndexError: If an index is out of range (the message names the file).
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)  # (N,)
        bad = idx[(idx < 0) | (idx >= self.num_frames)]
        if len(bad):
            raise IndexError(
                f"{self.path}: frame {int(bad[0])} out of range [0, {self.num_frames})"
            )
        out = np.empty((len(idx), *self.frame_size, 3), dtype=np.uint8)  # (N, H, W, 3)
        for i, k in enumerate(idx):
            self._decode_into(
                out[i], self._pread(int(self._offsets[k]), int(self._offsets[k + 1])), int(k)
            )
        return out
