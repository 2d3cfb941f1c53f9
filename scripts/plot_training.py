# Snakemake script of rule plot_training: loss (and validation metric) of every training stage.
import logging

from comedian.plots import plot_training_curves, training_log_name

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
logs = {training_log_name(p): p for p in snakemake.input.logs}  # noqa: F821
plot_training_curves(snakemake.output.png, logs)  # noqa: F821
