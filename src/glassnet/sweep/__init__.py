"""Hyperparameter sweeps with Optuna (the 'sweep' extra): a spec, workers on one or many machines, a report.

- ``spec``: the TOML spec, checked before anything runs;
- ``study``: the shared storage (SQLite in the sweep folder, or PostgreSQL), sampler and pruner;
- ``worker``: runs trials, each a normal run folder, and keeps going until the study has enough;
- ``local``: the sweep folder and the worker processes on this machine;
- ``report``: the trials table, the best config as TOML, and plots.
"""
