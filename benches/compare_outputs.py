#!/usr/bin/env python3
"""Compares two crossthemes output folders: same paragraphs -> themes, same
labels, same numbers. Only what differs from run to run by nature is left
out: the run's start time, its timings and the paths it was given.

Usage: compare_outputs.py OLD_OUTPUT NEW_OUTPUT   (exit 0 when the same)

Used to check that a change of the code's structure changed no result: run
the old binary and the new one on the same input, then compare.
"""
import csv
import io
import json
import sys
from pathlib import Path

CSV_FILES = ["paragraphs.csv", "themes.csv", "theme_examples.csv"]
# Facts about the run rather than its results.
RUN_JSON_VOLATILE = {"started_at", "timings_seconds", "output", "cache", "inputs"}
RUNS_CSV_VOLATILE = {"time", "seconds"}


def read_csv(path):
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def main(old, new):
    problems = []
    for name in CSV_FILES:
        if (old / name).read_bytes() != (new / name).read_bytes():
            a, b = read_csv(old / name), read_csv(new / name)
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            problems.append(f"{name}: differs (rows {len(a)} vs {len(b)}, first at row {first + 1})")
    old_runs = [{k: v for k, v in r.items() if k not in RUNS_CSV_VOLATILE} for r in read_csv(old / "runs.csv")]
    new_runs = [{k: v for k, v in r.items() if k not in RUNS_CSV_VOLATILE} for r in read_csv(new / "runs.csv")]
    if old_runs != new_runs:
        problems.append(f"runs.csv: {old_runs} vs {new_runs}")
    history = [json.loads((d / "themes_history.json").read_text()) for d in (old, new)]
    if history[0] != history[1]:
        problems.append("themes_history.json differs")
    runs = [json.loads((d / "run.json").read_text()) for d in (old, new)]
    for key in sorted(set(runs[0]) | set(runs[1]) - RUN_JSON_VOLATILE):
        if key in RUN_JSON_VOLATILE:
            continue
        if runs[0].get(key) != runs[1].get(key):
            problems.append(f"run.json {key}: {runs[0].get(key)!r} vs {runs[1].get(key)!r}")
    for p in problems:
        print(p)
    print(f"{old} vs {new}: " + ("same results" if not problems else f"{len(problems)} differences"))
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
