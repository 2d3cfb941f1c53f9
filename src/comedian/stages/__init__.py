"""Pipeline stages: one module a Snakemake rule and CLI subcommand.

Each module defines ``Paths`` and ``Config`` (frozen dataclasses) and
``run(cfg, *, paths) -> None``; it is the only layer that touches paths, seeds and devices.
"""
