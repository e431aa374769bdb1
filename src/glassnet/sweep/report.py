"""What a study found: the trials table, the best config as TOML, and Optuna's plots."""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path
from typing import Any

import optuna

from glassnet.atomic import atomic_open, atomic_write_text
from glassnet.sweep.failures import error_of
from glassnet.sweep.space import decode
from glassnet.sweep.spec import SweepSpec
from glassnet.sweep.study import FINISHED

COLUMNS = ("number", "state", "value", "epochs", "seconds", "retry_of", "host", "pid", "run_dir", "error")


def trial_rows(study: optuna.Study, spec: SweepSpec) -> list[dict[str, Any]]:
    """One row per trial, in order: its state, value, drawn config fields, epochs trained and where it ran."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"number": t.number, "state": t.state.name.lower(),
                               "value": t.value if t.state in FINISHED else None,
                               "epochs": t.user_attrs.get("epochs"), "seconds": t.user_attrs.get("seconds"),
                               "retry_of": t.system_attrs.get("failed_trial"), "host": t.user_attrs.get("host"),
                               "pid": t.user_attrs.get("pid"),
                               "run_dir": t.user_attrs.get("run_dir"), "error": error_of(t)}
        row |= {d.field: decode(t.params[d.field]) if d.field in t.params else None for d in spec.space}
        rows.append(row)
    return rows


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The complete trial with the best value (the first of equals), or None before any completes."""
    try:
        return study.best_trial
    except ValueError:
        return None


def best_toml(spec: SweepSpec, trial: optuna.trial.FrozenTrial) -> str:
    """The best trial's whole config, ready for ``glassnet train --config``."""
    config = spec.config_for(trial.params)
    subset = f" on the first {spec.train_subset} training images" if spec.train_subset else ""
    header = (f"# The best trial of sweep {spec.name!r}: trial {trial.number}, validation {spec.objective} "
              f"{trial.value:.6g}{subset}.\n"
              f"# Train it with: glassnet train --config best.toml --out RUN\n"
              f"# It holds out validation_size = {config.validation_size} images, as the trials did; set it to 0 "
              "to train on all of them and report the test set.\n")
    return header + config.to_toml()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def table_text(rows: list[dict[str, Any]], fields: list[str]) -> str:
    """The trials as a Markdown table (the columns worth reading in a terminal)."""
    names = ["number", "state", "value", *fields, "epochs", "seconds", "retry_of"]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(_cell(row[n]) for n in names) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_report(study: optuna.Study, spec: SweepSpec, folder: Path) -> list[str]:
    """report.md, trials.csv, best.toml (when a trial completed) and plots/*.png into ``folder``; returns the names."""
    rows = trial_rows(study, spec)
    fields = [d.field for d in spec.space]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=[*COLUMNS, *fields], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(folder / "trials.csv", text.getvalue())
    written = ["trials.csv"]
    best = best_trial(study)
    if best is not None:
        atomic_write_text(folder / "best.toml", best_toml(spec, best))
        written.append("best.toml")
    plots = _plots(study, folder / "plots", f"validation {spec.objective}")
    states = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail", "running", "waiting")}
    lines = [f"# Sweep {spec.name}", "",
             f"Objective: validation {spec.objective} ({spec.direction}); sampler {spec.sampler}, seed {spec.seed}; "
             f"{spec.trials} trials asked. Trials: " + ", ".join(f"{n} {s}" for s, n in states.items() if n) + ".", ""]
    if best is not None:
        lines += [f"Best: trial {best.number}, validation {spec.objective} {best.value:.6g} with "
                  + ", ".join(f"{k} = {decode(v)}" for k, v in best.params.items())
                  + ". Its whole config is in best.toml.", ""]
    lines += [table_text(rows, fields)]
    lines += [f"![{name}](plots/{name})" for name in plots]
    atomic_write_text(folder / "report.md", "\n".join(lines) + "\n")
    return [*written, "report.md", *(f"plots/{p}" for p in plots)]


def _plots(study: optuna.Study, folder: Path, objective: str) -> list[str]:
    """Optuna's optimisation history, intermediate values, parameter importances and parallel coordinates."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from optuna.visualization import matplotlib as views
    except ImportError:
        return []
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return []
    wanted: list[tuple[str, Any]] = [("optimization_history.png", views.plot_optimization_history),
                                     ("intermediate_values.png", views.plot_intermediate_values)]
    if len(complete) >= 2:
        wanted += [("param_importances.png", views.plot_param_importances),
                   ("parallel_coordinate.png", views.plot_parallel_coordinate)]
    folder.mkdir(exist_ok=True)
    written = []
    for name, plot in wanted:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                axes = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError):   # too few distinct trials for this view
                plt.close("all")
                continue
        if name in ("optimization_history.png", "intermediate_values.png"):
            axes.set(xlabel="trial" if name.startswith("optimization") else "epoch", ylabel=objective)
        figure = axes.ravel()[0].figure if hasattr(axes, "ravel") else axes.figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        with atomic_open(folder / name) as f:
            figure.savefig(f, format="png", dpi=100)
        plt.close(figure)
        written.append(name)
    return written
