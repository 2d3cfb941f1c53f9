# Snakemake script of rule plot_class_ap: per-class average-AP of every evaluated run and split.
import logging

from comedian.plots import plot_class_ap, read_metrics_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
plot_class_ap(snakemake.output.png, read_metrics_files(snakemake.input.metrics))  # noqa: F821
