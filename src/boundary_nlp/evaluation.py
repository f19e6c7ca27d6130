"""Metrics, the confusion matrix and the table of mistakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Evaluation:
    """Per-label precision, recall, F1 and support; macro-F1; accuracy; confusion matrix.

    ``confusion[i][j]`` counts rows of gold ``labels[i]`` predicted as ``labels[j]``.
    """

    labels: list[str]
    precision: dict[str, float]
    recall: dict[str, float]
    f1: dict[str, float]
    support: dict[str, int]
    accuracy: float
    macro_f1: float
    confusion: list[list[int]]

    def to_dict(self) -> dict:
        return {
            "labels": self.labels,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "confusion": self.confusion,
        }

    def format(self) -> str:
        width = max(len(label) for label in self.labels + ["macro avg"]) + 2
        lines = [f"{'':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
        for label in self.labels:
            lines.append(
                f"{label:<{width}}{self.precision[label]:>10.4f}{self.recall[label]:>10.4f}"
                f"{self.f1[label]:>10.4f}{self.support[label]:>10d}"
            )
        total = sum(self.support.values())
        lines.append(f"{'accuracy':<{width}}{'':>20}{self.accuracy:>10.4f}{total:>10d}")
        lines.append(f"{'macro avg':<{width}}{'':>20}{self.macro_f1:>10.4f}{total:>10d}")
        lines.append("")
        lines.append("confusion matrix (rows: gold, columns: predicted)")
        cell = max(8, max(len(label) for label in self.labels) + 1)
        lines.append(" " * width + "".join(f"{label:>{cell}}" for label in self.labels))
        for label, row in zip(self.labels, self.confusion):
            lines.append(f"{label:<{width}}" + "".join(f"{count:>{cell}d}" for count in row))
        return "\n".join(lines)


def evaluate_predictions(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> Evaluation:
    """Compare gold labels with predictions; ``labels`` fixes the order (default: sorted union)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    if not gold:
        raise ValueError("nothing to evaluate: no rows")
    order = list(labels) if labels is not None else sorted(set(gold) | set(predicted))
    position = {label: i for i, label in enumerate(order)}
    confusion = np.zeros((len(order), len(order)), dtype=int)
    for g, p in zip(gold, predicted):
        confusion[position[g], position[p]] += 1
    tp = np.diag(confusion).astype(float)
    predicted_count = confusion.sum(axis=0).astype(float)
    gold_count = confusion.sum(axis=1).astype(float)
    precision = np.divide(tp, predicted_count, out=np.zeros_like(tp), where=predicted_count > 0)
    recall = np.divide(tp, gold_count, out=np.zeros_like(tp), where=gold_count > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(tp), where=denominator > 0)
    present = gold_count > 0
    return Evaluation(
        labels=order,
        precision={label: float(precision[i]) for i, label in enumerate(order)},
        recall={label: float(recall[i]) for i, label in enumerate(order)},
        f1={label: float(f1[i]) for i, label in enumerate(order)},
        support={label: int(gold_count[i]) for i, label in enumerate(order)},
        accuracy=float(tp.sum() / confusion.sum()),
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        confusion=confusion.tolist(),
    )


def evaluate(model, texts: Sequence[str], gold: Sequence[str]) -> Evaluation:
    """Score ``model`` on labelled texts, labels ordered as ``model.classes_``."""
    predicted = [str(p) for p in model.predict(list(texts))]
    labels = [str(c) for c in model.classes_]
    extra = sorted(set(gold) - set(labels))
    return evaluate_predictions(list(gold), predicted, labels + extra)


def error_rows(model, texts: Sequence[str], gold: Sequence[str], path) -> int:
    """Write the misclassified rows (row, text, gold, predicted, confidence, evidence) to CSV."""
    import csv

    count = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "text", "gold", "predicted", "confidence", "evidence"])
        for row, (text, label) in enumerate(zip(texts, gold), start=1):
            prediction = model.classify(text)
            if prediction.label == label:
                continue
            evidence = " ".join(f"{e.term}:{e.weight:+.2f}" for e in prediction.evidence)
            writer.writerow([row, text, label, prediction.label, f"{prediction.confidence:.4f}", evidence])
            count += 1
    return count
