#!/usr/bin/env python3
"""Agreement of paragraphs.csv's languages with a benchmark's gold languages,
and the languages reported that the benchmark does not contain.

Usage: language_accuracy.py GOLD_CSV PARAGRAPHS_CSV [--show N]
"""
import collections
import csv
import io
import sys


def norm(text):
    return " ".join(text.split())


def main(gold_path, paragraphs_path, show):
    gold = {(g["file"], norm(g["text"])): g["lang"].split("_")[0].lower()
            for g in csv.DictReader(open(gold_path, encoding="utf-8"))}
    rows = list(csv.DictReader(io.StringIO(open(paragraphs_path, encoding="utf-8-sig").read(), newline="")))
    matched = [(r, gold[(r["file"], norm(r["text"]))]) for r in rows if (r["file"], norm(r["text"])) in gold]
    right = [r for r, lang in matched if r["language"] == lang]
    print(f"{len(right)} of {len(matched)} paragraphs in their gold language "
          f"({100 * len(right) / max(1, len(matched)):.1f} %)")
    known = set(gold.values())
    extra = collections.Counter(r["language"] for r in rows if r["language"] not in known)
    print(f"languages not in the benchmark: {dict(extra) or 'none'}")
    for r, lang in [m for m in matched if m[0]["language"] != m[1]][:show]:
        print(f"  {r['file']}: {r['language']} ({r.get('language_confidence', '')}) for {lang}: {norm(r['text'])[:90]}")
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
