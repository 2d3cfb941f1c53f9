"""Params functions and shell words of the rules that need no configured state.

Usage (in rules/*.smk):
    params:
        sets=sets(config.get("pca", {})),     # --set 'key=value' ... of a config section
        setting=nms_args,                     # the NMS options of the {nms} slug
        launch=launch_prefix,                 # srun ... for a DDP rule under SLURM, else empty
        geometry=launch_geometry,             # --devices G --num-nodes N
        features=input_folder("features"),    # the folder of a per-half bank input
    threads: ALL_CORES
    wildcard_constraints:
        run=one_of(["a", "b"]),               # a pattern that matches these names only
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from comedian.launch import srun_prefix, stage_geometry
from comedian.spotting.settings import NmsSetting

Wildcards = Any  # snakemake.io.Wildcards: attribute access to the rule's wildcards

#: Threads of a rule that takes the whole machine in a local run (training and inference), a
#: fixed count, not workflow.cores, which a cluster executor leaves undefined (reading it fails the
#: whole run under --profile profiles/slurm). Local runs scale it down to --cores; on a cluster
#: the profile's cpus_per_task sizes the job instead.
ALL_CORES = 1024

#: A wildcard pattern that matches nothing (a rule of runs when no run is of its kind).
NO_MATCH = "(?!x)x"


def one_of(names: Iterable[str]) -> str:
    """A wildcard pattern that matches exactly ``names`` (nothing when there is none)."""
    return "|".join(re.escape(name) for name in names) or NO_MATCH


def sets(section: Mapping[str, Any], skip: Iterable[str] = ()) -> str:
    """Render a config section as `--set key=value` arguments (values as JSON, shell-quoted)."""
    return " ".join(
        f"--set {shlex.quote(f'{key}={json.dumps(value)}')}"
        for key, value in section.items()
        if key not in skip
    )


def init_option(ref: str | None) -> str:
    """The ``--init`` option of a starting-weights reference, or nothing when there is none."""
    return f"--init {shlex.quote(ref)}" if ref else ""


def nms_args(wildcards: Wildcards) -> str:
    """Params function: the ``comedian nms`` options of the setting in the ``{nms}`` slug.

    Raises:
        ConfigError: (a ValueError) naming the slug, if it is not the canonical slug of a valid
            setting (so a non-canonical target fails when the DAG is built).
    """
    s = NmsSetting.from_slug(wildcards.nms)
    items = [f"kind={s.kind}", f"window={s.window}", f"threshold={s.threshold!r}"]
    items.append(f"min_weight={s.min_weight!r}")
    if s.windows_per_class:
        items.append(f"windows_per_class={json.dumps(s.windows_per_class)}")
    return " ".join(f"--set {shlex.quote(item)}" for item in items)


def launch_prefix(wildcards: Wildcards, resources: Mapping[str, Any]) -> str:
    """Params function: `srun ...` for a multi-process (DDP) rule under SLURM, else empty."""
    return srun_prefix(resources)


def launch_geometry(wildcards: Wildcards, resources: Mapping[str, Any]) -> str:
    """Params function: `--devices G --num-nodes N` from the rule's resources."""
    return stage_geometry(resources)


def _bank_folder(files: str | Sequence[str]) -> str:
    first = files if isinstance(files, str) else files[0]
    return str(Path(first).parents[1])


def input_folder(key: str) -> Callable[[Wildcards, Any], str]:
    """Params function: the folder of the per-half files (``<folder>/<game>/<half>.<ext>``) of
    input ``key``, read off the job's files rather than written again (Snakemake's linter asks
    for that: a path prefix that is not derived fails without a shared file system)."""

    def folder(wildcards: Wildcards, input: Any) -> str:
        return _bank_folder(input[key])

    return folder


def output_folder(key: str) -> Callable[[Wildcards, Any], str]:
    """Params function: the folder of the per-half files of output ``key`` (as input_folder)."""

    def folder(wildcards: Wildcards, output: Any) -> str:
        return _bank_folder(output[key])

    return folder
