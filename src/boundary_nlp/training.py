"""Choosing hyper-parameters on dev, training the model, and writing its model card."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import file_sha256, load_dataset
from .evaluation import Evaluation, evaluate
from .labels import Label

DEFAULT_GRID: dict[str, list] = {
    "C": [3.0, 10.0, 30.0, 100.0],
    "char_ngram_range": [(1, 3), (1, 4)],
}
DEFAULT_MAX_ABSTAIN = 0.10
THRESHOLD_CANDIDATES = tuple(round(0.35 + 0.05 * i, 2) for i in range(11))
TIE_BREAK_LABEL = Label.PROHIBITED.value


@dataclass
class TrainResult:
    model: object
    params: dict
    dev: Evaluation
    test: Evaluation | None
    search: list[dict] = field(default_factory=list)
    threshold: float | None = None
    data_sha256: dict[str, str] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    refit_on: str = "train+dev"


def _grid_points(grid: dict[str, list]) -> list[dict]:
    keys = sorted(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def _score(evaluation: Evaluation) -> tuple[float, float]:
    """Macro-F1 first, prohibited recall (or 0 for other label sets) to break ties."""
    return (round(evaluation.macro_f1, 6), round(evaluation.recall.get(TIE_BREAK_LABEL, 0.0), 6))


def choose_threshold(confidences: np.ndarray, correct: np.ndarray, max_abstain: float) -> float | None:
    """The confidence threshold that abstains on at most ``max_abstain`` of the rows and
    leaves the kept rows most accurate; the lowest such threshold on ties."""
    best: tuple[float, float] | None = None
    for candidate in THRESHOLD_CANDIDATES:
        kept = confidences >= candidate
        if (1.0 - kept.mean()) > max_abstain or not kept.any():
            continue
        accuracy = float(correct[kept].mean())
        if best is None or accuracy > best[1] + 1e-12:
            best = (candidate, accuracy)
    return best[0] if best else None


def train(
    train_path: str | Path,
    dev_path: str | Path,
    test_path: str | Path | None = None,
    grid: dict[str, list] | None = None,
    refit_on_dev: bool = True,
    max_abstain: float = DEFAULT_MAX_ABSTAIN,
    encoding: str = "utf-8",
    log: Callable[[str], None] = lambda message: None,
) -> TrainResult:
    """Pick parameters on dev (macro-F1, prohibited recall breaking ties), then train.

    Each grid point is fitted on train and scored on dev. The chosen parameters are refitted
    on train + dev (``refit_on_dev``) for the final model; dev metrics and the uncertainty
    threshold come from the train-only fit. The test file, when given, is only scored once,
    by the final model.
    """
    from .model import BoundaryClassifier

    train_texts, train_labels = load_dataset(train_path, encoding=encoding)
    dev_texts, dev_labels = load_dataset(dev_path, encoding=encoding)
    search = []
    best = None
    for point in _grid_points(grid or DEFAULT_GRID):
        candidate = BoundaryClassifier(**point).fit(train_texts, train_labels)
        evaluation = evaluate(candidate, dev_texts, dev_labels)
        search.append(
            {
                "params": point,
                "macro_f1": evaluation.macro_f1,
                "prohibited_recall": evaluation.recall.get(TIE_BREAK_LABEL),
            }
        )
        log(f"  {point}: dev macro-F1 {evaluation.macro_f1:.4f}")
        if best is None or _score(evaluation) > _score(best[1]):
            best = (point, evaluation, candidate)
    params, dev_evaluation, dev_model = best
    proba = dev_model.predict_proba(dev_texts)
    predicted = dev_model.classes_[proba.argmax(axis=1)]
    threshold = choose_threshold(proba.max(axis=1), predicted == np.asarray(dev_labels), max_abstain)

    if refit_on_dev:
        model = BoundaryClassifier(**params, uncertainty_threshold=threshold).fit(
            train_texts + dev_texts, train_labels + dev_labels
        )
    else:
        model = dev_model.set_params(uncertainty_threshold=threshold)
    counts = {"train": _count(train_labels), "dev": _count(dev_labels)}
    hashes = {"train": file_sha256(train_path), "dev": file_sha256(dev_path)}
    test_evaluation = None
    if test_path is not None:
        test_texts, test_labels = load_dataset(test_path, encoding=encoding)
        test_evaluation = evaluate(model, test_texts, test_labels)
        counts["test"] = _count(test_labels)
        hashes["test"] = file_sha256(test_path)
    return TrainResult(
        model=model,
        params=params,
        dev=dev_evaluation,
        test=test_evaluation,
        search=search,
        threshold=threshold,
        data_sha256=hashes,
        counts=counts,
        refit_on="train+dev" if refit_on_dev else "train",
    )


def _count(labels: list[str]) -> dict[str, int]:
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts)}


def model_metadata(result: TrainResult) -> dict:
    return {
        "training_data_sha256": result.data_sha256,
        "training_counts": result.counts,
        "refit_on": result.refit_on,
        "chosen_params": {k: list(v) if isinstance(v, tuple) else v for k, v in result.params.items()},
        "uncertainty_threshold": result.threshold,
        "dev_metrics": result.dev.to_dict(),
        "test_metrics": result.test.to_dict() if result.test else None,
        "search": [
            {**row, "params": {k: list(v) if isinstance(v, tuple) else v for k, v in row["params"].items()}}
            for row in result.search
        ],
    }


def write_model_card(path: str | Path, result: TrainResult, model_path: str | Path, command: str) -> Path:
    """A Markdown model card: data, parameters, metrics, limits and intended use."""
    path = Path(path)
    lines = [
        f"# Model card: {Path(model_path).name}",
        "",
        "Generated by `boundary-nlp train`; do not edit by hand. Reproduce with:",
        "",
        "```",
        command,
        "```",
        "",
        "## Intended use",
        "Triage of single messages that a client sends to a project/delivery team member, in",
        "Chinese: `in_scope` (工作范围内), `courtesy` (人情帮忙) or `prohibited` (越界禁止), as",
        "defined in `datasets/LABELING.md`. It supports a person's judgement (what to do, when",
        "to ask the project manager); it does not decide for them.",
        "",
        "## Data",
        "| split | " + " | ".join(sorted({k for c in result.counts.values() for k in c})) + " | sha256 |",
        "| --- | "
        + " | ".join("---" for _ in sorted({k for c in result.counts.values() for k in c}))
        + " | --- |",
    ]
    labels = sorted({k for c in result.counts.values() for k in c})
    for split, counts in result.counts.items():
        lines.append(
            f"| {split} | "
            + " | ".join(str(counts.get(label, 0)) for label in labels)
            + f" | `{result.data_sha256[split][:16]}…` |"
        )
    lines += [
        "",
        f"The final model is fitted on {result.refit_on}; parameters and the uncertainty",
        "threshold were chosen on dev with a train-only fit; test was scored once, at the end.",
        "",
        "## Parameters",
        "jieba words (precise mode, no HMM, shipped domain dictionary) 1-2 grams + character",
        "n-grams, TF-IDF (sublinear tf, L2 per block), logistic regression (balanced classes,",
        "lbfgs, seed 0). Chosen on dev (macro-F1, prohibited recall breaking ties):",
        "",
    ]
    for key, value in sorted(result.params.items()):
        lines.append(f"- `{key}` = `{value}`")
    lines.append(f"- uncertainty threshold (abstain on at most 10% of dev) = `{result.threshold}`")
    lines += [
        "",
        "Search on dev:",
        "",
        "| params | dev macro-F1 | dev prohibited recall |",
        "| --- | --- | --- |",
    ]
    for row in result.search:
        recall = row["prohibited_recall"]
        recall_text = f"{recall:.4f}" if recall is not None else "-"
        lines.append(f"| `{row['params']}` | {row['macro_f1']:.4f} | {recall_text} |")
    for name, evaluation in (("dev (train-only fit)", result.dev), ("test (final model)", result.test)):
        if evaluation is None:
            continue
        lines += ["", f"## Metrics: {name}", "", "```", evaluation.format(), "```"]
    lines += [
        "",
        "## Limits",
        "- Trained on messages written for this project under the labeling guide, not on a",
        "  sample of real traffic; expect lower scores on styles, industries or slang it has",
        "  not seen, and retrain with your own labelled messages (see README).",
        "- A bag of words and characters: it does not reason about who is asking or what was",
        "  agreed in the contract. Requests whose label depends on context outside the message",
        "  (is this change in the contract?) need a person.",
        "- One label per message; `analyze()` splits multi-ask messages. How often a client",
        "  asks for favors (the degree, 度) is tracked by `FavorLedger`, not by the label.",
        "- Confidence below the threshold is reported as `uncertain`: check with the project",
        "  manager.",
        "",
    ]
    from ._files import atomic_write

    with atomic_write(path, encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return path
