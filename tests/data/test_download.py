"""Stage download with the SoccerNet downloader replaced by a local fake (no network)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import SoccerNet.Downloader

from comedian.data.download import DownloadError
from comedian.data.games import soccernet_games
from comedian.stages import download


class FakeDownloader:
    """Writes ``<LocalDirectory>/<game>/<file>`` holding the game and file names.

    ``fail_after``: raise (an interrupted download) once that many files were written.
    ``deliver``: False to return without the file, as the real one does on an HTTP error.
    """

    calls: list[tuple[str, str, str, str, str | None]] = []
    fail_after: int | None = None
    deliver = True

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
                (self.local / game / file).write_text(f"{game}/{file}")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeDownloader]:
    FakeDownloader.calls = []
    FakeDownloader.fail_after = None
    FakeDownloader.deliver = True
    monkeypatch.setattr(SoccerNet.Downloader, "SoccerNetDownloader", FakeDownloader)
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
