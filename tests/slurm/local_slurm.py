"""A real one-node SLURM cluster (munged, slurmctld, slurmd) in a temporary folder, for tests.

Usage:
    cluster = SlurmCluster(tmp_dir)
    cluster.start()                # writes slurm.conf + gres.conf, starts the daemons
    env = cluster.env()            # SLURM_CONF for sbatch/squeue/snakemake
    cluster.stop()                 # stops what start() started, by pid file

Everything lives under ``root`` (config, state, spool, logs, pid files); the system's
/etc/slurm is never read or written, clients find the cluster through ``SLURM_CONF``. munged
is shared with the system (one socket per machine): it is started only when not running and
then stopped again. Facts this relies on (Debian 12, Slurm 22.05): without systemd the
daemons start directly; a GPU GRES must name device files (a node declared ``Gres=gpu:2``
without ``File=`` registers 0 GPUs and is set INVAL), so two character devices with the
numbers of /dev/null stand in for the GPUs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

#: Debian packages of the cluster (installed with --no-install-recommends).
PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client")
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "srun")
#: Fake GPUs on the node: enough for the DDP geometry checks (2 tasks, 1 GPU each).
NUM_GPUS = 2
MUNGE_SOCKET_DIR = Path("/run/munge")
#: Where srun looks when SLURM_CONF is unset. The plugin's job step removes every inherited
#: SLURM_* variable (SLURM_CONF too) before its srun, so inside jobs only this path works.
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


class ClusterError(RuntimeError):
    """The cluster could not be started (the message says which daemon and its log)."""


def missing_commands() -> list[str]:
    """SLURM/munge commands not on PATH (``/usr/sbin`` included)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [name for name in DAEMONS if shutil.which(name, path=path) is None]


def install_packages(timeout: float = 300) -> str | None:
    """Install the Debian packages with apt; return None on success, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("apt-get") is None:
        return "no apt-get (not Debian)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        # The package lists may be missing on a fresh image: update once and retry.
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, timeout=timeout)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        return f"apt-get install failed: {proc.stderr.strip()[-300:]}"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_line() -> tuple[str, str]:
    """(node name, hardware description) from ``slurmd -C``, RealMemory lowered to half."""
    out = subprocess.run(
        ["/usr/sbin/slurmd", "-C"], capture_output=True, text=True, check=True
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("NodeName="))
    name = line.split()[0].split("=", 1)[1]
    hardware = " ".join(
        f"RealMemory={int(int(tok.split('=')[1]) // 2)}" if tok.startswith("RealMemory=") else tok
        for tok in line.split()[1:]
    )
    return name, hardware


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SlurmCluster:
    """One controller and one compute node on this machine, all state under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.conf = self.root / "slurm.conf"
        self.logs = self.root / "log"
        self._started: list[tuple[str, Path]] = []  # (daemon, pid file) started by us
        self._linked_system_conf = False
        self.node = ""
        self.partition = "debug"

    def env(self) -> dict[str, str]:
        """Environment for clients (sbatch, squeue, snakemake) that talk to this cluster."""
        path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"])
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}

    def write_config(self) -> None:
        """Write slurm.conf and gres.conf (free ports, the node as ``slurmd -C`` sees it)."""
        for sub in ("state", "spool", "log", "dev"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.node, hardware = _node_line()
        gpus = []
        for i in range(NUM_GPUS):
            dev = self.root / "dev" / f"gpu{i}"
            if not dev.exists():
                os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))  # a char device, like /dev/null
            gpus.append(str(dev))
        r = self.root
        self.conf.write_text(
            f"""# one-node test cluster (tests/slurm/cluster.py)
ClusterName=comedian
SlurmctldHost={self.node}
SlurmUser=root
SlurmdUser=root
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
MinJobAge=600
ReturnToService=2
GresTypes=gpu
NodeName={self.node} {hardware} Gres=gpu:{NUM_GPUS} State=UNKNOWN
PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
"""
        )
        (self.root / "gres.conf").write_text(
            f"AutoDetect=off\nNodeName={self.node} Name=gpu File={','.join(gpus)}\n"
        )

    def _start(self, name: str, cmd: list[str], pid_file: Path, user: str | None = None) -> None:
        if user is not None:
            cmd = ["runuser", "-u", user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise ClusterError(f"{name} did not start: {proc.stderr.strip()[-500:]}")
        for _ in range(100):
            pid = _read_pid(pid_file)
            if pid is not None and _alive(pid):
                self._started.append((name, pid_file))
                return
            time.sleep(0.05)
        raise ClusterError(f"{name} wrote no pid file {pid_file}; see {self.logs}")

    def start(self, timeout: float = 60) -> None:
        """Start munged (when not running), slurmctld and slurmd; wait for an idle node.

        Raises:
            ClusterError: A daemon did not start, the node did not become idle, or this
                machine already has a SLURM configuration (a real cluster is not touched).
        """
        if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
            raise ClusterError(f"{SYSTEM_CONF} exists: this machine has its own SLURM setup")
        self.write_config()
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.symlink_to(self.conf)
        self._linked_system_conf = True
        munge_pid = MUNGE_SOCKET_DIR / "munged.pid"
        pid = _read_pid(munge_pid)
        if pid is None or not _alive(pid):
            MUNGE_SOCKET_DIR.mkdir(parents=True, exist_ok=True)
            shutil.chown(MUNGE_SOCKET_DIR, "munge", "munge")
            self._start("munged", ["/usr/sbin/munged"], munge_pid, user="munge")
        self._start(
            "slurmctld",
            ["/usr/sbin/slurmctld", "-f", str(self.conf), "-i"],
            self.root / "slurmctld.pid",
        )
        self._start("slurmd", ["/usr/sbin/slurmd", "-f", str(self.conf)], self.root / "slurmd.pid")
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            proc = subprocess.run(
                ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=self.env()
            )
            state = proc.stdout.strip()
            if state == "idle":
                return
            time.sleep(0.3)
        raise ClusterError(
            f"node {self.node} is {state or 'unknown'!r}, not idle, after {timeout:.0f} s; "
            f"see {self.logs}"
        )

    def stop(self) -> None:
        """Stop the daemons start() started (slurmd first), by their pid files."""
        for _name, pid_file in reversed(self._started):
            pid = _read_pid(pid_file)
            if pid is None or not _alive(pid):
                continue
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not _alive(pid):
                    break
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)
        self._started.clear()
        if self._linked_system_conf and SYSTEM_CONF.is_symlink():
            SYSTEM_CONF.unlink()
        self._linked_system_conf = False

    def job_state(self, job_id: str) -> str:
        """The state slurmctld reports for a job (kept MinJobAge seconds after it ends)."""
        out = subprocess.run(
            ["scontrol", "show", "job", job_id], capture_output=True, text=True, env=self.env()
        ).stdout
        match = re.search(r"JobState=(\S+)", out)
        return match.group(1) if match else "UNKNOWN"
