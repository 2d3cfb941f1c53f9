"""H.264 encoding of raw frames by piping them to the ffmpeg binary of imageio-ffmpeg.

Usage:
    with H264Writer(path, width=398, height=224, fps=25.0) as video:
        for chunk in chunks:            # (F, 224, 398, 3) uint8 RGB
            video.write(chunk)

Frames stream through a pipe, so a 45-minute half never sits in memory. The file appears at
``path`` only when ffmpeg exits cleanly (atomic rename). ``-threads 1`` and the bitexact flags make
the output a function of the frames alone: the same frames give the same bytes.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import numpy as np

from comedian.atomic import atomic_path


class VideoEncodeError(RuntimeError):
    """ffmpeg failed or could not be started; the message names the file and ffmpeg's error."""


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by imageio-ffmpeg (it includes libx264)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_command(
    output: Path, *, width: int, height: int, fps: float, crf: int, preset: str, gop: int
) -> list[str]:
    """The ffmpeg command line reading rgb24 frames on stdin and writing H.264 in Matroska."""
    return [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostats",
        "-loglevel", "error",
        "-f", "rawvideo",
        "-pix_fmt", "rgb24",
        "-video_size", f"{width}x{height}",
        "-framerate", f"{fps:g}",
        "-i", "pipe:0",
        "-an",
        "-c:v", "libx264",
        "-preset", preset,
        "-crf", str(crf),
        # A keyframe every `gop` frames, as broadcast streams have; no extra scene-cut keyframes.
        "-g", str(gop),
        "-keyint_min", str(gop),
        "-sc_threshold", "0",
        "-pix_fmt", "yuv420p",
        # One thread and bitexact muxing: no thread-dependent decisions, no version strings or
        # random segment ids in the file.
        "-threads", "1",
        "-fflags", "+bitexact",
        "-flags:v", "+bitexact",
        "-map_metadata", "-1",
        "-f", "matroska",
        "-y", str(output),
    ]  # fmt: skip


class H264Writer:
    """Context manager encoding RGB frames to an H.264 ``.mkv`` file (see the module docstring).

    Args:
        path: Final file name; written atomically.
        width: Frame width (even).
        height: Frame height (even).
        fps: Frame rate.
        crf: x264 constant rate factor.
        preset: x264 speed preset.
        gop: Keyframe interval in frames.

    Raises:
        VideoEncodeError: If ffmpeg cannot start, stops reading, or exits with an error.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: float,
        crf: int = 23,
        preset: str = "superfast",
        gop: int = 50,
    ) -> None:
        self.path = Path(path)
        self.width, self.height = width, height
        self._settings = {"width": width, "height": height, "fps": fps}
        self._settings |= {"crf": crf, "preset": preset, "gop": gop}
        self._proc: subprocess.Popen[bytes] | None = None
        self.frames_written = 0

    def __enter__(self) -> H264Writer:
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        # stderr goes to a file: a pipe could fill up and block ffmpeg.
        self._log = tempfile.TemporaryFile()
        try:
            cmd = ffmpeg_command(tmp, **self._settings)  # type: ignore[arg-type]
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=self._log)
        except OSError as err:
            error = VideoEncodeError(f"{self.path}: cannot start ffmpeg: {err}")
            self._release(error)
            raise error from err
        return self

    def write(self, frames: np.ndarray) -> None:
        """Append frames.

        Shapes:
            frames: (F, H, W, 3) uint8 RGB.
        """
        if frames.dtype != np.uint8 or frames.shape[1:] != (self.height, self.width, 3):
            raise ValueError(
                f"{self.path}: expected (F, {self.height}, {self.width}, 3) uint8 frames, got "
                f"{frames.shape} {frames.dtype}"
            )
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError(f"{self.path}: H264Writer.write called outside its `with` block")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frames).data)
        except BrokenPipeError as err:
            status = self._proc.wait()
            raise VideoEncodeError(
                f"{self.path}: ffmpeg stopped reading frames (exit status {status}): "
                f"{self._stderr()}"
            ) from err
        self.frames_written += len(frames)

    def _stderr(self) -> str:
        self._log.seek(0)
        text = self._log.read().decode(errors="replace").strip()
        return text[-2000:] or "(no message)"

    def _release(self, error: BaseException | None) -> None:
        """Close the log; keep the file (rename it) only when ``error`` is None."""
        self._log.close()
        if error is None:
            self._atomic.__exit__(None, None, None)
        else:
            self._atomic.__exit__(type(error), error, error.__traceback__)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg already exited: its status says why
        if exc is not None:
            # The caller failed: stop ffmpeg and drop the partial file, then let `exc` propagate.
            proc.kill()
            proc.wait()
            self._release(exc)
            return
        status = proc.wait()
        error = None
        if status != 0:
            error = VideoEncodeError(
                f"{self.path}: ffmpeg exited with status {status}: {self._stderr()}"
            )
        elif self.frames_written == 0:
            error = VideoEncodeError(f"{self.path}: no frames were written")
        self._release(error)
        if error is not None:
            raise error
