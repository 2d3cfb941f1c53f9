"""The match viewer page of ``comedian spot``, driven in Debian's headless Chromium (Playwright).

The browser is ``/usr/bin/chromium`` (``make browser`` installs Debian's package as root), or the
one named by ``COMEDIAN_CHROMIUM``; without one these tests fail rather than skip.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch

from comedian.cli import main
from comedian.data.soccernet import CLASS_INDEX, CLASSES
from comedian.models import build_model
from comedian.synth.generate import write_half
from comedian.training import export_model
from comedian.viewer import (
    LEAD_S,
    embed_json,
    opening_threshold,
    video_url,
    viewer_html,
    write_game_viewer,
    write_viewer,
)
from tiny_spotting import SPOT_KWARGS

CHROMIUM = os.environ.get("COMEDIAN_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HALF_S = 20.0
SVG_NS = "http://www.w3.org/2000/svg"
NOTHING = {"half": [], "label": [], "position_ms": [], "confidence": []}


def _webm(src: Path, dst: Path) -> None:
    """VP8 WebM: a codec and container every Chromium build decodes."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(src)]
    cmd += ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"]
    subprocess.run([*cmd, "-an", str(dst)], check=True)


@pytest.fixture(scope="module")
def spotted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("viewer")
    game = root / "my match"  # a space: the page must percent-encode the link
    game.mkdir()
    out: dict[str, Path] = {}
    for half in (1, 2):
        out[f"mkv{half}"] = root / f"{half}_224p.mkv"  # H.264 in Matroska, as SoccerNet's
        write_half(out[f"mkv{half}"], HALF_S, seed=half, half=half)
        out[f"h{half}"] = game / f"{half}_224p.webm"
        _webm(out[f"mkv{half}"], out[f"h{half}"])
    torch.manual_seed(0)
    model = build_model("vivit_tiny", **SPOT_KWARGS)
    weights = root / "model.pt"
    export_model(weights, model, arch="vivit_tiny", model_kwargs=SPOT_KWARGS, config={})
    out["out"] = root / "spotted"
    argv = ["spot", "--video", str(out["h1"]), str(out["h2"]), "--weights", str(weights)]
    assert main([*argv, "--out", str(out["out"]), "--num-workers", "0"]) == 0
    out["bad"] = game / "broken.mp4"
    out["bad"].write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video" * 50)
    return out


def _events(spotted: dict[str, Path]) -> list[dict[str, str]]:
    with open(spotted["out"] / "events.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM}: no Chromium; run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


class Page:
    """A page of the viewer with its console errors and uncaught exceptions collected."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.set_default_timeout(120_000)  # a loaded machine; failures still end the test
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.resolve().as_uri())

    def rows(self) -> list[list[str]]:
        return self.page.eval_on_selector_all(
            "#event-rows tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
        )

    def wait_playable(self, half: int) -> None:
        self.page.wait_for_function(f"document.getElementById('video-{half}').readyState >= 1")


@pytest.fixture
def page(browser, spotted: dict[str, Path]) -> Iterator[Page]:
    p = Page(browser, spotted["out"] / "viewer.html")
    yield p
    p.page.close()


def test_page_loads_plays_and_shows_every_event(page: Page, spotted: dict[str, Path]) -> None:
    events = _events(spotted)
    assert len(events) > 20
    for half in (1, 2):
        page.wait_playable(half)
        duration = page.page.evaluate(f"document.getElementById('video-{half}').duration")
        assert duration == pytest.approx(HALF_S, abs=0.1)
        assert page.page.is_hidden(f"#video-error-{half}")
    assert page.errors == []
    rows = page.rows()
    assert len(rows) == len(events)
    assert page.page.locator("svg .event").count() == len(events)
    assert page.page.text_content("#count").startswith(f"{len(events)} of {len(events)} events")
    # the same events: (half, class, confidence) as a multiset
    shown = sorted((int(r[0]), r[2], r[3]) for r in rows)
    assert shown == sorted(
        (int(e["half"]), e["label"], f"{float(e['confidence']):.3f}") for e in events
    )
    assert {int(e["half"]) for e in events} == {1, 2}


@pytest.mark.parametrize("target", ["row", "dot"])
def test_click_seeks_the_video_before_the_event(
    page: Page, spotted: dict[str, Path], target: str
) -> None:
    events = _events(spotted)
    # the most confident event of half 2 at least LEAD_S into the half (the seek is not clamped)
    half2 = [(i, e) for i, e in enumerate(events) if e["half"] == "2" and float(e["time"]) > LEAD_S]
    index, event = max(half2, key=lambda ie: float(ie[1]["confidence"]))
    page.wait_playable(2)
    assert page.page.is_visible("#video-1") and page.page.is_hidden("#video-2")
    if target == "row":
        page.page.click(f'#event-rows tr[data-index="{index}"]')
    else:
        page.page.click(f'#timeline-2 circle[data-index="{index}"]')
    expected = float(event["time"]) - LEAD_S
    page.page.wait_for_function(
        f"Math.abs(document.getElementById('video-2').currentTime - {expected}) < 0.01"
    )
    assert page.page.is_visible("#video-2") and page.page.is_hidden("#video-1")
    assert page.errors == []


def test_threshold_and_class_filters_hide_events(page: Page, spotted: dict[str, Path]) -> None:
    events = _events(spotted)
    confidences = sorted(float(e["confidence"]) for e in events)
    threshold = round(confidences[len(confidences) // 2], 2)
    kept = [e for e in events if float(e["confidence"]) >= threshold]
    assert 0 < len(kept) < len(events)
    page.page.fill("#threshold", str(threshold))
    rows = page.rows()
    assert len(rows) == len(kept)
    assert min(float(r[3]) for r in rows) >= threshold - 5e-4  # shown with 3 decimals
    assert page.page.locator("svg .event").count() == len(kept)
    label = kept[0]["label"]
    page.page.uncheck(f'#classes input[data-class="{CLASS_INDEX[label]}"]')
    rows = page.rows()
    assert len(rows) == sum(e["label"] != label for e in kept)
    assert label not in {r[2] for r in rows}
    assert page.errors == []


def test_undecodable_video_keeps_the_events_and_says_why(browser, spotted: dict[str, Path]):
    events = _events(spotted)
    preds = {
        "half": np.array([int(e["half"]) for e in events]),
        "label": np.array([CLASS_INDEX[e["label"]] for e in events]),
        "position_ms": np.array([round(float(e["time"]) * 1000) for e in events]),
        "confidence": np.array([float(e["confidence"]) for e in events]),
    }
    path = spotted["out"].parent / "broken" / "viewer.html"
    path.parent.mkdir()
    write_viewer(path, preds, {1: spotted["bad"], 2: None}, title="broken")
    p = Page(browser, path)
    p.page.wait_for_selector("#video-error-1", state="visible")
    text = p.page.text_content("#video-error-1")
    assert "does not play" in text and "cannot play this file" in text and "broken.mp4" in text
    assert "no video file" in p.page.text_content("#video-error-2")
    assert len(p.rows()) == len(events)
    assert p.page.locator("svg .event").count() == len(events)
    p.page.close()


def test_title_cannot_close_the_data_element(browser, tmp_path: Path) -> None:
    title = "</script><script>window.injected = 1</script><!-- & \u2028"
    path = tmp_path / "viewer.html"
    write_viewer(path, NOTHING, {1: None}, title=title)
    text = path.read_text(encoding="utf-8")
    assert text.count("</script>") == 2  # the data element's and the script's own
    p = Page(browser, path)
    assert p.page.text_content("#title") == title
    assert p.page.evaluate("window.injected") is None
    assert p.errors == []
    p.page.close()


def test_embedded_json_round_trips() -> None:
    data = {"a": "</script> <!-- & \u2028 \u2029 é", "b": [1, 2.5]}
    text = embed_json(data)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == data


def test_video_links_are_relative_and_encoded(tmp_path: Path) -> None:
    assert video_url(tmp_path / "a b" / "1#.mkv", tmp_path / "out" / "x") == "../../a%20b/1%23.mkv"
    assert video_url(tmp_path / "v.webm", tmp_path) == "v.webm"


def test_page_data_of_spot(spotted: dict[str, Path]) -> None:
    html = (spotted["out"] / "viewer.html").read_text(encoding="utf-8")
    start = html.index('id="viewer-data">') + len('id="viewer-data">')
    data = json.loads(html[start : html.index("</script>", start)])
    assert data["videos"] == {"1": "../my%20match/1_224p.webm", "2": "../my%20match/2_224p.webm"}
    assert data["lead_s"] == LEAD_S
    assert data["classes"] == list(CLASSES)
    assert data["durations"] == {"1": HALF_S, "2": HALF_S}
    assert len(data["events"]) == len(_events(spotted))
    assert set(re.findall(r"https?://[^\s\"']+", html)) == {SVG_NS}  # nothing to fetch


def test_page_without_events_or_videos() -> None:
    html = viewer_html(NOTHING, {}, title="empty")
    assert '"halves":[1]' in html and '"events":[]' in html


def test_report_page_of_a_game_draws_the_truth(browser, spotted: dict[str, Path]) -> None:
    """The report's page: results file + labels, the H.264 Matroska videos of the dataset."""
    truth = [("1 - 00:05", "Goal"), ("1 - 00:12", "Foul"), ("2 - 00:03", "Corner")]
    annotations = [
        {"gameTime": t, "label": c, "position": str(1000 * int(t[-2:])), "visibility": "visible"}
        for t, c in truth
    ]
    labels = {"annotations": [{**a, "team": "home"} for a in annotations]}
    folder = spotted["out"].parent / "report" / "timeline"
    folder.mkdir(parents=True)
    (folder / "labels.json").write_text(json.dumps(labels), encoding="utf-8")
    page_path = folder / "game.html"
    videos = {1: spotted["mkv1"], 2: spotted["mkv2"]}
    results = spotted["out"] / "results_spotting.json"
    write_game_viewer(page_path, results, folder / "labels.json", videos, title="game")
    p = Page(browser, page_path)
    p.wait_playable(1)
    assert p.page.is_hidden("#video-error-1")
    assert p.page.locator("#timeline-1 line.truth").count() == 2
    assert p.page.locator("#timeline-2 line.truth").count() == 1
    assert len(p.rows()) == len(_events(spotted))
    assert p.page.is_visible("#truth-note")
    assert p.errors == []
    p.page.close()


def test_opening_threshold_keeps_the_page_light() -> None:
    conf = np.arange(1, 10001) / 10000  # 0.0001 .. 1
    threshold = opening_threshold(conf, 3000)
    assert threshold == 0.71  # 0.70 keeps 3,001
    assert (conf >= threshold).sum() <= 3000 < (conf >= threshold - 0.01).sum()
    assert opening_threshold(conf[:3000], 3000) == 0.0
    html = viewer_html(
        {
            **NOTHING,
            "confidence": conf,
            "half": np.ones(10000, int),
            "label": np.zeros(10000, int),
            "position_ms": np.arange(10000),
        },
        {},
        title="t",
    )
    assert '"threshold":0.71' in html
