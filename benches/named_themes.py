#!/usr/bin/env python3
"""Scores crossthemes runs on installguide against its gold chapters.

    named_themes.py GOLD.csv CHAPTERS.csv OUTPUT_DIR...

For each output folder (a run of the job on the installguide articles):
themes, NMI(theme, chapter), translation-pair agreement (share of pairs of
translations of one paragraph in one theme), NMI(theme, language), and, for
the named themes of CHAPTERS.csv (columns name and chapter), their
paragraphs and the share of them from the chapter they name. With several
folders of one setting (seeds), the means and standard errors.
"""
import csv
import math
import statistics
import sys
from collections import Counter, defaultdict


def nmi(a, b):
    n = len(a)
    joint = Counter(zip(a, b))
    pa, pb = Counter(a), Counter(b)
    mi = sum(c / n * math.log(c * n / (pa[x] * pb[y])) for (x, y), c in joint.items())
    h = lambda counts: -sum(c / n * math.log(c / n) for c in counts.values())
    total = h(pa) + h(pb)
    return 1.0 if total == 0 else max(0.0, min(1.0, 2 * mi / total))


def read(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def score(gold, chapters, folder):
    paragraphs = {(r["file"], r["text"]): r for r in read(f"{folder}/paragraphs.csv")}
    themes = {r["theme"]: r for r in read(f"{folder}/themes.csv")}
    rows = [(g, paragraphs[(g["file"], g["text"])]) for g in gold if (g["file"], g["text"]) in paragraphs]
    theme = [p["theme"] for _, p in rows]
    groups = defaultdict(list)
    for (g, p) in rows:
        groups[g["group"]].append(p["theme"])
    same = pairs = 0
    for members in groups.values():
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                pairs += 1
                same += members[i] == members[j]
    named_sizes, named_precision = [], []
    for name, chapter in chapters.items():
        ids = [t for t, r in themes.items() if r["label"] == name]
        members = [g["chapter"] for g, p in rows if p["theme"] in ids]
        named_sizes.append(len(members))
        if members:
            named_precision.append(sum(c == chapter for c in members) / len(members))
    return {
        "matched": len(rows),
        "themes": len(themes),
        "nmi_chapter": nmi(theme, [g["chapter"] for g, _ in rows]),
        "agreement": same / max(pairs, 1),
        "nmi_language": nmi(theme, [g["lang"] for g, _ in rows]),
        "named_empty": sum(1 for s in named_sizes if s == 0) if chapters else float("nan"),
        "named_paragraphs": sum(named_sizes) if chapters else float("nan"),
        "named_precision": statistics.mean(named_precision) if named_precision else float("nan"),
    }


def main():
    gold = read(sys.argv[1])
    chapters = {r["name"]: r["chapter"] for r in read(sys.argv[2])}
    by_setting = defaultdict(list)
    for folder in sys.argv[3:]:
        setting = folder.rsplit("-seed", 1)[0]
        named = "named" in setting.rsplit("/", 1)[-1]
        by_setting[setting].append(score(gold, chapters if named else {}, folder))
    keys = ["themes", "nmi_chapter", "agreement", "nmi_language", "named_empty", "named_paragraphs", "named_precision"]
    print("| setting | runs | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 2) + "|")
    for setting, scores in by_setting.items():
        cells = []
        for k in keys:
            xs = [s[k] for s in scores if not math.isnan(s[k])]
            if not xs:
                cells.append("–")
            elif len(xs) > 1:
                cells.append(f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs) / math.sqrt(len(xs)):.3f}")
            else:
                cells.append(f"{xs[0]:.3f}")
        print(f"| {setting.rsplit('/', 1)[-1]} | {len(scores)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
