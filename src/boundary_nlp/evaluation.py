"""Metrics, the confusion matrix, the table of mistakes, threshold trade-offs and distinctive terms."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain lists and dicts (JSON-safe); :meth:`from_dict` reads them back.

        ``warnings`` (e.g. "scored on its own training data") is there only when not empty.
        """
        extra = {"warnings": list(self.warnings)} if self.warnings else {}
        return {
            "labels": self.labels,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "confusion": self.confusion,
            **extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        """The inverse of :meth:`to_dict` (e.g. a model's ``metadata["dev_metrics"]``).

        Other keys are ignored; a missing key raises ``ValueError``.
        """
        missing = [key for key in _EVALUATION_KEYS if key not in d]
        if missing:
            raise ValueError(f"not an Evaluation dict: missing {', '.join(missing)}")
        return cls(
            labels=[str(label) for label in d["labels"]],
            precision={str(k): float(v) for k, v in d["precision"].items()},
            recall={str(k): float(v) for k, v in d["recall"].items()},
            f1={str(k): float(v) for k, v in d["f1"].items()},
            support={str(k): int(v) for k, v in d["support"].items()},
            accuracy=float(d["accuracy"]),
            macro_f1=float(d["macro_f1"]),
            confusion=[[int(count) for count in row] for row in d["confusion"]],
            warnings=[str(w) for w in d.get("warnings", [])],
        )

    def format(self) -> str:
        """The metrics table and the confusion matrix, then any warnings."""
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
        lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


_EVALUATION_KEYS = ("labels", "precision", "recall", "f1", "support", "accuracy", "macro_f1", "confusion")


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


# train is fitted on; dev chooses the parameters and the threshold and, by default, is
# refitted on too. test is only scored once, so evaluating on it is what it is for.
FITTED_SPLITS = ("train", "dev")


def training_data_warning(model, data_path: str | Path) -> str | None:
    """A warning when ``data_path`` holds the same bytes (sha256) as a file the model was
    trained or tuned on: its scores there say nothing about new messages."""
    trained_on = getattr(model, "trained_on", None)
    if trained_on is None or not Path(data_path).is_file():
        return None
    for split in FITTED_SPLITS:
        if trained_on({split: data_path}):
            return (
                f"{data_path} is the {split} file this model was trained or tuned on (same sha256): "
                "these scores are optimistic; evaluate on held-out data such as datasets/test.csv"
            )
    return None


def evaluate_file(model, path: str | Path, encoding: str = "utf-8") -> Evaluation:
    """Score ``model`` on a labelled file; ``warnings`` says when it was trained on that file."""
    from .data import load_dataset

    texts, gold = load_dataset(path, encoding=encoding)
    evaluation = evaluate(model, texts, gold)
    warning = training_data_warning(model, path)
    if warning:
        evaluation.warnings.append(warning)
    return evaluation


def error_rows(
    model,
    texts: Sequence[str],
    gold: Sequence[str],
    path,
    csv_escape: bool = True,
    encoding: str = "utf-8-sig",
) -> int:
    """Write the misclassified rows (row, text, gold, predicted, confidence, evidence) to CSV.

    Written atomically (a temporary file renamed at the end); cells that a spreadsheet would
    run as a formula get a leading ``'`` unless ``csv_escape`` is false.
    """
    import csv

    from ._files import atomic_write, escape_formula

    count = 0
    with atomic_write(path, encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "text", "gold", "predicted", "confidence", "evidence"])
        for row, (text, label) in enumerate(zip(texts, gold), start=1):
            prediction = model.classify(text)
            if prediction.label == label:
                continue
            evidence = " ".join(f"{e.term}:{e.weight:+.2f}" for e in prediction.evidence)
            cells = [row, text, label, prediction.label, f"{prediction.confidence:.4f}", evidence]
            writer.writerow([escape_formula(c) for c in cells] if csv_escape else cells)
            count += 1
    return count


def threshold_tradeoff(
    gold: Sequence[str], scores: Sequence[float], positive: str, thresholds: Sequence[float]
) -> list[dict]:
    """What flagging rows whose score is at least each threshold catches and costs.

    One dict per threshold, in the order given: ``threshold``; ``recall`` (flagged share of
    gold ``positive`` rows); ``false_alarm_rate`` (flagged share of the other rows);
    ``flagged`` (number of rows flagged). Needs rows with and without gold ``positive``.
    """
    score_array = np.asarray(scores, dtype=float)
    is_positive = np.asarray([str(label) == positive for label in gold], dtype=bool)
    if score_array.ndim != 1 or score_array.shape != is_positive.shape:
        raise ValueError(f"{score_array.size} scores but {len(is_positive)} gold labels")
    if not is_positive.any() or is_positive.all():
        raise ValueError(f"need rows with and without gold label {positive!r}")
    positives, negatives = int(is_positive.sum()), int((~is_positive).sum())
    rows = []
    for threshold in thresholds:
        flagged = score_array >= threshold
        rows.append(
            {
                "threshold": float(threshold),
                "recall": int((flagged & is_positive).sum()) / positives,
                "false_alarm_rate": int((flagged & ~is_positive).sum()) / negatives,
                "flagged": int(flagged.sum()),
            }
        )
    return rows


def distinctive_terms(
    texts: Sequence[str],
    labels: Sequence[str],
    segmenter: Any = None,
    prior: float = 500.0,
    min_chars: int = 1,
) -> dict[str, list[tuple[str, float, int]]]:
    """The words that set each label apart: weighted log-odds with an informative Dirichlet prior.

    Monroe, Colaresi & Quinn (2008), each label against all the others. Texts are normalized
    (:func:`boundary_nlp.text.normalize`) and cut by ``segmenter`` (anything with
    ``cut(text) -> list[str]``; default :class:`~boundary_nlp.text.JiebaSegmenter`); tokens
    without a letter or digit (punctuation) are dropped. ``prior`` is the prior's strength in
    pseudo-words, spread like the whole corpus. Returns, per label (sorted), ``(term, z,
    count in the label)`` for every term of at least ``min_chars`` characters, largest z-score
    first; the scores themselves always use every term.
    """
    from .text import JiebaSegmenter, normalize

    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if prior <= 0:
        raise ValueError(f"prior must be positive, got {prior!r}")
    if len(set(labels)) < 2:
        raise ValueError("need at least two labels to compare")
    segmenter = segmenter if segmenter is not None else JiebaSegmenter()
    counts: dict[str, Counter] = {str(label): Counter() for label in sorted(set(labels), key=str)}
    for text, label in zip(texts, labels):
        tokens = segmenter.cut(normalize(text))
        counts[str(label)].update(token for token in tokens if any(ch.isalnum() for ch in token))
    total = sum(counts.values(), Counter())
    vocabulary = list(total)
    if not vocabulary:
        raise ValueError("no words in the texts")
    y_total = np.array([total[word] for word in vocabulary], dtype=float)
    n_total = y_total.sum()
    alpha = prior * y_total / n_total
    ranked: dict[str, list[tuple[str, float, int]]] = {}
    for label, inside in counts.items():
        y_in = np.array([inside[word] for word in vocabulary], dtype=float)
        y_out = y_total - y_in
        n_in = y_in.sum()
        n_out = n_total - n_in
        delta = np.log((y_in + alpha) / (n_in + prior - y_in - alpha)) - np.log(
            (y_out + alpha) / (n_out + prior - y_out - alpha)
        )
        z = delta / np.sqrt(1 / (y_in + alpha) + 1 / (y_out + alpha))
        terms = [
            (word, float(score), int(inside[word]))
            for word, score in zip(vocabulary, z)
            if len(word) >= min_chars
        ]
        terms.sort(key=lambda term: (-term[1], term[0]))
        ranked[label] = terms
    return ranked


def evidence_noise(model, texts: Sequence[str], top: int = 3) -> dict[str, float]:
    """Share of the top-``top`` evidence terms that are punctuation, digits or single function
    characters: among the terms shown to users (``shown``) and among the model's raw
    strongest pushes before the content filter (``raw``)."""
    from .prediction import FUNCTION_CHARS, is_content_term

    def noisy(term: str) -> bool:
        stripped = term.replace(" ", "")
        return (
            (not any(char.isalnum() for char in stripped))
            or stripped.isdigit()
            or (len(stripped) == 1 and stripped in FUNCTION_CHARS)
            or stripped == "0"
        )

    predictions = model.classify(list(texts), evidence_terms=top)
    shown = [e.term for p in predictions for e in p.evidence]
    raw_total = raw_noisy = 0
    predictor = model._predictor()
    scores = predictor.score(list(texts), terms=True)
    for row, (columns, values) in enumerate(scores.terms):
        index = int(scores.proba[row].argmax())
        pushes: dict[str, float] = {}
        for _kind, term, weight in predictor.contributions(columns, values, index):
            pushes[term] = pushes.get(term, 0.0) + weight
        best = sorted((item for item in pushes.items() if item[1] > 0), key=lambda t: (-t[1], t[0]))[:top]
        raw_total += len(best)
        raw_noisy += sum(noisy(term) or not is_content_term(term) for term, _ in best)
    return {
        "shown": sum(map(noisy, shown)) / len(shown) if shown else 0.0,
        "raw": raw_noisy / raw_total if raw_total else 0.0,
        "terms_shown": len(shown),
    }


def prior_shift_check(
    model, texts: Sequence[str], gold: Sequence[str], shares: dict[str, float], seed: int = 0
) -> dict[str, dict[str, float]]:
    """Resample labelled texts to ``shares`` (keeping every row of the most common label and
    drawing the others without replacement) and score the model with and without
    ``with_label_shares(shares)``: accuracy, macro-F1 and log loss on the resampled set."""
    gold_array = np.asarray(gold)
    rng = np.random.default_rng(seed)
    anchor = max(shares, key=shares.get)
    base = int((gold_array == anchor).sum())
    total = base / shares[anchor]
    chosen = []
    for label, share in shares.items():
        rows = np.flatnonzero(gold_array == label)
        want = min(len(rows), int(round(total * share)))
        chosen.extend(rng.choice(rows, size=want, replace=False).tolist())
    sample = [texts[i] for i in chosen]
    sample_gold = [str(gold_array[i]) for i in chosen]
    out = {}
    for name, candidate in (("as trained", model), ("with label shares", model.with_label_shares(shares))):
        proba = candidate.predict_proba(sample)
        classes = [str(c) for c in candidate.classes_]
        predicted = [classes[i] for i in proba.argmax(axis=1)]
        evaluation = evaluate_predictions(sample_gold, predicted, classes)
        picked = proba[np.arange(len(sample)), [classes.index(g) for g in sample_gold]]
        out[name] = {
            "rows": len(sample),
            "accuracy": evaluation.accuracy,
            "macro_f1": evaluation.macro_f1,
            "log_loss": float(-np.mean(np.log(np.clip(picked, 1e-15, 1.0)))),
        }
    return out


DEPLOYMENT_SHARES = {"in_scope": 0.8, "courtesy": 0.1, "prohibited": 0.1}


def card_sections(model, texts: Sequence[str], gold: Sequence[str]) -> list[str]:
    """Model-card sections measured on a labelled (test) set: evidence and label shares."""
    noise = evidence_noise(model, texts)
    sections = [
        "## Evidence a person can read\n"
        f"Share of the top-3 evidence terms on test that are punctuation, digits or single function "
        f"characters: **{noise['shown']:.2%}** of {noise['terms_shown']} terms shown; "
        f"{noise['raw']:.2%} among the model's raw strongest pushes before the content filter."
    ]
    if set(DEPLOYMENT_SHARES) == {str(c) for c in model.classes_}:
        shift = prior_shift_check(model, texts, gold, DEPLOYMENT_SHARES)
        rows = "\n".join(
            f"| {name} | {m['rows']} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['log_loss']:.4f} |"
            for name, m in shift.items()
        )
        sections.append(
            "## Deployment label shares\n"
            "Test resampled to 80% in_scope / 10% courtesy / 10% prohibited (seed 0), scored as trained "
            "and with `load_model(label_shares={'in_scope': 0.8, 'courtesy': 0.1, 'prohibited': 0.1})`:\n\n"
            "| probabilities | rows | accuracy | macro-F1 | log loss |\n| --- | --- | --- | --- | --- |\n"
            + rows
        )
    return sections
