#!/usr/bin/env python3
"""How many gold paragraphs of a benchmark come out of ingest as their own
rows with their own text (whitespace aside), and which do not.

Usage: paragraph_recall.py GOLD_CSV PARAGRAPHS_CSV [--show N]
Run the job on the benchmark's articles first, e.g.
  crossthemes --input ../shared/bench/installguide/articles --output /tmp/ig
"""
import csv
import io
import sys


def norm(text):
    return " ".join(text.split())


def main(gold_path, paragraphs_path, show):
    gold = list(csv.DictReader(open(gold_path, encoding="utf-8")))
    rows = list(csv.DictReader(io.StringIO(open(paragraphs_path, encoding="utf-8-sig").read(), newline="")))
    produced = {(r["file"], norm(r["text"])) for r in rows}
    missing = [g for g in gold if (g["file"], norm(g["text"])) not in produced]
    found = len(gold) - len(missing)
    print(f"{found} of {len(gold)} gold paragraphs are rows of their own ({100 * found / len(gold):.1f} %)")
    for g in missing[:show]:
        print(f"  missing {g['file']}: {norm(g['text'])[:110]}")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    show = 10
    if "--show" in args:
        i = args.index("--show")
        show = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    sys.exit(main(args[0], args[1], show))
