# Snakemake script of rule plot_summary: results/summary.tsv as a table image.
import logging

from comedian.plots import plot_summary_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
plot_summary_table(snakemake.output.png, snakemake.input.table)  # noqa: F821
