"""The match viewer: one self-contained HTML page of a game's predicted events and its video.

Usage:
    write_viewer(out / "viewer.html", predictions, {1: half1_video, 2: half2_video},
                 title="my match", durations_s={1: 2700.0, 2: 2760.0})

The page (template ``viewer.html`` beside this module; script and style inline, no network, no
server) plays the video of each half, linked by a path relative to the page's folder, draws the
events on a timeline per class with their confidence, filters them by class and confidence
threshold, and seeks the video to :data:`LEAD_S` seconds before an event when it is clicked. A
video the browser cannot play (missing file, codec or container it lacks) leaves the timeline and
the event list working, and the page says why, from the media element's ``error`` event.

The events travel as JSON inside a ``<script type="application/json">`` element, with ``<``,
``>`` and ``&`` escaped as ``\\u003c`` ... so no file name or title can close the element.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import numpy as np

from comedian.atomic import atomic_path
from comedian.data.soccernet import CLASSES

#: Seconds of play shown before an event when the user clicks it.
LEAD_S = 3.0
#: The page opens with the lowest confidence threshold (a multiple of 0.01) that shows at most
#: this many events: soft NMS keeps tens of thousands of faint predictions a match.
OPEN_EVENTS = 3000
VIEWER_NAME = "viewer.html"
_PLACEHOLDER = "/*VIEWER_DATA*/"


def video_url(video: str | os.PathLike[str], page_dir: str | os.PathLike[str]) -> str:
    """The URL of ``video`` relative to the page's folder (percent-encoded; forward slashes).

    An absolute ``file://`` URL where no relative path exists (another drive).

    >>> video_url("/data/my match/1_224p.mkv", "/out/spotted")
    '../../data/my%20match/1_224p.mkv'
    """
    video_abs = Path(os.path.abspath(video))
    try:
        rel = os.path.relpath(video_abs, os.path.abspath(page_dir))
    except ValueError:
        return video_abs.as_uri()
    return quote(Path(rel).as_posix(), safe="/")


def embed_json(data: object) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``</script>``, ``<!--`` or ``&``
    sequences and no line separators that old parsers split on."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def opening_threshold(confidence: np.ndarray, max_events: int = OPEN_EVENTS) -> float:
    """The lowest multiple of 0.01 that keeps at most ``max_events`` of ``confidence``.

    >>> opening_threshold(np.array([0.2, 0.5, 0.9]), 2), opening_threshold(np.array([0.2]), 2)
    (0.21, 0.0)
    """
    conf = np.sort(np.asarray(confidence, dtype=np.float64))[::-1]
    if len(conf) <= max_events:
        return 0.0
    # just above the first event left out; ties with it go too
    return float(np.floor(conf[max_events] * 100 + 1) / 100)


def _arrays(rows: Mapping[str, np.ndarray] | None, *, confidence: bool) -> list[list]:
    if rows is None:
        return []
    cols = [np.asarray(rows["half"]).tolist(), np.asarray(rows["position_ms"]).tolist()]
    cols.append(np.asarray(rows["label"]).tolist())
    if confidence:
        cols.append([float(c) for c in np.asarray(rows["confidence"], dtype=np.float64)])
    return [[int(h), int(p), int(c), *rest] for h, p, c, *rest in zip(*cols, strict=True)]


def viewer_html(
    predictions: Mapping[str, np.ndarray],
    videos: Mapping[int, str | None],
    *,
    title: str,
    durations_s: Mapping[int, float] | None = None,
    truth: Mapping[str, np.ndarray] | None = None,
    threshold: float | None = None,
) -> str:
    """The page's text.

    Args:
        predictions: Result arrays (``half``, ``label``, ``position_ms``, ``confidence``).
        videos: Half (1, 2) -> video URL relative to the page (see :func:`video_url`), or None
            for a half without a video; the page has one player a half of this mapping.
        title: Shown as the page's heading.
        durations_s: Half -> its length in seconds (the timeline's span until the video's own
            duration is known); by default the last event.
        truth: Ground-truth arrays of the same layout (without confidence), drawn as bars.
        threshold: The confidence threshold the page opens with (default: see
            :func:`opening_threshold`).
    """
    events = _arrays(predictions, confidence=True)
    truth_rows = _arrays(truth, confidence=False)
    halves = sorted(set(videos) | {e[0] for e in events} | {t[0] for t in truth_rows}) or [1]
    spans = {h: 0.0 for h in halves}
    for half, ms, *_ in events + truth_rows:
        spans[half] = max(spans[half], ms / 1000)
    for half, seconds in (durations_s or {}).items():
        spans[half] = max(spans.get(half, 0.0), float(seconds))
    data = {
        "title": title,
        "lead_s": LEAD_S,
        "threshold": (
            opening_threshold(predictions["confidence"]) if threshold is None else threshold
        ),
        "classes": list(CLASSES),
        "halves": halves,
        "videos": {str(h): videos.get(h) for h in halves},
        "durations": {str(h): spans[h] for h in halves},
        "events": events,
        "truth": truth_rows,
    }
    template = resources.files("comedian").joinpath(VIEWER_NAME).read_text(encoding="utf-8")
    if template.count(_PLACEHOLDER) != 1:
        raise RuntimeError(f"{VIEWER_NAME}: the template must hold {_PLACEHOLDER} once")
    return template.replace(_PLACEHOLDER, embed_json(data))


def write_viewer(
    path: str | os.PathLike[str],
    predictions: Mapping[str, np.ndarray],
    videos: Mapping[int, str | os.PathLike[str] | None],
    *,
    title: str,
    page_dir: str | os.PathLike[str] | None = None,
    durations_s: Mapping[int, float] | None = None,
    truth: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write the viewer page of one game atomically.

    Args:
        path: The HTML file to write.
        predictions: Result arrays (see :func:`viewer_html`).
        videos: Half -> video file (or None); linked relative to ``page_dir``.
        title: The page's heading.
        page_dir: The folder the page will be opened from (default: ``path``'s folder; give the
            final folder when ``path`` is inside a temporary folder renamed afterwards).
        durations_s: Half -> its length in seconds.
        truth: Ground-truth arrays drawn as bars.
    """
    page_dir = Path(path).parent if page_dir is None else Path(page_dir)
    urls = {h: None if v is None else video_url(v, page_dir) for h, v in videos.items()}
    text = viewer_html(predictions, urls, title=title, durations_s=durations_s, truth=truth)
    with atomic_path(Path(path)) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_game_viewer(
    path: str | os.PathLike[str],
    results_file: str | os.PathLike[str],
    labels_file: str | os.PathLike[str] | None,
    videos: Mapping[int, str | os.PathLike[str] | None],
    *,
    title: str,
) -> None:
    """:func:`write_viewer` of one game's ``results_spotting.json``, its ground truth (the
    labels file, or None) drawn beside the predictions (the report's timeline games)."""
    from comedian.data.labels import read_labels
    from comedian.plots import truth_arrays
    from comedian.spotting.results import read_results

    truth = None if labels_file is None else truth_arrays(read_labels(labels_file))
    write_viewer(path, read_results(results_file), videos, title=title, truth=truth)
