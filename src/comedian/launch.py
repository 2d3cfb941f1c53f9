"""How a training rule launches its stage: the ``srun`` prefix and ``--devices/--num-nodes``.

Usage (a rule in rules/<phase>.smk; params functions receive the job's resources):
    from comedian.launch import srun_prefix, stage_geometry

    def launch(wildcards, resources):
        return srun_prefix(resources)

    def geometry(wildcards, resources):
        return stage_geometry(resources)

    shell: "{params.launch} python -m comedian pretrain ... {params.geometry} > {log:q} 2>&1"

The resource names are those of snakemake-executor-plugin-slurm, so one set of values drives
both the ``sbatch`` line the plugin writes and the process layout the stage sees:

* ``gpu``: GPUs per node (the plugin writes ``--gpus=G``, a job-wide count in Slurm, so it is
  only accepted on one node); ``gres: "gpu[:type]:G"`` (per node in Slurm) for several nodes.
* ``nodes``: nodes of the job (``--nodes=N``; Lightning's ``num_nodes``).
* ``mpi``: the launcher (``"srun"``) for a multi-process rule. The plugin then neither wraps the
  job in its own one-task ``srun -n1`` nor sets ``--ntasks``; it writes
  ``--ntasks-per-node=tasks_per_node``. The rule starts the tasks itself with the geometry
  spelled out, because the plugin's job step removes the inherited ``SLURM_*`` variables that
  a bare ``srun`` would read.
* ``tasks_per_node``: one task per GPU (Lightning's SLURM environment refuses any other count).
* ``cpus_per_task``: data-loading workers of one rank.

Local runs (``snakemake --cores all --resources gpu=1``) have no ``mpi`` resource: the prefix is
empty and the stage gets ``--devices`` from ``gpu`` (1 by default).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

_GRES_GPU = re.compile(r"^gpu(?::[A-Za-z0-9_.]+)?:(\d+)$")


class GeometryError(ValueError):
    """The resources of a rule describe an impossible or ambiguous process layout."""


def _int(resources: Mapping[str, Any], key: str, default: int) -> int:
    value = resources.get(key, default)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise GeometryError(f"resource {key}={value!r} is not an integer")
    try:
        number = int(value)
    except ValueError:
        raise GeometryError(f"resource {key}={value!r} is not an integer") from None
    if number < 0:
        raise GeometryError(f"resource {key}={value!r} is negative")
    return number


def gpus_per_node(resources: Mapping[str, Any]) -> int:
    """GPUs of each node: ``gpu`` (one node only) or the count in ``gres: gpu[:type]:N``.

    Raises:
        GeometryError: ``gpu`` on several nodes (Slurm's ``--gpus`` counts the whole job, so
            the nodes could get uneven shares), or both ``gpu`` and a GPU ``gres``.
    """
    gpu = _int(resources, "gpu", 0)
    nodes = _int(resources, "nodes", 1)
    gres = str(resources.get("gres") or "")
    match = _GRES_GPU.match(gres)
    if gpu and match:
        raise GeometryError(f"resources gpu={gpu} and gres={gres!r}: set only one of them")
    if gpu and nodes > 1:
        raise GeometryError(
            f"resources gpu={gpu} with nodes={nodes}: Slurm's --gpus counts the whole job; "
            f"use gres='gpu:{gpu}' (per node) and gpu=0 for several nodes"
        )
    if match:
        return int(match.group(1))
    return gpu


def num_devices(resources: Mapping[str, Any]) -> int:
    """Lightning ``devices`` of each node: the GPUs of a node, else the tasks of a node, else 1.

    Raises:
        GeometryError: A multi-process rule whose ``tasks_per_node`` differs from its GPUs
            per node (the layout that silently ran several one-GPU copies, or that Lightning's
            SLURM environment refuses).
    """
    gpus = gpus_per_node(resources)
    if resources.get("mpi"):
        tasks = _int(resources, "tasks_per_node", 1)
        if gpus and tasks != gpus:
            raise GeometryError(
                f"resources tasks_per_node={tasks} and {gpus} GPU(s) per node: DDP needs one "
                "task per GPU"
            )
        return tasks
    return gpus or 1


def srun_prefix(resources: Mapping[str, Any]) -> str:
    """The launcher of a multi-process rule with its geometry, or ``""`` without ``mpi``.

    Example: ``mpi="srun", nodes=1, tasks_per_node=2, gpu=2, cpus_per_task=8`` gives
    ``srun --nodes=1 --ntasks-per-node=2 --cpus-per-task=8 --gpus-per-node=2
    --kill-on-bad-exit=1``: every task sees all GPUs of its node and Lightning picks
    ``cuda:LOCAL_RANK`` (binding one GPU per task would leave each rank with a single
    ``cuda:0``), and one failing rank ends the step instead of leaving the others waiting.
    """
    launcher = str(resources.get("mpi") or "")
    if not launcher:
        return ""
    nodes = _int(resources, "nodes", 1)
    tasks = num_devices(resources)
    parts = [*shlex.split(launcher), f"--nodes={nodes}", f"--ntasks-per-node={tasks}"]
    cpus = _int(resources, "cpus_per_task", 0)
    if cpus:
        parts.append(f"--cpus-per-task={cpus}")
    gpus = gpus_per_node(resources)
    if gpus:
        parts.append(f"--gpus-per-node={gpus}")
    parts.append("--kill-on-bad-exit=1")
    return shlex.join(parts)


def stage_geometry(resources: Mapping[str, Any]) -> str:
    """The stage's ``--devices G --num-nodes N`` arguments for these resources."""
    return f"--devices {num_devices(resources)} --num-nodes {_int(resources, 'nodes', 1)}"
