"""comedian.launch: the srun prefix and --devices/--num-nodes of training rules."""

from __future__ import annotations

import pytest

from comedian.launch import GeometryError, num_devices, srun_prefix, stage_geometry


def test_local_run_has_no_launcher_and_one_device():
    assert srun_prefix({}) == ""
    assert stage_geometry({}) == "--devices 1 --num-nodes 1"
    assert stage_geometry({"gpu": 1, "nodes": 1}) == "--devices 1 --num-nodes 1"


def test_single_node_two_gpus():
    res = {"mpi": "srun", "nodes": 1, "tasks_per_node": 2, "gpu": 2, "cpus_per_task": 8}
    assert srun_prefix(res) == (
        "srun --nodes=1 --ntasks-per-node=2 --cpus-per-task=8 --gpus-per-node=2 "
        "--kill-on-bad-exit=1"
    )
    assert stage_geometry(res) == "--devices 2 --num-nodes 1"


def test_two_nodes_use_per_node_gres():
    res = {"mpi": "srun", "nodes": 2, "tasks_per_node": 4, "gpu": 0, "gres": "gpu:a100:4"}
    assert srun_prefix(res) == (
        "srun --nodes=2 --ntasks-per-node=4 --gpus-per-node=4 --kill-on-bad-exit=1"
    )
    assert stage_geometry(res) == "--devices 4 --num-nodes 2"


def test_cpu_ddp_counts_tasks():
    res = {"mpi": "srun", "nodes": 1, "tasks_per_node": 2, "cpus_per_task": 1}
    assert num_devices(res) == 2
    assert srun_prefix(res).startswith("srun --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 ")


@pytest.mark.parametrize(
    ("res", "message"),
    [
        ({"mpi": "srun", "tasks_per_node": 1, "gpu": 2}, "one task per GPU"),
        ({"gpu": 2, "nodes": 2}, "counts the whole job"),
        ({"gpu": 2, "gres": "gpu:2"}, "only one"),
        ({"gpu": "two"}, "not an integer"),
        ({"nodes": -1}, "negative"),
    ],
)
def test_ambiguous_geometry_is_refused(res, message):
    with pytest.raises(GeometryError, match=message):
        stage_geometry(res)


def test_every_gpu_rule_of_the_slurm_profile_has_a_valid_geometry():
    from pathlib import Path

    import yaml

    profile = Path(__file__).resolve().parents[1] / "profiles/slurm/config.yaml"
    rules = yaml.safe_load(profile.read_text())["set-resources"]
    gpu_rules = {"pretrain", "teacher", "extract_features", "distill", "finetune_head"}
    gpu_rules |= {"finetune", "predict"}
    for rule in gpu_rules:
        res = rules[rule]
        assert res["slurm_partition"] == "gpu", rule
        devices = num_devices(res)  # raises on an impossible layout
        assert devices == res["gpu"] >= 1, rule
        if res.get("mpi"):
            assert srun_prefix(res).startswith("srun "), rule
            assert res["tasks_per_node"] == res["gpu"], rule
