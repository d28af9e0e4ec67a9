#!/usr/bin/env python3
"""How well ingest and language identification did on a benchmark with gold
paragraphs: how many gold paragraphs came out as rows of their own with their
own text (whitespace aside), how many got their gold language, and which
languages were reported that the benchmark does not contain.

Usage: ingest_quality.py GOLD_CSV PARAGRAPHS_CSV [--show N]
Run the job on the benchmark's articles first, e.g.
  crossthemes --input ../shared/bench/installguide/articles --output /tmp/ig
"""
import collections
import csv
import io
import sys


def norm(text):
    return " ".join(text.split())


def main(gold_path, paragraphs_path, show):
    gold = list(csv.DictReader(open(gold_path, encoding="utf-8")))
    rows = list(csv.DictReader(io.StringIO(open(paragraphs_path, encoding="utf-8-sig").read(), newline="")))
    produced = {(r["file"], norm(r["text"])): r for r in rows}

    missing = [g for g in gold if (g["file"], norm(g["text"])) not in produced]
    found = len(gold) - len(missing)
    print(f"paragraphs: {found} of {len(gold)} gold paragraphs are rows of their own "
          f"({100 * found / len(gold):.1f} %)")
    for g in missing[:show]:
        print(f"  missing {g['file']}: {norm(g['text'])[:110]}")

    gold_language = lambda g: g["lang"].split("_")[0].lower()
    matched = [(produced[(g["file"], norm(g["text"]))], gold_language(g))
               for g in gold if (g["file"], norm(g["text"])) in produced]
    wrong = [(r, lang) for r, lang in matched if r["language"] != lang]
    right = len(matched) - len(wrong)
    print(f"languages: {right} of {len(matched)} in their gold language "
          f"({100 * right / max(1, len(matched)):.1f} %)")
    known = {gold_language(g) for g in gold}
    extra = collections.Counter(r["language"] for r in rows if r["language"] not in known)
    print(f"languages not in the benchmark: {dict(extra) or 'none'}")
    for r, lang in wrong[:show]:
        print(f"  {r['file']}: {r['language']} ({r.get('language_confidence', '')}) for {lang}: "
              f"{norm(r['text'])[:90]}")
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
