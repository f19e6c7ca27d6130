"""Merge a writing round's slices into the corpus: review outcomes, dedupe, near-twins, split.

    python scripts/merge_round.py --slices /work/slices --letters PQRSTU --seed 20261203

Each slice is ``<LETTER>.csv`` (corpus columns plus ``type``); its review, if any, is
``review-<LETTER>.csv`` (``id,label,verdict,new_label,multi_ask_ok,reason``): ``drop`` rows
are left out, ``flip`` rows take ``new_label``, and ``multi_ask_ok = 0/no`` flips the
row's ``multi_ask``. Then, in order:

1. exact duplicates (after the library's normalization) of corpus rows or of earlier new
   rows are left out;
2. a new row with a near-twin (character-trigram Jaccard >= 0.6) in dev or test is left out;
   one with a near-twin in train goes to train;
3. groups of near-twins among the new rows go to train whole;
4. the rest is split stratified by label, about 70/15/15, with ``--seed``; dev and test get
   the same number of rows of each label.

Existing rows keep their splits. The corpus files are rewritten atomically; the row types
are added to ``datasets/inventory/row_types.csv`` and the slices' in-scope work types to
``datasets/inventory/in_scope.csv`` (earlier rounds' entries are kept). Slice ids that are
already corpus ids stop the merge (exit 2) before anything is written. A summary is printed.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

from boundary_nlp._files import write_bytes
from boundary_nlp.data import SPLITS, _trigrams, near_twins
from boundary_nlp.text import normalize

COLUMNS = ["id", "text", "label", "domain", "register", "multi_ask"]


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def csv_bytes(rows: list[dict], columns: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def read_existing(path: Path) -> dict[str, dict]:
    """An inventory file's rows by id (empty when the file does not exist yet): a round adds to it."""
    return {row["id"]: row for row in read_csv(path)} if path.is_file() else {}


def apply_review(rows: list[dict], review: list[dict], stats: Counter) -> list[dict]:
    by_id = {r["id"]: r for r in review}
    kept = []
    for row in rows:
        verdict = by_id.get(row["id"])
        if verdict is None:
            kept.append(row)
            continue
        stats["reviewed"] += 1
        if verdict["verdict"].strip() == "drop":
            stats["review_drop"] += 1
            continue
        row = dict(row)
        if verdict["verdict"].strip() == "flip":
            stats["review_flip"] += 1
            row["label"] = verdict["new_label"].strip()
        if verdict.get("multi_ask_ok", "").strip().lower() in ("0", "no", "false"):
            stats["multi_ask_fixed"] += 1
            row["multi_ask"] = "0" if row["multi_ask"] == "1" else "1"
        kept.append(row)
    return kept


def split_new(rows: list[dict], seed: int) -> dict[str, list[dict]]:
    """Stratified ~70/15/15; dev and test get the same count per label."""
    rng = random.Random(seed)
    out: dict[str, list[dict]] = {split: [] for split in SPLITS}
    by_label: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_label[row["label"]].append(row)
    for label in sorted(by_label):
        group = sorted(by_label[label], key=lambda r: r["id"])
        rng.shuffle(group)
        held = round(len(group) * 0.15)
        out["dev"] += group[:held]
        out["test"] += group[held : 2 * held]
        out["train"] += group[2 * held :]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=Path, required=True)
    parser.add_argument("--letters", required=True)
    parser.add_argument("--corpus", type=Path, default=Path("datasets"))
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)

    corpus = {split: read_csv(args.corpus / f"{split}.csv") for split in SPLITS}
    stats: Counter = Counter()
    new_rows: list[dict] = []
    inventory: list[dict] = []
    for letter in args.letters:
        rows = read_csv(args.slices / f"{letter}.csv")
        stats["written"] += len(rows)
        review_path = args.slices / f"review-{letter}.csv"
        if review_path.is_file():
            rows = apply_review(rows, read_csv(review_path), stats)
        new_rows += rows
        inventory_path = args.slices / f"{letter}-in_scope-inventory.csv"
        if inventory_path.is_file():
            inventory += read_csv(inventory_path)

    corpus_ids = {r["id"] for split in SPLITS for r in corpus[split]}
    clashes = sorted(r["id"] for r in new_rows if r["id"] in corpus_ids)
    if clashes:
        print(
            f"error: {len(clashes)} slice ids are already corpus ids (first {clashes[0]}): "
            "give the slice an unused letter",
            file=sys.stderr,
        )
        return 2
    seen = {normalize(r["text"]) for split in SPLITS for r in corpus[split]}
    unique = []
    for row in new_rows:
        key = normalize(row["text"])
        if key in seen:
            stats["exact_duplicate"] += 1
            continue
        seen.add(key)
        unique.append(row)

    grams = [_trigrams(r["text"]) for r in unique]
    forced_train: set[int] = set()
    dropped: set[int] = set()
    for split in SPLITS:
        twins = near_twins(grams, [_trigrams(r["text"]) for r in corpus[split]])
        for index in twins:
            if split == "train":
                forced_train.add(index)
            else:
                dropped.add(index)
    stats["dropped_twin_of_dev_test"] = len(dropped)
    inner = near_twins(grams, grams, same=True)
    for index, (other, _) in inner.items():
        if index not in dropped:
            forced_train.add(index)
        if other not in dropped:
            forced_train.add(other)
    forced_train -= dropped
    stats["to_train_as_near_twin"] = len(forced_train)

    free = [row for i, row in enumerate(unique) if i not in dropped and i not in forced_train]
    parts = split_new(free, args.seed)
    parts["train"] += [unique[i] for i in sorted(forced_train)]
    for split in SPLITS:
        stats[f"new_{split}"] = len(parts[split])
        merged = corpus[split] + sorted(parts[split], key=lambda r: r["id"])
        write_bytes(args.corpus / f"{split}.csv", csv_bytes(merged, COLUMNS))

    kept_ids = {r["id"] for split in SPLITS for r in parts[split]}
    folder = args.corpus / "inventory"
    types = read_existing(folder / "row_types.csv")
    types.update({r["id"]: {"id": r["id"], "type": r["type"]} for r in unique if r["id"] in kept_ids})
    work_types = read_existing(folder / "in_scope.csv")
    work_types.update({r["id"]: r for r in inventory})
    ordered = sorted(types.values(), key=lambda r: r["id"])
    write_bytes(folder / "row_types.csv", csv_bytes(ordered, ["id", "type"]))
    write_bytes(folder / "in_scope.csv", csv_bytes(list(work_types.values()), ["id", "domain", "work type"]))
    for key in sorted(stats):
        print(f"{key}: {stats[key]}")
    print("labels of kept new rows:", dict(Counter(r["label"] for r in unique if r["id"] in kept_ids)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
