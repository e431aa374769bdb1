"""Hyperparameter sweeps with Optuna (the 'sweep' extra): a spec, workers on one or many machines, a report.

- ``spec``: the TOML spec, checked before anything runs; ``space``, its searched fields; ``bounds``,
  the range of every number it holds;
- ``storage``: the study's database (SQLite in the sweep folder, or PostgreSQL), waited for when it is
  locked or restarting, and its URL shown without a password;
- ``study``: the study every worker shares, its sampler and pruner;
- ``failures``: when trials that keep failing stop a study, and what it says;
- ``worker``: runs trials, each a normal run folder, and keeps going until the study has enough;
- ``local``: the sweep folder and the worker processes on this machine;
- ``report``: the trials table, the best config as TOML, and plots.
"""
