"""The project's error types, in one place, and how the command line reports them.

Usage:
    raise InputError(f"{path}: not a frame store")       # a bad input file (exit status 1)
    raise UsageError("--fps: must be > 0, got 0")        # a bad option (exit status 2)
    line = one_line(err)                                 # what ``comedian`` prints

Every message starts with the file or option it is about. The readers' own error types
(``LabelsError``, ``FrameStoreError``, ``VideoError``, ``ReferenceWeightsError``,
``ConfigError``) derive from these, so the CLI reports them all as one line; ``--debug`` or
``COMEDIAN_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import json
import pickle
import zipfile


class ComedianError(Exception):
    """Base of every error the project raises on purpose (the message names a file/option)."""


class InputError(ComedianError, ValueError):
    """An input file is missing, unreadable or malformed."""


class UsageError(ComedianError, ValueError):
    """An option or setting is invalid (the CLI exits with status 2, as for argparse errors)."""


def one_line(err: BaseException) -> str:
    """A one-line description of ``err`` that names the file where the error carries one.

    Multi-line messages (some libraries add hints on further lines) are joined with ``; ``.
    """
    if isinstance(err, ComedianError):
        text = str(err)
    elif isinstance(err, OSError) and err.filename is not None:
        what = err.strerror or type(err).__name__
        text = f"{err.filename}: {what}"
        if err.filename2 is not None:
            text = f"{err.filename} -> {err.filename2}: {what}"
    elif isinstance(err, json.JSONDecodeError):
        text = f"invalid JSON ({err})"
    elif isinstance(err, pickle.UnpicklingError | EOFError | zipfile.BadZipFile):
        text = f"corrupt or truncated file ({type(err).__name__}: {err})"
    else:
        text = str(err) or type(err).__name__
        if not isinstance(err, ValueError | OSError):
            text = f"{type(err).__name__}: {text}"
    parts = [part.strip() for part in text.splitlines() if part.strip()]
    return "; ".join(parts) or type(err).__name__
