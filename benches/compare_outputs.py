#!/usr/bin/env python3
"""Compares two crossthemes output folders: same paragraphs -> themes, same
labels, same numbers. Only what differs from run to run by nature is left
out: the run's start time, its timings, its peak memory and the paths it
was given. report.html is compared byte for byte, and so is every part of
themes.xlsx but for its document properties and the run's time and length.

Usage: compare_outputs.py OLD_OUTPUT NEW_OUTPUT   (exit 0 when the same)

Used to check that a change of the code's structure changed no result: run
the old binary and the new one on the same input, then compare.
"""
import csv
import io
import json
import re
import sys
import zipfile
from pathlib import Path

CSV_FILES = ["paragraphs.csv", "themes.csv", "theme_examples.csv"]
# Facts about the run rather than its results.
RUN_JSON_VOLATILE = {"started_at", "timings_seconds", "output", "cache", "inputs"}
RUNS_CSV_VOLATILE = {"time", "seconds"}
RUN_JSON_VOLATILE |= {"peak_memory_mb"}
TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT[\d:.]+(Z|\+00:00)")
# The Runs sheet's seconds column (H), as volatile as runs.csv's.
RUNS_SECONDS = re.compile(rb'(<c r="H\d+"[^>]*><v>)[^<]*')


def sheet_part(data):
    """A workbook part with the run's start time and duration left out."""
    data = TIMESTAMP.sub(b"TIME", data)
    if b">reused_from_cache<" in data:
        data = RUNS_SECONDS.sub(rb"\1SECONDS", data)
    return data


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
    if (old / "report.html").read_bytes() != (new / "report.html").read_bytes():
        problems.append("report.html differs")
    # The workbook's parts but its document properties (they carry the time).
    sheets = []
    for d in (old, new):
        with zipfile.ZipFile(d / "themes.xlsx") as z:
            sheets.append({n: sheet_part(z.read(n)) for n in z.namelist() if not n.startswith("docProps/")})
    for name in sorted(set(sheets[0]) | set(sheets[1])):
        if sheets[0].get(name) != sheets[1].get(name):
            problems.append(f"themes.xlsx {name} differs")
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
