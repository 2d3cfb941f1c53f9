"""Model weights on the Hugging Face Hub: ``hf://`` references and the released checkpoints.

Usage:
    local = weights_file("hf://juliendenize/COMEDIAN-ViViT-tiny/comedian_vivit_tiny_seed42.pth")
    local = weights_file("comedian-vivit-tiny-seed42")       # a short name of RELEASED
    local = weights_file("results/finetune/vivit/model.pt")  # a local file: returned as it is

Wherever the pipeline takes a weights file (``spot --weights``, ``predict --model``,
``runs.<run>.weights``, ``runs.<run>.init``, ``teacher_init``, ``import-weights --src``), it
also takes

* ``hf://<owner>/<repo>[@<revision>]/<file>``, the Hub's own URI form (a branch, tag or commit
  after ``@`` pins the revision; ``main`` otherwise), or
* a short name of :data:`RELEASED`, the published COMEDIAN checkpoints.

The file is fetched with ``huggingface_hub.hf_hub_download`` into the library's cache
(``HF_HOME``, ``HF_HUB_CACHE``): an interrupted download resumes, a cached file is used without
a transfer, ``HF_HUB_OFFLINE=1`` reads the cache only, and ``HF_ENDPOINT`` / ``HF_TOKEN`` work
as everywhere in that library. The cached file is then read like any local weights file
(``torch.load(..., weights_only=True)``). Without network and without a cached copy the error
is one line naming the file and how to fetch it by hand.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from comedian.errors import InputError

#: Hub URI scheme. ``pathlib`` folds ``hf://a`` into ``hf:/a``, so both are read.
SCHEME = "hf://"
_HUB_REF = re.compile(r"^hf:/+(?P<owner>[^/@]+)/(?P<name>[^/@]+)(?:@(?P<rev>[^/]+))?/(?P<file>.+)$")

#: The published COMEDIAN checkpoints (ViViT-Tiny fine-tuned on SoccerNet-v2, method.md §9; plain
#: reference state dicts, checkpoints.md): short name -> (Hub URI, architecture).
RELEASED: dict[str, tuple[str, str]] = {
    f"comedian-vivit-tiny-seed{seed}": (
        f"hf://juliendenize/COMEDIAN-ViViT-tiny/comedian_vivit_tiny_seed{seed}.pth",
        "vivit_tiny",
    )
    for seed in (42, 203, 666)
}


class HubError(InputError):
    """A Hub file that cannot be had (offline, not found); the message names it."""


@dataclass(frozen=True)
class HubFile:
    """One file of a Hub model repository, at a revision (None: the default branch)."""

    repo_id: str
    filename: str
    revision: str | None = None

    def __str__(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{SCHEME}{self.repo_id}{rev}/{self.filename}"

    @property
    def url(self) -> str:
        """The file's download address on the configured endpoint (``HF_ENDPOINT``)."""
        from huggingface_hub import hf_hub_url

        return hf_hub_url(self.repo_id, self.filename, revision=self.revision)


def hub_file(ref: str | os.PathLike[str]) -> HubFile | None:
    """The Hub file a weights reference names, or None for a local path.

    A short name of :data:`RELEASED` is a Hub file unless a local file of that name exists.

    Raises:
        HubError: A reference that starts with ``hf:`` but is not ``hf://owner/repo/file``.
    """
    text = os.fspath(ref)
    if text in RELEASED and not Path(text).exists():
        text = RELEASED[text][0]
    if not text.startswith("hf:"):
        return None
    m = _HUB_REF.match(text)
    if m is None:
        raise HubError(
            f"{text}: not a Hub file reference; expected hf://<owner>/<repo>[@<revision>]/<file>, "
            f"or one of {', '.join(RELEASED)}"
        )
    return HubFile(f"{m['owner']}/{m['name']}", m["file"], unquote(m["rev"]) if m["rev"] else None)


def released_arch(ref: str | os.PathLike[str]) -> str | None:
    """The architecture of a released checkpoint (short name or its Hub URI), else None."""
    found = hub_file(ref) if str(ref).startswith("hf:") or os.fspath(ref) in RELEASED else None
    if found is None:
        return None
    return next((arch for uri, arch in RELEASED.values() if hub_file(uri) == found), None)


def display(ref: str | os.PathLike[str]) -> str:
    """How messages name a weights reference (a Hub file as ``hf://...``)."""
    try:
        found = hub_file(ref)
    except HubError:
        return os.fspath(ref)
    return str(found) if found is not None else os.fspath(ref)


def download(file: HubFile) -> Path:
    """Fetch ``file`` into the Hugging Face cache (or find it there) and return its path.

    Raises:
        HubError: One line naming the file: offline without a cached copy (with the address to
            fetch it by hand), or a repository, revision or file the Hub does not have.
    """
    import huggingface_hub
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(
            huggingface_hub.hf_hub_download(
                file.repo_id, file.filename, revision=file.revision, repo_type="model"
            )
        )
    except LocalEntryNotFoundError:
        raise HubError(
            f"{file}: not in the Hugging Face cache and the Hub cannot be reached (no network, "
            f"or HF_HUB_OFFLINE=1); fetch it by hand from {file.url} and pass the local file "
            f"instead, or run `hf download {file.repo_id} {file.filename}` where there is network"
        ) from None
    except GatedRepoError:
        raise HubError(
            f"{file}: the repository is gated; accept its terms on the Hub, then log in "
            f"(`hf auth login`) or export HF_TOKEN"
        ) from None
    except RepositoryNotFoundError:
        raise HubError(f"{file}: no such model repository on the Hub ({file.url})") from None
    except RevisionNotFoundError:
        raise HubError(f"{file}: no revision {file.revision!r} in {file.repo_id}") from None
    except EntryNotFoundError:
        raise HubError(f"{file}: no such file in {file.repo_id} ({file.url})") from None
    except HfHubHTTPError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise HubError(f"{file}: the Hub refused the download ({first})") from None
    except OSError as err:  # a network failure in the middle of a transfer, a full disk
        raise HubError(f"{file}: download failed ({type(err).__name__}: {err})") from None


def weights_file(ref: str | os.PathLike[str]) -> Path:
    """The local file of a weights reference: a Hub file downloaded (or cached), else the path."""
    found = hub_file(ref)
    return download(found) if found is not None else Path(ref)
