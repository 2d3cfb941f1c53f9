"""The workflow through ``--profile`` on a real one-node SLURM cluster (jobs run by slurmd).

The cluster is the session fixture of conftest.py; the profile is tests/slurm/profile, the
same executor plugin as profiles/slurm with the settings a cluster without accounting needs.
Every snakemake call is wrapped in ``timeout`` so that a status check that never ends fails the
test instead of hanging it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from comedian.data.frames import FrameStore
from comedian.data.games import read_games_table, slugify, soccernet_games
from comedian.synth import write_half

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROFILE = HERE / "profile"
KILL_AT_STEP = REPO / "tests/kill_at_step.py"
WORKFLOW_FILES = ("Snakefile", "rules", "schemas", "config", "environment.yml")
TINY = {
    "synth": {
        "seed": 3,
        "train": 1,
        "valid": 0,
        "test": 0,
        "challenge": 0,
        "half_duration_s": 12.0,
    },
    "dataset": {"splits": ["train"]},
}
SBATCH_RE = re.compile(r"sbatch call: (sbatch .*?--comment '?rule_(\w+?)(?:_wildcards\S*)?'? .*)")
SUBMITTED_RE = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def snakemake(
    root: Path, env: dict[str, str], *args: str, timeout_s: int = 200
) -> subprocess.CompletedProcess:
    """Run snakemake of this environment in ``root`` under ``timeout``."""
    bin_dir = Path(sys.executable).parent
    env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
    cmd = ["timeout", "-k", "10", str(timeout_s), str(bin_dir / "snakemake"), *args]
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def check(proc: subprocess.CompletedProcess) -> str:
    text = output(proc)
    if proc.returncode == 124:
        raise AssertionError(f"snakemake timed out:\n{text[-6000:]}")
    assert proc.returncode == 0, f"snakemake failed ({proc.returncode}):\n{text[-6000:]}"
    return text


def copy_workflow(root: Path) -> Path:
    root.mkdir(parents=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name)
        else:
            shutil.copy2(src, root / name)
    return root


def submitted(text: str) -> dict[str, str]:
    """SLURM job id -> its log file, from the plugin's submission messages."""
    return dict(SUBMITTED_RE.findall(text))


def test_demo_dag_runs_through_the_profile(slurm_cluster, tmp_path):
    root = copy_workflow(tmp_path / "wf")
    (root / "config/tiny.yaml").write_text(yaml.safe_dump(TINY))
    text = check(
        snakemake(
            root, slurm_cluster.env(), "--profile", str(PROFILE), "--configfile", "config/tiny.yaml"
        )
    )
    jobs = submitted(text)
    # synth, games and the 2 halves of the game's decode at 2 and 4 fps: one SLURM job each
    # (no split is scored, so nothing is trained and there is no summary).
    assert len(jobs) == 6, text[-4000:]
    for job_id, log in jobs.items():
        assert slurm_cluster.job_state(job_id) == "COMPLETED"
        assert (root / log).exists(), log
    rules = {Path(log).relative_to(root).parts[2] for log in jobs.values()}
    assert rules == {"rule_synth", "rule_games", "rule_decode"}
    table = read_games_table(root / "results/games/games.tsv")
    assert len(table) == 1
    for slug in table["slug"]:
        for half in (1, 2):
            store = FrameStore(root / f"results/decode/2fps/{slug}/{half}.frames")
            assert store.num_frames == 24  # 12 s at 2 fps
            store4 = FrameStore(root / f"results/decode/4fps/{slug}/{half}.frames")
            assert store4.num_frames == 48
    again = check(
        snakemake(
            root,
            slurm_cluster.env(),
            "--profile",
            str(PROFILE),
            "--configfile",
            "config/tiny.yaml",
            "-n",
        )
    )
    assert "Nothing to be done" in again


def test_failing_job_is_reported_with_its_logs(slurm_cluster, tmp_path):
    root = copy_workflow(tmp_path / "wf")
    data = tmp_path / "SoccerNet"
    good, bad = soccernet_games(["test"])["path"].tolist()[:2]
    (data / good).mkdir(parents=True)
    (data / bad).mkdir(parents=True)
    write_half(data / good / "1_224p.mkv", duration_s=2.0, seed=1)
    (data / bad / "1_224p.mkv").write_bytes(b"\x1a\x45\xdf\xa3 not a matroska file" * 50)
    targets = [f"results/decode/2fps/{slugify(g)}/1.frames" for g in (good, bad)]
    proc = snakemake(
        root,
        slurm_cluster.env(),
        "--profile",
        str(PROFILE),
        "--config",
        f"dataset={{source: soccernet, root: '{data}', splits: [test]}}",
        "--",
        *targets,
    )
    text = output(proc)
    assert proc.returncode not in (0, 124), text[-4000:]
    assert (root / targets[0]).exists()  # keep-going: the good half is decoded
    assert not (root / targets[1]).exists()
    rule_log = f"logs/decode/2fps/{slugify(bad)}/1.log"
    assert rule_log in text
    assert str(data / bad / "1_224p.mkv") in (root / rule_log).read_text()
    # The plugin names the SLURM log of the failed job; it holds the job's own error report.
    failed = re.search(r"SLURM-job '(\d+)' failed, SLURM status is: '(\w+)'", text)
    assert failed is not None, text[-4000:]
    assert failed.group(2) == "FAILED"
    log = submitted(text)[failed.group(1)]
    assert log in text.split(failed.group(0), 1)[1]
    assert "Error in rule decode" in (root / log).read_text()


def test_gpu_and_ddp_rules_on_the_cluster(slurm_cluster, tmp_path):
    root = tmp_path / "probe"
    root.mkdir()
    shutil.copy2(HERE / "probe.smk", root / "Snakefile")
    shutil.copy2(HERE / "ddp_probe.py", root / "ddp_probe.py")
    proc = snakemake(root, slurm_cluster.env(), "--profile", str(PROFILE), "--verbose")
    text = check(proc)
    # Every rule whose profile resources hold a GPU count: the sbatch line asks Slurm for them.
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    calls = {rule: call for call, rule in SBATCH_RE.findall(text)}
    gpu_rules = {r for r, res in profile["set-resources"].items() if res.get("gpu")}
    assert gpu_rules <= set(calls), sorted(calls)
    for rule in gpu_rules:
        res = profile["set-resources"][rule]
        assert f"--gpus={res['gpu']}" in calls[rule]
        assert f"--cpus-per-task={res['cpus_per_task']}" in calls[rule]
    ddp = profile["set-resources"]["ddp_probe"]
    assert f"--nodes={ddp['nodes']}" in calls["ddp_probe"]
    assert f"--ntasks-per-node={ddp['tasks_per_node']}" in calls["ddp_probe"]
    # ... and slurmctld granted them: the single-GPU job saw one (fake) device.
    assert (root / "probe/gpu.txt").read_text().split()[1] == "gpus=0"
    # The DDP rule: 2 srun tasks, one Lightning rank each, talking over gloo.
    ranks = [(root / f"probe/ddp/rank{r}.txt").read_text() for r in (0, 1)]
    for rank, line in enumerate(ranks):
        assert f"world_size=2 global_rank={rank} local_rank={rank}" in line
        assert "slurm=True backend=gloo rank_sum=1" in line
    log = (root / "logs/ddp_probe.log").read_text()
    assert "rank 0 of 2 done" in log and "rank 1 of 2 done" in log


def tiny_training_data(root: Path) -> dict[str, Path]:
    """The videoless spotting dataset of tests/training (one train, valid and test game)."""
    module = _load("tiny_training_data", REPO / "tests/training/conftest.py")
    data = module.write_tiny_dataset(root)
    return {**data, "model": module.TINY_MODEL}


def test_ddp_training_stage_killed_under_slurm_resumes_on_the_rerun(slurm_cluster, tmp_path):
    """finetune-head as 2 srun tasks (CPU DDP, gloo): kill -9 of its job, rerun, it resumes."""
    data = tiny_training_data(tmp_path / "data")
    root = tmp_path / "train"
    root.mkdir()
    shutil.copy2(HERE / "train.smk", root / "Snakefile")
    # 6 train clips over 2 ranks, 1 a rank and step: 3 steps an epoch, 18 in all; a resume
    # checkpoint every 2 steps; validation on the valid game every epoch (gathered over ranks).
    args = [
        *("--games", str(data["games"]), "--frames", str(data["frames"])),
        *("--labels", str(data["labels"]), "--set", f"model={json.dumps(data['model'])}"),
        *("--batch-size", "2", "--num-workers", "0", "--random-windows", "1"),
        *("--epochs", "6", "--checkpoint-every-n-steps", "2"),
    ]
    (root / "args.yaml").write_text(yaml.safe_dump({"args": shlex.join(args)}))
    cmd = ["--profile", str(PROFILE), "--configfile", "args.yaml", "--rerun-incomplete"]
    env = slurm_cluster.env()
    out = root / "results/finetune_head/ddp"
    ckpt, live_log = out / ".resume/last.ckpt", out / ".resume/train_log.csv"

    # First run, in the background, through tests/kill_at_step.py: at step 5 (after the step-4
    # checkpoint) both ranks write a marker and wait there; once both markers exist, kill the job.
    held = root / "held"
    held.mkdir()
    runner = {"runner": f"{KILL_AT_STEP} hold:5:{held}"}
    (root / "hold.yaml").write_text(yaml.safe_dump(runner))
    bin_dir = Path(sys.executable).parent
    first_out = root / "first.txt"
    with open(first_out, "w") as sink:
        first = subprocess.Popen(
            ["timeout", "-k", "10", "300", str(bin_dir / "snakemake"), *cmd, "--configfile",
             "args.yaml", "hold.yaml"],
            cwd=root,
            env={**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        markers = [held / f"held-rank{rank}" for rank in (0, 1)]
        while first.poll() is None and not all(m.exists() for m in markers):
            time.sleep(0.2)  # the run ends by itself only if it fails (or at the timeout)
        assert first.poll() is None, first_out.read_text()[-4000:]
        jobs = submitted(first_out.read_text())
        assert len(jobs) == 1, first_out.read_text()[-4000:]
        (job_id,) = jobs
        subprocess.run(["scancel", "--full", "--signal=KILL", job_id], env=env, check=True)
        # The plugin's status checks back off by 10 s each (a minute to see the kill): stop
        # this snakemake with Ctrl-C instead of waiting for it.
        first.send_signal(signal.SIGINT)
        first.wait(timeout=60)
    assert first.returncode != 0, first_out.read_text()[-4000:]
    assert slurm_cluster.job_state(job_id) in ("COMPLETING", "CANCELLED", "FAILED")
    assert not (out / "model.pt").exists()
    assert ckpt.exists(), "no resume checkpoint was written"
    before = _train_steps(live_log)
    assert before == [1, 2, 3, 4, 5], before
    saved = torch.load(ckpt, weights_only=True)["global_step"]
    assert saved == 4

    # The rerun: a new SLURM job, 2 ranks again, continuing from the saved step. An interrupted
    # snakemake may leave its lock behind (it does when stopped while polling): unlock first.
    check(snakemake(root, env, "--unlock", *cmd))
    text = check(snakemake(root, env, *cmd))
    (rerun_id,) = submitted(text)
    assert slurm_cluster.job_state(rerun_id) == "COMPLETED"
    log = (root / "logs/finetune_head_ddp.log").read_text()
    assert "resuming from" in log, log[-4000:]
    for rank in (0, 1):
        assert f"Initializing distributed: GLOBAL_RANK: {rank}, MEMBER: {rank + 1}/2" in log, log
    for name in ("model.pt", "last.pt", "train_log.csv"):
        assert (out / name).is_file(), name
    assert not (out / ".resume").exists()
    steps = _train_steps(out / "train_log.csv")
    # The killed run's rows up to the checkpoint are kept, those after it were dropped and
    # trained again: one row a step (rank 0 writes alone) up to 6 epochs x 3 steps; ranks that
    # did not shard the clips would run 6 steps an epoch.
    assert steps == list(range(1, 19)), steps
    assert steps[:saved] == before[:saved]
    # Every epoch was validated once (the scores of both ranks gathered).
    assert pd.read_csv(out / "train_log.csv")["valid_tight"].notna().sum() >= 6


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_distill_as_two_srun_tasks(slurm_cluster, tmp_path):
    """A pretraining stage (distill) as 2 srun tasks with gloo DDP, as rules/distill.smk runs
    it: both ranks join, each trains on its shard, one model and one log row a step."""
    conftest = _load("tiny_pretrain_data", REPO / "tests/pretrain/conftest.py")
    tiny = _load("pretrain_tiny", REPO / "tests/pretrain/pretrain_tiny.py")
    data = conftest.write_tiny_data(tmp_path / "data")
    inputs = tmp_path / "chain"
    tiny.run_chain(data, inputs)  # pretrain -> teacher -> features -> pca: distill's inputs
    root = tmp_path / "distill"
    root.mkdir()
    shutil.copy2(HERE / "distill.smk", root / "Snakefile")
    # 8 clips an epoch over 2 ranks, 2 a rank and step: 2 steps an epoch, 4 in all
    args = tiny.stage_inputs("distill", data, inputs, epochs=2, batch_size=4,
                             windows_per_half=2, queue_size=48)  # fmt: skip
    (root / "args.yaml").write_text(yaml.safe_dump({"args": shlex.join(args)}))
    text = check(snakemake(root, slurm_cluster.env(), "--profile", str(PROFILE),
                           "--configfile", "args.yaml"))  # fmt: skip
    (job_id,) = submitted(text)
    assert slurm_cluster.job_state(job_id) == "COMPLETED"
    log = (root / "logs/distill_ddp.log").read_text()
    for rank in (0, 1):
        assert f"Initializing distributed: GLOBAL_RANK: {rank}, MEMBER: {rank + 1}/2" in log, log
    out = root / "results/distill/ddp"
    assert (out / "model.pt").is_file() and not (out / ".resume").exists()
    # unsharded ranks would each run 4 steps an epoch
    assert _train_steps(out / "train_log.csv") == [1, 2, 3, 4]


def _train_steps(path: Path) -> list[int]:
    """Steps of the training rows (those with a loss) of a CSV training log."""
    if not path.exists():
        return []
    try:
        table = pd.read_csv(path)
    except (pd.errors.EmptyDataError, KeyError):
        return []
    if "loss" not in table:
        return []
    return table.dropna(subset=["loss"])["step"].astype(int).tolist()
