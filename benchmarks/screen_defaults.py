"""Screen candidate default settings against the public reference, on training data only.

`run.py` scores `BoundaryClassifier()` once on the public test folds. Choosing a new default by
rerunning it would tune on those folds, so candidates are compared here instead, by nested
cross-validation inside the training parts:

- waimai_10k: inside each of the 5 outer training parts that `run.py` uses
  (StratifiedKFold(5, shuffle=True, random_state=0)), an inner StratifiedKFold(5, same seed);
  the outer test folds are never scored;
- THUCNews titles: StratifiedKFold(5, same seed) inside dev.txt; test.txt is never read;
- our corpus: fit datasets/train.csv, score datasets/dev.csv; test.csv is never read.

Every candidate is paired with the reference (char 1-3 TF-IDF + LinearSVC, `run.py`'s
`reference_char_svc`) on the same split, and the report gives the mean paired margin in accuracy
points and how many splits the candidate won. The rule a candidate must pass to be worth a
full `run.py` is printed with the table:

    python benchmarks/screen_defaults.py                       # all three sources, ~25 min
    python benchmarks/screen_defaults.py --datasets corpus     # one source
    python benchmarks/screen_defaults.py --quick               # 1,500-row subsets, 2 outer folds
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.svm import LinearSVC

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent / "src"), str(BENCH_DIR)]

from run import (  # noqa: E402
    DATASETS,
    DEFAULT_EXTERNAL,
    ROOT,
    checkout_info,
    load_waimai,
    read_thucnews,
    reference_char_svc,
    waimai_folds,
)

from boundary_nlp import load_dataset  # noqa: E402
from boundary_nlp.features import build_feature_union  # noqa: E402
from boundary_nlp.inputs import truncate  # noqa: E402
from boundary_nlp.model import BoundaryClassifier  # noqa: E402
from boundary_nlp.text import JiebaSegmenter  # noqa: E402

PROHIBITED = "prohibited"
MIN_MARGIN = 0.15  # accuracy points over the reference, on both public sets
MAX_CORPUS_LOSS = 3  # dev rows right, or prohibited rows found, given up against the default
SEED = 0


class CachingSegmenter:
    """The default jieba segmenter, remembering each text: every split re-cuts the same texts."""

    def __init__(self, userdict: str) -> None:
        self.segmenter = JiebaSegmenter(userdict)
        self.cache: dict[str, list[str]] = {}

    def cut(self, text: str) -> list[str]:
        tokens = self.cache.get(text)
        if tokens is None:
            tokens = self.cache[text] = self.segmenter.cut(text)
        return list(tokens)


class DecisionSum:
    """Sum of two linear classifiers' decision values, the second scaled by ``weight``."""

    def __init__(self, first: Any, second: Any, weight: float) -> None:
        self.first, self.second, self.weight = first, second, weight

    def fit(self, features: tuple[Any, Any], y: np.ndarray) -> DecisionSum:
        self.first.fit(features[0], y)
        self.second.fit(features[1], y)
        self.classes_ = self.first.classes_
        return self

    def predict(self, features: tuple[Any, Any]) -> np.ndarray:
        decision = self.first.decision_function(features[0]) + self.weight * self.second.decision_function(
            features[1]
        )
        if decision.ndim == 1:
            return self.classes_[(decision > 0).astype(int)]
        return self.classes_[decision.argmax(axis=1)]


class NaiveBayesWeighted:
    """One-vs-rest linear models on features scaled by the naive Bayes log-count ratio."""

    def __init__(self, estimator: Any, alpha: float = 1.0) -> None:
        self.estimator, self.alpha = estimator, alpha

    def fit(self, X: Any, y: np.ndarray) -> NaiveBayesWeighted:
        self.classes_ = np.unique(y)
        targets = self.classes_ if len(self.classes_) > 2 else self.classes_[1:]
        self.parts_ = []
        for target in targets:
            positive = y == target
            p = (np.asarray(X[positive].sum(axis=0)).ravel() + self.alpha) / (positive.sum() + self.alpha)
            q = (np.asarray(X[~positive].sum(axis=0)).ravel() + self.alpha) / ((~positive).sum() + self.alpha)
            ratio = np.log(p / q)
            self.parts_.append((ratio, clone(self.estimator).fit(X.multiply(ratio).tocsr(), positive)))
        return self

    def predict(self, X: Any) -> np.ndarray:
        decision = np.column_stack([m.decision_function(X.multiply(r).tocsr()) for r, m in self.parts_])
        if len(self.classes_) == 2:
            return self.classes_[(decision[:, 0] > 0).astype(int)]
        return self.classes_[decision.argmax(axis=1)]


def default_lr() -> LogisticRegression:
    params = BoundaryClassifier().get_params()
    return LogisticRegression(
        C=params["C"],
        class_weight=params["class_weight"],
        max_iter=params["max_iter"],
        random_state=params["random_state"],
    )


def svc(C: float, class_weight: str | None = "balanced") -> LinearSVC:
    return LinearSVC(C=C, class_weight=class_weight, random_state=SEED)


def reference_classifier() -> LinearSVC:
    return reference_char_svc().steps[-1][1]


def nb_lr() -> NaiveBayesWeighted:
    return NaiveBayesWeighted(LogisticRegression(C=4.0, max_iter=5000, random_state=SEED))


def reference_plus_words() -> DecisionSum:
    return DecisionSum(svc(1.0, None), svc(1.0, None), 0.5)


# name -> (features it uses, estimator factory, description)
CANDIDATES: dict[str, tuple[str, Callable[[], Any], str]] = {
    "reference": (
        "reference",
        reference_classifier,
        "char 1-3 TF-IDF on raw text + LinearSVC(C=1) (the comparator)",
    ),
    "default": (
        "union",
        default_lr,
        "BoundaryClassifier() defaults: word 1-2 + char 1-3, LR C=10 balanced",
    ),
    "union_svc1": ("union", partial(svc, 1.0), "same features, LinearSVC(C=1, balanced)"),
    "union_svc05": ("union", partial(svc, 0.5), "same features, LinearSVC(C=0.5, balanced)"),
    "char14_lr": ("union14", default_lr, "word 1-2 + char 1-4, LR C=10 balanced"),
    "char14_svc05": ("union14", partial(svc, 0.5), "word 1-2 + char 1-4, LinearSVC(C=0.5, balanced)"),
    "nb_lr4": ("union", nb_lr, "word 1-2 + char 1-3 scaled by the NB log-count ratio, one-vs-rest LR C=4"),
    "reference_plus_words": (
        "reference+words",
        reference_plus_words,
        "reference + 0.5 x LinearSVC on the word 1-2 block (decision sum)",
    ),
}


def features(
    train: list[str], other: list[str], keys: set[str], segmenter: CachingSegmenter
) -> dict[str, tuple[Any, Any]]:
    """The (train, held-out) matrices of each feature set in ``keys``, built once per split."""
    params = BoundaryClassifier().get_params()
    word_range, char_range = tuple(params["word_ngram_range"]), tuple(params["char_ngram_range"])
    clipped_train = [truncate(t, params["max_chars"])[0] for t in train]
    clipped_other = [truncate(t, params["max_chars"])[0] for t in other]
    out = {}
    if keys & {"reference", "reference+words"}:
        reference = reference_char_svc().steps[0][1]
        out["reference"] = (reference.fit_transform(train), reference.transform(other))
    for key, chars in (("union", char_range), ("union14", (char_range[0], 4))):
        if key in keys or (key == "union" and "reference+words" in keys):
            union = build_feature_union(
                word_range, chars, params["min_df"], params["sublinear_tf"], segmenter
            )
            union.fit(clipped_train)
            out[key] = (union.transform(clipped_train).tocsr(), union.transform(clipped_other).tocsr())
            n_words = len(union.transformer_list[0][1].vocabulary_)  # the union is [word | char]
            out[key + ":words"] = (out[key][0][:, :n_words], out[key][1][:, :n_words])
    if "reference+words" in keys:
        out["reference+words"] = (
            (out["reference"][0], out["union:words"][0]),
            (out["reference"][1], out["union:words"][1]),
        )
    return out


def score_split(
    train: list[str],
    y_train: np.ndarray,
    other: list[str],
    y_other: np.ndarray,
    names: list[str],
    segmenter: CachingSegmenter,
    check_default: bool,
) -> dict[str, dict[str, float]]:
    blocks = features(train, other, {CANDIDATES[name][0] for name in names}, segmenter)
    scores: dict[str, dict[str, float]] = {}
    for name in names:
        key, make, _ = CANDIDATES[name]
        start = time.perf_counter()
        predicted = make().fit(blocks[key][0], y_train).predict(blocks[key][1])
        scores[name] = {
            "accuracy": float(np.mean(predicted == y_other)),
            "macro_f1": float(f1_score(y_other, predicted, average="macro")),
            "prohibited_hits": int(np.sum((predicted == PROHIBITED) & (y_other == PROHIBITED))),
            "seconds": time.perf_counter() - start,
        }
        if name == "default" and check_default:
            # the precomputed features must be exactly what BoundaryClassifier() fits on
            library = BoundaryClassifier().fit(train, y_train).predict(other)
            if not np.array_equal(library, predicted):
                raise AssertionError("the 'default' candidate disagrees with BoundaryClassifier()")
    return scores


def splits_for(source: str, quick: bool, external: Path) -> tuple[list[Any], str]:
    """(train texts, train labels, held-out texts, held-out labels) per split, and a description."""
    out = []
    if source == "corpus":
        train, dev = load_dataset(DATASETS / "train.csv"), load_dataset(DATASETS / "dev.csv")
        out.append(
            (
                list(train[0]),
                np.asarray(train[1], dtype=object),
                list(dev[0]),
                np.asarray(dev[1], dtype=object),
            )
        )
        return out, "datasets/train.csv -> datasets/dev.csv"
    if source == "waimai":
        x, y = load_waimai(external / "waimai_10k.csv")
        if quick:
            x, _, y, _ = train_test_split(x, y, train_size=1500, stratify=y, random_state=SEED)
        outer = waimai_folds(x, y)[: 2 if quick else 5]
        for train_part, _ in outer:  # the outer test fold is never touched
            xo, yo = x[train_part], y[train_part]
            for a, b in StratifiedKFold(5, shuffle=True, random_state=SEED).split(xo, yo):
                out.append((list(xo[a]), yo[a], list(xo[b]), yo[b]))
        return out, f"{len(outer)} outer training parts x inner 5-fold CV"
    texts, labels = read_thucnews(external / "thucnews_titles", "dev")
    x, y = np.asarray(texts, dtype=object), np.asarray(labels, dtype=object)
    if quick:
        x, _, y, _ = train_test_split(x, y, train_size=1500, stratify=y, random_state=SEED)
    for a, b in StratifiedKFold(5, shuffle=True, random_state=SEED).split(x, y):
        out.append((list(x[a]), y[a], list(x[b]), y[b]))
    return out, "5-fold CV inside dev.txt"


def summarize(per_split: list[dict[str, dict[str, float]]], names: list[str]) -> dict[str, Any]:
    reference = np.array([s["reference"]["accuracy"] for s in per_split])
    summary = {}
    for name in names:
        accuracy = np.array([s[name]["accuracy"] for s in per_split])
        margin = 100 * (accuracy - reference)
        summary[name] = {
            "accuracy": 100 * float(accuracy.mean()),
            "margin": float(margin.mean()),
            "wins": int((margin > 0).sum()),
            "losses": int((margin < 0).sum()),
            "macro_f1": 100 * float(np.mean([s[name]["macro_f1"] for s in per_split])),
            "prohibited_hits": int(sum(s[name]["prohibited_hits"] for s in per_split)),
            "fit_seconds": float(np.mean([s[name]["seconds"] for s in per_split])),
        }
    return summary


def verdicts(results: dict[str, Any], names: list[str]) -> dict[str, str]:
    out = {}
    public = [s for s in ("waimai", "thucnews") if s in results]
    for name in names:
        if name == "reference":
            continue
        reasons = [
            f"{s} margin {results[s]['summary'][name]['margin']:+.2f} <= +{MIN_MARGIN}"
            for s in public
            if results[s]["summary"][name]["margin"] <= MIN_MARGIN
        ]
        if "corpus" in results and "default" in names:
            corpus, base = results["corpus"]["summary"][name], results["corpus"]["summary"]["default"]
            rows = results["corpus"]["rows"]
            lost_rows = round((base["accuracy"] - corpus["accuracy"]) / 100 * rows)
            lost_hits = base["prohibited_hits"] - corpus["prohibited_hits"]
            if lost_rows > MAX_CORPUS_LOSS or lost_hits > MAX_CORPUS_LOSS:
                reasons.append(
                    f"corpus dev: {lost_rows} fewer rows right, {lost_hits} fewer prohibited found "
                    "than the default"
                )
        if len(public) < 2:
            reasons.append("needs both public sets")
        out[name] = "qualifies" if not reasons else "; ".join(reasons)
    return out


def render(results: dict[str, Any], names: list[str]) -> str:
    lines = []
    for source, result in results.items():
        lines.append(f"\n{source}: {result['protocol']}, {len(result['splits'])} split(s)")
        lines.append(
            f"  {'candidate':22} {'accuracy':>8} {'vs ref':>7} {'won':>7} {'macro-F1':>8} "
            f"{'prohib.':>7} {'fit s':>6}"
        )
        for name in names:
            s = result["summary"][name]
            won = f"{s['wins']}/{len(result['splits'])}"
            hits = str(s["prohibited_hits"]) if source == "corpus" else "-"
            lines.append(
                f"  {name:22} {s['accuracy']:8.2f} {s['margin']:+7.2f} {won:>7} {s['macro_f1']:8.2f} "
                f"{hits:>7} {s['fit_seconds']:6.1f}"
            )
    lines.append(
        f"\nRule: mean margin over the reference > +{MIN_MARGIN} points on waimai and on THUCNews, "
        f"and on our dev split at most {MAX_CORPUS_LOSS} fewer rows right and at most "
        f"{MAX_CORPUS_LOSS} fewer prohibited rows found than the default."
    )
    for name, verdict in verdicts(results, names).items():
        lines.append(f"  {name}: {verdict}")
    lines.append("\nCandidates:")
    lines.extend(f"  {name}: {CANDIDATES[name][2]}" for name in names)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets",
        default="corpus,waimai,thucnews",
        help="comma-separated sources among corpus, waimai, thucnews",
    )
    parser.add_argument(
        "--candidates",
        default=",".join(CANDIDATES),
        help=f"comma-separated, among {', '.join(CANDIDATES)} (reference is always added)",
    )
    parser.add_argument("--external", type=Path, default=DEFAULT_EXTERNAL, help="the public datasets folder")
    parser.add_argument("--quick", action="store_true", help="1,500-row public subsets, 2 outer waimai folds")
    parser.add_argument("--json", type=Path, help="write the per-split scores here")
    parser.add_argument("--output", type=Path, help="also write the report here, with how it was made")
    args = parser.parse_args(argv)
    sources = [s.strip() for s in args.datasets.split(",") if s.strip()]
    names = ["reference"] + [
        c.strip() for c in args.candidates.split(",") if c.strip() and c.strip() != "reference"
    ]
    unknown = [s for s in sources if s not in ("corpus", "waimai", "thucnews")] + [
        n for n in names if n not in CANDIDATES
    ]
    if unknown:
        parser.error(f"unknown dataset or candidate: {', '.join(unknown)}")
    started, clock = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.perf_counter()
    segmenter = CachingSegmenter(BoundaryClassifier().userdict)
    results: dict[str, Any] = {}
    for source in sources:
        splits, protocol = splits_for(source, args.quick, args.external)
        per_split = []
        for number, (train, y_train, other, y_other) in enumerate(splits, start=1):
            per_split.append(
                score_split(train, y_train, other, y_other, names, segmenter, check_default=number == 1)
            )
            print(
                f"{source} split {number}/{len(splits)}: "
                + ", ".join(f"{n} {100 * per_split[-1][n]['accuracy']:.2f}" for n in names),
                file=sys.stderr,
                flush=True,
            )
        results[source] = {
            "protocol": protocol,
            "splits": per_split,
            "rows": len(splits[0][3]),
            "summary": summarize(per_split, names),
        }
    report = render(results, names)
    print(report)
    if args.output:
        import sklearn

        given = argv if argv is not None else sys.argv[1:]
        command = " ".join(["python benchmarks/screen_defaults.py", *given])
        info = checkout_info(ROOT / "models" / "boundary-default.joblib")
        args.output.write_text(
            "# Screen of candidate defaults against the public reference\n\n"
            f"Written by `{command}` (started {started}, "
            f"{(time.perf_counter() - clock) / 60:.0f} min). "
            "Training parts only: see the script's docstring.\n"
            f"Commit {info['commit']}; {info['src digest']}; scikit-learn {sklearn.__version__}.\n\n"
            f"```\n{report.strip()}\n```\n",
            encoding="utf-8",
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
