"""Pipeline stages: one module a Snakemake rule and CLI subcommand.

Each module defines ``SUMMARY`` (its one line in ``comedian --help``), ``Paths`` and ``Config``
(frozen dataclasses; the ``Paths`` fields the stage writes carry ``"output": True`` in their
metadata) and ``run(cfg, *, paths) -> None``; it is the only layer that touches paths, seeds and
devices. A module here is a stage by being here: :func:`summaries` finds it.
"""

from __future__ import annotations

import ast
import dataclasses
import pkgutil
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def summaries() -> dict[str, str]:
    """Stage module name -> its ``SUMMARY``, for every module of this package, by name.

    Read from the sources (no module is imported, so ``comedian --help`` stays fast).

    Raises:
        ValueError: A stage module without a ``SUMMARY`` string, naming the file.
    """
    out: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules([str(_HERE)]), key=lambda m: m.name):
        path = _HERE / f"{info.name}.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        summary = next(
            (
                node.value.value
                for node in tree.body
                if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "SUMMARY" for t in node.targets)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ),
            None,
        )
        if summary is None:
            raise ValueError(f"{path}: a stage module needs a SUMMARY string")
        out[info.name] = summary
    return out


def output_fields(paths_cls: type) -> tuple[str, ...]:
    """The fields of a stage's ``Paths`` that it writes (metadata ``"output": True``)."""
    return tuple(f.name for f in dataclasses.fields(paths_cls) if f.metadata.get("output"))
