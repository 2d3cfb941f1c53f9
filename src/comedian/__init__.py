"""COMEDIAN action spotting on SoccerNet-v2, as a reproducible pipeline.

Usage: ``python -m comedian <stage> --help`` (or the ``comedian`` console script).
"""

__version__ = "0.1.0"
