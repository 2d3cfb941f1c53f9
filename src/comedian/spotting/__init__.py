"""Spotting back end (method.md sections 7-10): everything after the network.

Usage:
    from comedian.spotting import merge, nms, results, metrics, sweep, ensemble, scores

* :mod:`~comedian.spotting.scores`: raw per-half score arrays (``<dir>/<game>/1.npy, 2.npy``).
* :mod:`~comedian.spotting.merge`: sliding-window token scores -> one array per half.
* :mod:`~comedian.spotting.nms`: soft and hard NMS, vectorized over halves and classes.
* :mod:`~comedian.spotting.results`: ``results_spotting.json`` writer / reader, challenge zip.
* :mod:`~comedian.spotting.metrics`: the SoccerNet average-mAP, identical to the official code.
* :mod:`~comedian.spotting.sweep`: NMS settings, slugs and in-memory NMS sweeps.
* :mod:`~comedian.spotting.ensemble`: combining the raw scores of several runs.
"""
