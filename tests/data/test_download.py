"""Stage download with the SoccerNet downloader replaced by a local fake (no network), and
the source probe against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import csv
import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest
import SoccerNet.Downloader

from comedian.data.download import DownloadError, Expected, soccernet_probe
from comedian.data.games import soccernet_games
from comedian.stages import download

REAL_DOWNLOADER = SoccerNet.Downloader.SoccerNetDownloader


def content(game: str, file: str) -> bytes:
    """What the fake source holds for a file."""
    return f"{game}/{file}".encode()


class FakeDownloader:
    """Writes ``<LocalDirectory>/<game>/<file>`` holding the game and file names.

    ``fail_after``: raise (an interrupted download) once that many files were written.
    ``deliver``: False to return without the file, as the real one does on an HTTP error.
    """

    calls: list[tuple[str, str, str, str, str | None]] = []
    fail_after: int | None = None
    deliver = True
    short = False  # deliver half of each file (a transfer cut short)
    _HF_VIDEO_BRANCH_BY_FILE = REAL_DOWNLOADER._HF_VIDEO_BRANCH_BY_FILE
    _HF_LABEL_FILES = REAL_DOWNLOADER._HF_LABEL_FILES

    def __init__(self, LocalDirectory: str, **kwargs: object) -> None:  # noqa: N803
        self.local = Path(LocalDirectory)
        self.password: str | None = None

    def downloadGame(self, game: str, files: list[str], spl: str, source: str) -> None:  # noqa: N802
        for file in files:
            if (self.local / game / file).exists():
                continue  # as SoccerNet's downloadFile: "already exists"
            if (
                FakeDownloader.fail_after is not None
                and len(FakeDownloader.calls) >= FakeDownloader.fail_after
            ):
                # A partial file left in the staging folder, as a killed transfer leaves it.
                (self.local / game).mkdir(parents=True, exist_ok=True)
                (self.local / game / file).write_text("partial")
                raise ConnectionError("connection reset")
            FakeDownloader.calls.append((spl, game, file, source, self.password))
            if FakeDownloader.deliver:
                (self.local / game).mkdir(parents=True, exist_ok=True)
                data = content(game, file)
                (self.local / game / file).write_bytes(
                    data[: len(data) // 2 or 1] if FakeDownloader.short else data
                )


class FakeProbe:
    """The fake source's sizes (and checksums, with ``sha256``); counts its calls."""

    sha256 = False
    calls = 0

    def __call__(self, split: str, game: str, file: str) -> Expected:
        FakeProbe.calls += 1
        data = content(game, file)
        digest = hashlib.sha256(data).hexdigest() if FakeProbe.sha256 else None
        return Expected(len(data), digest)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeDownloader]:
    FakeDownloader.calls = []
    FakeDownloader.fail_after = None
    FakeDownloader.deliver = True
    FakeDownloader.short = False
    FakeProbe.sha256, FakeProbe.calls = False, 0
    monkeypatch.setattr(SoccerNet.Downloader, "SoccerNetDownloader", FakeDownloader)
    monkeypatch.setattr(download, "soccernet_probe", lambda **kw: FakeProbe())
    return FakeDownloader


def read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_downloads_every_file_of_the_split_then_skips_them(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("SOCCERNET_PASSWORD", "s3cret-nda")
    root, manifest = tmp_path / "SoccerNet", tmp_path / "results/download/test.tsv"
    cfg = download.Config(splits=("test",), source="exrcsdrive")
    download.run(cfg, paths=download.Paths(root=root, manifest=manifest))
    games = soccernet_games(["test"])["path"].tolist()
    assert len(games) == 100
    assert len(fake.calls) == 300  # 2 videos + labels per game
    assert {c[3] for c in fake.calls} == {"EXRCSDrive"}
    assert {c[4] for c in fake.calls} == {"s3cret-nda"}  # the password reached the downloader
    rows = read_manifest(manifest)
    assert len(rows) == 300
    first = root / games[0] / "1_224p.mkv"
    assert first.read_text() == f"{games[0]}/1_224p.mkv"
    assert rows[0] == {"game": games[0], "file": "1_224p.mkv", "bytes": str(first.stat().st_size)}
    # ... and the password is in no file the stage wrote.
    for path in [manifest, manifest.with_suffix(".resolved.yaml")]:
        assert "s3cret-nda" not in path.read_text()
    fake.calls.clear()
    download.run(cfg, paths=download.Paths(root=root, manifest=manifest))
    assert fake.calls == []  # complete files are skipped


def test_an_interrupted_download_resumes_without_partial_files(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("SOCCERNET_PASSWORD", "pw")
    root, manifest = tmp_path / "SoccerNet", tmp_path / "m.tsv"
    cfg = download.Config(splits=("challenge",), source="exrcsdrive")
    fake.fail_after = 7
    with pytest.raises(ConnectionError):
        download.run(cfg, paths=download.Paths(root=root, manifest=manifest))
    assert not manifest.exists()
    in_place = sorted(p for p in root.rglob("*.mkv") if ".download" not in p.parts)
    assert len(in_place) == 7
    assert all(p.read_text() != "partial" for p in in_place)
    fake.fail_after = None
    fake.calls.clear()
    download.run(cfg, paths=download.Paths(root=root, manifest=manifest))
    # 50 challenge games x 2 videos (no labels); 7 were complete before.
    assert len(fake.calls) == 100 - 7
    assert {c[2] for c in fake.calls} == {"1_224p.mkv", "2_224p.mkv"}
    assert len(read_manifest(manifest)) == 100
    assert not any(
        p.read_text() == "partial" for p in root.rglob("*.mkv") if ".download" not in p.parts
    )


def test_huggingface_is_the_default_source(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("SOCCERNET_PASSWORD", raising=False)
    root, manifest = tmp_path / "r", tmp_path / "m.tsv"
    download.run(
        download.Config(splits=("valid",), files=("Labels-v2.json",)),
        paths=download.Paths(root=root, manifest=manifest),
    )
    assert len(fake.calls) == 100
    assert {(c[3], c[4]) for c in fake.calls} == {("HuggingFace", None)}


def test_a_file_the_downloader_did_not_deliver_is_named(fake, tmp_path):
    fake.deliver = False
    with pytest.raises(DownloadError, match="1_224p.mkv"):
        download.run(
            download.Config(splits=("valid",)),
            paths=download.Paths(root=tmp_path / "r", manifest=tmp_path / "m.tsv"),
        )


def test_exrcsdrive_without_password_says_which_variable(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("MY_NDA", raising=False)
    cfg = download.Config(splits=("test",), source="exrcsdrive", password_env="MY_NDA")
    with pytest.raises(ValueError, match="MY_NDA"):
        download.run(cfg, paths=download.Paths(root=tmp_path / "r", manifest=tmp_path / "m.tsv"))
    assert fake.calls == []


LABELS_ONLY = download.Config(splits=("valid",), files=("Labels-v2.json",))


def _run_labels(root: Path, manifest: Path) -> None:
    download.run(LABELS_ONLY, paths=download.Paths(root=root, manifest=manifest))


def test_empty_short_or_altered_files_in_place_are_fetched_again(fake, tmp_path):
    root, manifest = tmp_path / "r", tmp_path / "m.tsv"
    games = soccernet_games(["valid"])["path"].tolist()[:3]
    for game, data in zip(games, (b"", b"x", None), strict=True):
        (root / game).mkdir(parents=True)
        right = content(game, "Labels-v2.json")
        # empty; short; the right size with other bytes (only the checksum tells)
        (root / game / "Labels-v2.json").write_bytes(b"y" * len(right) if data is None else data)
    FakeProbe.sha256 = True
    _run_labels(root, manifest)
    assert len(fake.calls) == 100  # the three broken ones too
    for game in games:
        assert (root / game / "Labels-v2.json").read_bytes() == content(game, "Labels-v2.json")
    fake.calls.clear()
    FakeProbe.calls = 0
    _run_labels(root, manifest)
    assert fake.calls == [] and FakeProbe.calls == 0  # verified once: not asked or hashed again


def test_a_complete_file_in_place_is_kept(fake, tmp_path):
    root, manifest = tmp_path / "r", tmp_path / "m.tsv"
    game = soccernet_games(["valid"])["path"].tolist()[0]
    (root / game).mkdir(parents=True)
    (root / game / "Labels-v2.json").write_bytes(content(game, "Labels-v2.json"))
    FakeProbe.sha256 = True
    _run_labels(root, manifest)
    assert len(fake.calls) == 99 and game not in {c[1] for c in fake.calls}


def test_a_short_delivery_is_refused_and_not_put_in_place(fake, tmp_path):
    root, manifest = tmp_path / "r", tmp_path / "m.tsv"
    fake.short = True
    with pytest.raises(DownloadError, match="Labels-v2.json.*incomplete.*bytes, the source has"):
        _run_labels(root, manifest)
    assert not [p for p in root.rglob("Labels-v2.json") if ".download" not in p.parts]
    assert not list((root / ".download").rglob("Labels-v2.json"))  # the rerun fetches it again
    assert not manifest.exists()


class _Source(http.server.BaseHTTPRequestHandler):
    """Hugging Face's paths-info API and the KAUST drive's HEAD, for one file each."""

    posts: list[tuple[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        _Source.posts.append((self.path, body))
        info = [{"type": "file", "path": "g/1_224p.mkv", "size": 1234, "oid": "abc",
                 "lfs": {"size": 1234, "oid": "f" * 64, "pointerSize": 130}}]  # fmt: skip
        payload = json.dumps(info).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_HEAD(self) -> None:  # noqa: N802
        _Source.posts.append((self.path, self.headers.get("Authorization", "")))
        self.send_response(200)
        self.send_header("Content-Length", "4321")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def source() -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Source)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Source.posts = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_probe_asks_the_sources_for_size_and_checksum(source):
    hf = soccernet_probe(source="huggingface", password=None, endpoint=source)
    assert hf("test", "g", "1_224p.mkv") == Expected(1234, "f" * 64)
    path, body = _Source.posts[-1]
    assert path == "/api/datasets/SoccerNet/SoccerNet_raw_HQ/paths-info/videos-224p"
    assert "g%2F1_224p.mkv" in body
    assert hf("test", "g", "Frames-v9.zip") is None  # a file the probe cannot route
    drive = soccernet_probe(source="exrcsdrive", password="pw", server=source + "/")
    assert drive("test", "a b/g", "2_224p.mkv") == Expected(4321)
    path, auth = _Source.posts[-1]
    assert path == "/video_224p/a%20b/g/2_224p.mkv" and auth.startswith("Basic ")
