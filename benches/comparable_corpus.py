#!/usr/bin/env python3
"""Comparable text from the manual-page corpus, and how much its themes follow language.

  comparable_corpus.py pick MANPAGES OUT [--min-languages N] [--seed S]
      Keeps each page translated into at least N languages (default 5) in one
      language only, drawn at random among those it has, so that language says
      nothing about the page: OUT/LANG/PAGE.txt (copies).
  comparable_corpus.py score OUTPUT_FOLDER
      NMI(theme, language of the page) over paragraphs.csv (language = the
      first folder of `file`), with the theme count and the paragraphs.

Pure standard library; run by `just bench-comparable`.
"""
import collections
import csv
import math
import random
import shutil
import sys
from pathlib import Path


def page_name(path: Path) -> str:
    # manpages_corpus.sh names a page NAME.SECTION.HASH.txt; the hash tells
    # apart copies of one page in different folders of one language.
    return path.name.rsplit(".", 2)[0]


def pick(manpages: Path, out: Path, min_languages: int, seed: int) -> None:
    by_page = collections.defaultdict(dict)
    for language_dir in sorted(p for p in manpages.iterdir() if p.is_dir()):
        for page in sorted(language_dir.glob("*.txt")):
            by_page[page_name(page)].setdefault(language_dir.name, page)
    rng = random.Random(seed)
    kept = collections.Counter()
    if out.exists():
        shutil.rmtree(out)
    for name in sorted(by_page):
        versions = by_page[name]
        if len(versions) < min_languages:
            continue
        language = rng.choice(sorted(versions))
        (out / language).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(versions[language], out / language / f"{name}.txt")
        kept[language] += 1
    total = sum(kept.values())
    print(f"{total} pages in {len(kept)} languages, each in one language: "
          + ", ".join(f"{l} {n}" for l, n in kept.most_common()))


def nmi(a, b) -> float:
    n = len(a)
    joint = collections.Counter(zip(a, b))
    pa, pb = collections.Counter(a), collections.Counter(b)
    mi = sum(c / n * math.log(c * n / (pa[x] * pb[y])) for (x, y), c in joint.items())
    entropy = lambda counts: -sum(c / n * math.log(c / n) for c in counts.values())
    h = entropy(pa) + entropy(pb)
    return 1.0 if h == 0 else max(0.0, 2 * mi / h)


def score(output: Path) -> None:
    with open(output / "paragraphs.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    themes = [r["theme"] for r in rows]
    languages = [Path(r["file"]).parts[0] for r in rows]
    # The page's manual section (1 commands, 2 system calls, 3 library, 5
    # files, 7 overviews, 8 administration): a coarse topic that tells how
    # much the language packs differ in what they translate.
    sections = [Path(r["file"]).stem.rsplit(".", 1)[-1][:1] for r in rows]
    print(f"{len(rows)} paragraphs, {len(set(themes))} themes, "
          f"{len(set(languages))} languages: NMI(theme, language) = {nmi(themes, languages):.3f}, "
          f"NMI(theme, section) = {nmi(themes, sections):.3f}; "
          f"NMI(section, language) = {nmi(sections, languages):.3f}")


def main(argv) -> None:
    if len(argv) >= 3 and argv[0] == "pick":
        options = dict(zip(argv[3::2], argv[4::2]))
        pick(Path(argv[1]), Path(argv[2]), int(options.get("--min-languages", 5)),
             int(options.get("--seed", 1)))
    elif len(argv) == 2 and argv[0] == "score":
        score(Path(argv[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
