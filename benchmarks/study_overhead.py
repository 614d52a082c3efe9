"""Where the wall time of a study's runs goes: each run's phases, per setting.

    python benchmarks/study_overhead.py FOLDER [FOLDER ...]

FOLDER: a study's folder, any folder holding runs, or a run. Each finished run's metrics.json
holds `phases` (docs/running.md): from the process's start to the first training step
(`start_up`, `data`, `build`, `first_step`), `training`, then `after_training` (saving,
predicting the test split, the reports, until metrics.json). Prints, per setting (as
`mtl-keras compare` groups runs) and over all runs, the mean ± std of each phase in seconds,
the overhead (`to_first_step` + `after_training`) and its share of the run's wall time
(`total`); `exit`, from metrics.json to the end of the process (in a study's worker: to the
run's status, the worker reset for the next run), is the study's wall time of the run
(study_run.json, summed over attempts: a resumed run's is too large) less `total`.
Ends with the phase that takes most of the overhead. Runs written before metrics.json held
`phases` are counted and left out of that table.

A second table compares any versions' runs: the run's wall time in the study
(study_run.json's `process_seconds`), its epochs' (history.csv's `epoch_seconds`, validation
and the first step's tracing included) and the rest, mean ± std and summed over the runs.
"""

import csv
import os
import statistics
import sys

from absl import app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mtl_keras import fileio  # noqa: E402
from mtl_keras.studies import comparison  # noqa: E402

OVERHEAD = ("start_up", "data", "build", "first_step", "after_training")
COLUMNS = (*OVERHEAD[:4], "training", "after_training", "exit", "overhead", "total")


def _process_seconds(run):
    """The run's wall time in its study (study_run.json), None without a record."""
    record_path = os.path.join(run.path, comparison.STUDY_RECORD)
    if not os.path.exists(record_path):
        return None
    return fileio.read_json(record_path).get("process_seconds")


def _phases(run, seconds):
    """The run's phases (metrics.json) with `exit` (from `seconds`, its process time); None
    for a run without them."""
    phases = fileio.read_json(os.path.join(run.path, "metrics.json")).get("phases")
    if not phases:
        return None
    total = phases.get("total")
    exit_seconds = None if seconds is None or total is None else max(seconds - total, 0.0)
    return {**phases, "exit": exit_seconds}


def _coarse(run, seconds):
    """{process, epochs, rest} in seconds for a run of any version whose process time is
    `seconds`; None without it or without history.csv."""
    history_path = os.path.join(run.path, "history.csv")
    if seconds is None or not os.path.exists(history_path):
        return None
    with open(history_path, newline="", encoding="utf-8") as history:
        epochs = sum(float(row["epoch_seconds"]) for row in csv.DictReader(history)
                     if row.get("epoch_seconds"))
    return {"process": seconds, "epochs": epochs, "rest": seconds - epochs}


def coarse_table(labelled_rows):
    """A Markdown table of `_coarse` rows: mean ± std per run and the sum over the runs."""
    lines = ["| setting | runs | process (s) | epochs (s) | rest (s) | summed: process | epochs "
             "| rest |", "|---|---|---|---|---|---|---|---|"]
    for label, rows in labelled_rows:
        means = [_cell([row[key] for row in rows]) for key in ("process", "epochs", "rest")]
        sums = [f"{sum(row[key] for row in rows):.0f}" for key in ("process", "epochs", "rest")]
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(means + sums) + " |")
    return "\n".join(lines)


def _cell(values):
    values = [value for value in values if value is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values):.1f}"


def _share(rows):
    shares = [row["overhead"] / row["total"] for row in rows
              if row.get("overhead") is not None and row.get("total")]
    return f"{100 * statistics.fmean(shares):.0f} %" if shares else "–"


def table(labelled_rows):
    """A Markdown table: one line per (label, [phases of each run])."""
    lines = ["| setting | runs | " + " | ".join(COLUMNS) + " | overhead share |",
             "|---|---|" + "---|" * len(COLUMNS) + "---|"]
    for label, rows in labelled_rows:
        cells = [_cell([row.get(column) for row in rows]) for column in COLUMNS]
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(cells) + f" | {_share(rows)} |")
    return "\n".join(lines)


def dominant(rows):
    """(the phase with the largest mean share of the overhead, that share)."""
    means = {phase: statistics.fmean(row[phase] for row in rows if row.get(phase) is not None)
             for phase in OVERHEAD if any(row.get(phase) is not None for row in rows)}
    overhead = sum(means.values())
    phase = max(means, key=means.get)
    return phase, means[phase] / overhead if overhead else 0.0


def main(argv):
    folders = argv[1:]
    if not folders:
        raise app.UsageError("give study folders (or run folders)")
    finished, _ = comparison.find_runs(folders)
    coarse, labelled, everything, without = [], [], [], 0
    for setting in comparison.group(finished):
        timed = [(run, _process_seconds(run)) for run in setting.runs]
        rows = [row for row in (_coarse(run, seconds) for run, seconds in timed) if row]
        if rows:
            coarse.append((setting.label, rows))
        rows = [row for row in (_phases(run, seconds) for run, seconds in timed) if row]
        without += len(setting.runs) - len(rows)
        if rows:
            labelled.append((setting.label, rows))
            everything += rows
    if coarse:
        print(coarse_table([*coarse, ("all runs", [row for _, rows in coarse for row in rows])]))
        print("\nprocess: the run's wall time in the study (study_run.json); epochs: history.csv's "
              "epoch_seconds summed (the first step's tracing and validation included); rest: "
              "the difference.\n")
    if not everything:
        print(f"No finished run with phases in {', '.join(folders)}.")
        return
    print(table([*labelled, ("all runs", everything)]))
    phase, share = dominant(everything)
    print(f"\nSeconds, mean ± std over runs; overhead = start_up + data + build + first_step + "
          f"after_training. The largest part of the overhead: {phase} ({100 * share:.0f} %).")
    if without:
        print(f"{without} finished runs hold no phases (written by an older version), left out.")


if __name__ == "__main__":
    app.run(main)
