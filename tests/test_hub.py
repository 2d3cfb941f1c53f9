"""Weights from the Hugging Face Hub (``comedian.hub``) against a fake Hub on 127.0.0.1.

The fake serves what ``huggingface_hub.hf_hub_download`` asks for: ``HEAD`` and ``GET`` of
``/<owner>/<repo>/resolve/<revision>/<file>`` with the ``X-Repo-Commit`` and ``ETag`` headers,
ranges (``206``), and the Hub's ``404`` error codes. ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` are
read when the library is imported, so every download runs in a subprocess with its own
environment; the checkpoint served is a tiny ViViT in the released layout (checkpoints.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from comedian.cli import main
from comedian.data.soccernet import RESULTS_NAME
from comedian.hub import RELEASED, HubError, HubFile, hub_file, released_arch
from comedian.models import build_model, to_reference_state_dict
from comedian.synth.generate import write_half
from tiny_spotting import SPOT_KWARGS

REPO_ID = "juliendenize/COMEDIAN-ViViT-tiny"
FILE = "comedian_vivit_tiny_seed42.pth"
MAIN, TAGGED = "a" * 40, "b" * 40  # the commits of `main` and of the tag `v1`


def released_bytes(seed: int) -> bytes:
    torch.manual_seed(seed)
    buf = io.BytesIO()
    torch.save(to_reference_state_dict(build_model("vivit_tiny", **SPOT_KWARGS)), buf)
    return buf.getvalue()


class FakeHub:
    """A Hub on 127.0.0.1: files by (repo, revision, name), a request log, and a switch that
    cuts the next GET of a file half-way (a dropped connection)."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str], tuple[str, bytes]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.cut_next_get = False
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _lookup(self):
                hub.requests.append((self.command, self.path, self.headers.get("Range")))
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._error(404, "RepoNotFound", None)
                repo, rev, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                revs = {r for (p, r, _) in hub.files if p == repo}
                if not revs:
                    return self._error(404, "RepoNotFound", None)
                if rev not in revs:
                    return self._error(404, "RevisionNotFound", None)
                if (repo, rev, name) not in hub.files:
                    return self._error(404, "EntryNotFound", hub.files[repo, rev, FILE][0])
                return hub.files[repo, rev, name]

            def _error(self, status: int, code: str, commit: str | None) -> None:
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", code)
                if commit:
                    self.send_header("X-Repo-Commit", commit)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _headers(self, commit: str, data: bytes, status: int, length: int) -> None:
                self.send_response(status)
                self.send_header("X-Repo-Commit", commit)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(length))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
                found = self._lookup()
                if found:
                    self._headers(found[0], found[1], 200, len(found[1]))

            def do_GET(self) -> None:  # noqa: N802
                found = self._lookup()
                if not found:
                    return
                commit, data = found
                start = 0
                if rng := self.headers.get("Range"):
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                body = data[start:]
                self._headers(commit, data, 206 if start else 200, len(body))
                if hub.cut_next_get:
                    hub.cut_next_get = False
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def gets(self) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[0] == "GET"]


@pytest.fixture(scope="module")
def fake_hub():
    hub = FakeHub()
    hub.files[REPO_ID, "main", FILE] = (MAIN, released_bytes(0))
    hub.files[REPO_ID, MAIN, FILE] = (MAIN, released_bytes(0))
    hub.files[REPO_ID, "v1", FILE] = (TAGGED, released_bytes(1))
    hub.thread.start()
    yield hub
    hub.server.shutdown()
    hub.server.server_close()


def hub_env(tmp_path: Path, endpoint: str, **extra: str) -> dict[str, str]:
    """The environment of a subprocess: its own cache under tmp_path, this endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(
        HF_HOME=str(tmp_path / "hf home"),
        HF_ENDPOINT=endpoint,
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DOWNLOAD_TIMEOUT="10",
        HF_HUB_ETAG_TIMEOUT="5",
        NO_PROXY="127.0.0.1",
        **extra,
    )
    return env


# Chunks of 4 kB instead of 10 MB: a transfer cut half-way through this small file has then
# written some chunks, which the library resumes from with a range request.
FETCH = """
import hashlib, json, sys
import huggingface_hub.constants
huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE = 4096
from comedian.hub import weights_file
from comedian.errors import one_line
out = []
for ref in sys.argv[1:]:
    try:
        path = weights_file(ref)
        out.append({"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "path": str(path)})
    except Exception as err:
        out.append({"error": one_line(err), "type": type(err).__name__})
print(json.dumps(out))
"""


def fetch(env: dict[str, str], *refs: str) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-c", FETCH, *refs], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_references_name_hub_files_and_local_paths(tmp_path: Path, monkeypatch) -> None:
    assert hub_file(f"hf://{REPO_ID}/{FILE}") == HubFile(REPO_ID, FILE)
    assert hub_file(Path(f"hf://{REPO_ID}/{FILE}")) == HubFile(REPO_ID, FILE)  # hf:/ (pathlib)
    assert hub_file(f"hf://{REPO_ID}@v1.0/sub/dir/{FILE}") == HubFile(
        REPO_ID, f"sub/dir/{FILE}", "v1.0"
    )
    assert hub_file(f"hf://{REPO_ID}@refs%2Fpr%2F3/{FILE}") == HubFile(REPO_ID, FILE, "refs/pr/3")
    assert str(HubFile(REPO_ID, FILE, "v1.0")) == f"hf://{REPO_ID}@v1.0/{FILE}"
    assert hub_file("comedian-vivit-tiny-seed203") == HubFile(
        REPO_ID, "comedian_vivit_tiny_seed203.pth"
    )
    assert sorted(RELEASED) == [f"comedian-vivit-tiny-seed{s}" for s in (203, 42, 666)]
    assert released_arch("comedian-vivit-tiny-seed666") == "vivit_tiny"
    assert released_arch(f"hf://{REPO_ID}/{FILE}") == "vivit_tiny"
    assert released_arch("hf://someone/else/model.pth") is None
    assert hub_file("results/finetune/vivit/model.pt") is None
    # a local file of a short name's name is that file
    monkeypatch.chdir(tmp_path)
    (tmp_path / "comedian-vivit-tiny-seed42").write_bytes(b"x")
    assert hub_file("comedian-vivit-tiny-seed42") is None
    for bad in ("hf://only-owner", f"hf://{REPO_ID}", f"hf://{REPO_ID}@/{FILE}"):
        with pytest.raises(HubError, match="hf://<owner>/<repo>"):
            hub_file(bad)


def test_download_resumes_pins_revisions_and_reuses_the_cache(tmp_path: Path, fake_hub) -> None:
    env = hub_env(tmp_path, fake_hub.endpoint)
    fake_hub.requests.clear()
    fake_hub.cut_next_get = True  # the first transfer drops half-way: it resumes with a range
    main_sha, tagged_sha = sha(fake_hub.files[REPO_ID, "main", FILE][1]), None
    tagged_sha = sha(fake_hub.files[REPO_ID, "v1", FILE][1])
    got = fetch(env, "comedian-vivit-tiny-seed42", f"hf://{REPO_ID}@v1/{FILE}")
    assert [g.get("sha256") for g in got] == [main_sha, tagged_sha], got
    gets = fake_hub.gets()
    size = len(fake_hub.files[REPO_ID, "main", FILE][1])
    assert gets[0][2] is None and gets[1][2] is not None, gets
    resumed_at = int(gets[1][2].removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= size // 2 and resumed_at % 4096 == 0, gets  # whole chunks kept
    cache = Path(env["HF_HOME"]) / "hub" / "models--juliendenize--COMEDIAN-ViViT-tiny"
    assert Path(got[0]["path"]).is_relative_to(cache)
    assert (cache / "refs" / "main").read_text() == MAIN
    assert (cache / "snapshots" / TAGGED / FILE).exists()
    # cached: no new transfer; offline: no request at all
    fake_hub.requests.clear()
    assert fetch(env, f"hf://{REPO_ID}/{FILE}")[0]["sha256"] == main_sha
    assert fake_hub.gets() == []
    fake_hub.requests.clear()
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    assert fetch(offline, f"hf://{REPO_ID}/{FILE}", f"hf://{REPO_ID}@v1/{FILE}") == [
        {"sha256": main_sha, "path": got[0]["path"]},
        {"sha256": tagged_sha, "path": got[1]["path"]},
    ]
    assert fake_hub.requests == []
    # what the Hub does not have: one line naming the file
    missing = fetch(
        env,
        f"hf://{REPO_ID}/nothing.pth",
        f"hf://{REPO_ID}@v9/{FILE}",
        "hf://nobody/nothing/model.pth",
    )
    assert [m["type"] for m in missing] == ["HubError"] * 3, missing
    assert missing[0]["error"].startswith(f"hf://{REPO_ID}/nothing.pth: no such file")
    assert missing[1]["error"].startswith(f"hf://{REPO_ID}@v9/{FILE}: no revision 'v9'")
    assert missing[2]["error"].startswith("hf://nobody/nothing/model.pth: no such model")


@pytest.fixture(scope="module")
def half(tmp_path_factory: pytest.TempPathFactory) -> Path:
    video = tmp_path_factory.mktemp("hub match") / "1.mkv"
    write_half(video, 20.0, seed=0, half=1)
    return video


def spot(env: dict[str, str], video: Path, weights: str, out: Path) -> subprocess.CompletedProcess:
    argv = ["spot", "--video", str(video), "--weights", weights, "--out", str(out)]
    return subprocess.run(
        [sys.executable, "-m", "comedian", *argv, "--num-workers", "0", "--device", "cpu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_spot_reads_weights_from_the_hub(tmp_path: Path, fake_hub, half: Path) -> None:
    env = hub_env(tmp_path, fake_hub.endpoint)
    proc = spot(env, half, f"hf://{REPO_ID}/{FILE}", tmp_path / "hub")  # arch from RELEASED
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the same file given locally gives the same predictions
    local = tmp_path / FILE
    local.write_bytes(fake_hub.files[REPO_ID, "main", FILE][1])
    argv = ["spot", "--video", str(half), "--weights", str(local), "--arch", "vivit_tiny"]
    assert main([*argv, "--out", str(tmp_path / "local"), "--num-workers", "0"]) == 0
    hub_doc = json.loads((tmp_path / "hub" / RESULTS_NAME).read_text())
    local_doc = json.loads((tmp_path / "local" / RESULTS_NAME).read_text())
    assert hub_doc["predictions"] and hub_doc["predictions"] == local_doc["predictions"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_spot_offline_with_an_empty_cache_fails_in_one_line(tmp_path: Path, half: Path) -> None:
    env = hub_env(tmp_path, "http://127.0.0.1:9", HF_HUB_OFFLINE="1")
    proc = spot(env, half, "comedian-vivit-tiny-seed666", tmp_path / "o")
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    uri = f"hf://{REPO_ID}/comedian_vivit_tiny_seed666.pth"
    assert lines[-1].startswith(f"comedian spot: {uri}: not in the Hugging Face cache"), lines
    assert f"/{REPO_ID}/resolve/main/comedian_vivit_tiny_seed666.pth" in lines[-1]
    assert not (tmp_path / "o").exists()


def test_an_unreachable_hub_is_one_line_naming_the_file(tmp_path: Path) -> None:
    # (the library retries a refused connection with back-off for about 25 s first)
    env = hub_env(tmp_path, f"http://127.0.0.1:{closed_port()}")
    (got,) = fetch(env, f"hf://{REPO_ID}@v1/{FILE}")
    assert got["type"] == "HubError", got
    assert got["error"].startswith(f"hf://{REPO_ID}@v1/{FILE}: not in the Hugging Face cache")
    assert f"/{REPO_ID}/resolve/v1/{FILE} and pass the local file" in got["error"]
