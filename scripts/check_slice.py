"""Check one writing slice before it is merged: counts, lengths, style markers, near-twins.

    python scripts/check_slice.py SLICE.csv [--corpus datasets/]

The slice is a CSV with the corpus columns plus ``type`` (the inventory id of the ask). Near-twins
(character-trigram Jaccard >= 0.6) are reported inside the slice and against the corpus.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

from boundary_nlp.data import SPLITS, _trigrams, near_twins
from boundary_nlp.markers import format_marker_table, marker_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slice", type=Path)
    parser.add_argument("--corpus", type=Path, default=Path("datasets"))
    args = parser.parse_args(argv)
    with open(args.slice, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = [
        (i + 1, r)
        for i, r in enumerate(rows)
        if r.get("label") not in ("in_scope", "courtesy", "prohibited") or not (r.get("text") or "").strip()
    ]
    for number, row in bad:
        print(f"row {number}: bad label or empty text: {row}")
    texts = [r["text"] for r in rows]
    labels = [r["label"] for r in rows]
    print(f"{len(rows)} rows:", dict(Counter(labels)))
    print("registers:", dict(Counter(r.get("register") for r in rows)))
    print("domains:", dict(Counter(r.get("domain") for r in rows)))
    n = len(rows) or 1
    print(
        f"<=12 chars {sum(len(t) <= 12 for t in texts) / n:.1%}, >=60 chars "
        f"{sum(len(t) >= 60 for t in texts) / n:.1%}, multi_ask "
        f"{sum(r.get('multi_ask') == '1' for r in rows) / n:.1%}"
    )
    types = Counter(r.get("type", "") for r in rows)
    print(f"{len(types)} distinct types; rows without type: {types.get('', 0)}")
    print(format_marker_table(marker_table(texts, labels, ["in_scope", "courtesy", "prohibited"])))
    grams = [_trigrams(t) for t in texts]
    inner = near_twins(grams, grams, same=True)
    for q, (p, score) in sorted(inner.items()):
        print(f"near-twin inside slice: row {q + 1} ~ row {p + 1} ({score:.2f}): {texts[q]} | {texts[p]}")
    corpus = []
    for split in SPLITS:
        path = args.corpus / f"{split}.csv"
        if path.is_file():
            with open(path, encoding="utf-8", newline="") as fh:
                corpus += [r["text"] for r in csv.DictReader(fh)]
    if corpus:
        outer = near_twins(grams, [_trigrams(t) for t in corpus])
        for q, (p, score) in sorted(outer.items()):
            print(f"near-twin of corpus: row {q + 1} ({score:.2f}): {texts[q]} | {corpus[p]}")
        print(f"{len(inner)} rows with a twin inside the slice, {len(outer)} with a twin in the corpus")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
