"""Command line: one subcommand a pipeline stage (``comedian <stage> --help``).

Every module ``comedian.stages.<name>`` is a stage (found by :func:`comedian.stages.summaries`,
nothing to register) and defines its one-line ``SUMMARY``, two frozen dataclasses and a function:

* ``Paths``: its inputs and outputs (metadata ``"output": True``: the output guard's tests read
  it). Each field becomes a required ``--field-name`` option (``list``/``tuple`` fields take
  several values; fields with a default are optional).
* ``Config``: its settings, defaults = the paper's values. Each top-level scalar field becomes an
  optional ``--field-name`` option; any field, nested ones included, can be set with
  ``--set a.b=value`` (values read as YAML; unknown keys are an error).
* ``run(cfg: Config, *, paths: Paths) -> None``.

The subcommand name is the module name with ``-`` for ``_`` (``import_weights`` ->
``import-weights``). Only the chosen stage's module is imported, so ``--help`` stays fast.

Errors: any failure prints ONE line, ``comedian <stage>: <file or option>: <problem>``, and exits
with status 1 (2 for a bad option or setting, as argparse does). ``--debug`` (or the environment
variable ``COMEDIAN_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import os
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from comedian import __version__
from comedian.config import apply_overrides, coerce, parse_set_args
from comedian.errors import UsageError, one_line
from comedian.stages import summaries

#: Environment variable that turns on tracebacks, like ``--debug``.
DEBUG_ENV = "COMEDIAN_DEBUG"

#: Stage module name -> one-line help: every module of ``comedian.stages`` (its ``SUMMARY``).
STAGES: dict[str, str] = summaries()


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``comedian <stage>: <problem> (see --help)``."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _debug_requested(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def _command(module: str) -> str:
    return module.replace("_", "-")


def _is_scalar(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return True
    if origin is not None and type(None) in typing.get_args(tp):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return len(inner) == 1 and _is_scalar(inner[0])
    return tp in (int, float, str, bool, Path)


def _is_sequence(tp: Any) -> bool:
    return typing.get_origin(tp) in (list, tuple)


def _add_paths(parser: argparse.ArgumentParser, paths_cls: type) -> None:
    group = parser.add_argument_group("inputs and outputs")
    hints = typing.get_type_hints(paths_cls)
    for f in dataclasses.fields(paths_cls):
        has_default = (
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        )
        kwargs: dict[str, Any] = {
            "dest": f"path__{f.name}",
            "help": f.metadata.get("help", ""),
            "required": not has_default,
            "metavar": f.metadata.get("metavar", "PATH"),
        }
        if _is_sequence(hints[f.name]):
            kwargs["nargs"] = "+"
        group.add_argument(f"--{f.name.replace('_', '-')}", **kwargs)


def _add_config(parser: argparse.ArgumentParser, config_cls: type) -> None:
    group = parser.add_argument_group("settings (defaults: the paper's values)")
    hints = typing.get_type_hints(config_cls)
    default = config_cls()
    for f in dataclasses.fields(config_cls):
        tp = hints[f.name]
        if not _is_scalar(tp):
            continue
        choices = typing.get_args(tp) if typing.get_origin(tp) is typing.Literal else None
        group.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f"cfg__{f.name}",
            default=None,
            choices=choices,
            metavar=None if choices else "VALUE",
            help=f"{f.metadata.get('help', '')} (default: {getattr(default, f.name)!r})",
        )
    group.add_argument(
        "--set",
        dest="set_items",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any setting, nested ones as a.b=value (repeatable; values are YAML)",
    )


def _build_paths(paths_cls: type, ns: argparse.Namespace) -> Any:
    hints = typing.get_type_hints(paths_cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(paths_cls):
        raw = getattr(ns, f"path__{f.name}")
        if raw is None:
            continue
        values[f.name] = coerce(raw, hints[f.name], f"--{f.name.replace('_', '-')}")
    return paths_cls(**values)


def _build_config(config_cls: type, ns: argparse.Namespace) -> Any:
    overrides = parse_set_args(ns.set_items)
    for key, raw in vars(ns).items():
        if key.startswith("cfg__") and raw is not None:
            overrides[key[len("cfg__") :]] = parse_set_args([f"x={raw}"])["x"]
    return apply_overrides(config_cls(), overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, build the chosen stage's Paths and Config, and run it.

    Returns:
        The exit status: 0, 1 for a failure, 2 for a bad option or setting. Errors are
        printed as one line on stderr (with a traceback under ``--debug``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _Parser(
        prog="comedian", description="COMEDIAN soccer action spotting pipeline stages."
    )
    parser.add_argument("--version", action="version", version=f"comedian {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--debug", action="store_true", help=f"show tracebacks of errors (or {DEBUG_ENV}=1)"
    )
    sub = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)
    by_command = {_command(m): m for m in STAGES}
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for module_name, help_text in STAGES.items():
        if _command(module_name) != chosen:
            sub.add_parser(_command(module_name), help=help_text)
            continue
        module = importlib.import_module(f"comedian.stages.{module_name}")
        p = sub.add_parser(
            _command(module_name),
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
        _add_paths(p, module.Paths)
        _add_config(p, module.Config)
    ns = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if ns.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    prog = f"comedian {ns.stage}"
    try:
        module = importlib.import_module(f"comedian.stages.{by_command[ns.stage]}")
        cfg = _build_config(module.Config, ns)
        paths = _build_paths(module.Paths, ns)
        module.run(cfg, paths=paths)
    except KeyboardInterrupt:
        if _debug_requested(argv):
            raise
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except Exception as err:  # noqa: BLE001 - every failure becomes one line (see module doc)
        if _debug_requested(argv):
            raise
        sys.stderr.write(f"{prog}: {one_line(err)}\n")
        return 2 if isinstance(err, UsageError) else 1
    return 0
