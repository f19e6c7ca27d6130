"""Choosing settings by repeated cross-validation, training the model, and its model card.

Selection is honest in three ways: every candidate is scored on the same repeated,
stratified folds of the whole labelled pool (train plus dev, if given), with near-twin rows
kept in the same fold; the chosen candidate is the simplest one whose mean score is within
one standard error of the best (Breiman et al., 1984: a near-tie on a few hundred rows is
noise, not evidence); the rule-2 threshold, the decision's weight for red lines and the
uncertainty threshold come from out-of-fold predictions. A test file, when given, is scored
once, by the final model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._files import file_sha256
from .data import _trigrams, load_dataset, near_twins
from .evaluation import Evaluation, evaluate, evaluate_predictions
from .labels import RECALL_FLOOR, Label

# candidates from simplest to most complex: one feature block before two, then stronger
# regularization (smaller C) first; at the same features the calibrated linear SVM comes
# before the logistic regression (it fits only the rows near the boundary)
DEFAULT_CANDIDATES: tuple[dict[str, Any], ...] = (
    {"word_ngram_range": None, "classifier": "svc", "C": 0.3},
    {"word_ngram_range": None, "classifier": "svc", "C": 1.0},
    {"word_ngram_range": None, "classifier": "logreg", "C": 10.0},
    {"word_ngram_range": (1, 2), "classifier": "svc", "C": 0.3},
    {"word_ngram_range": (1, 2), "classifier": "svc", "C": 1.0},
    {"word_ngram_range": (1, 2), "classifier": "logreg", "C": 10.0},
)
DEFAULT_FOLDS = 3
DEFAULT_REPEATS = 2
DEFAULT_MAX_ABSTAIN = 0.10
THRESHOLD_CANDIDATES = tuple(round(0.35 + 0.05 * i, 2) for i in range(11))
# rule-2 thresholds tried on out-of-fold predictions; None = whole messages only
ESCALATION_CANDIDATES: tuple[float | None, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, None)
# the guide's readings, off for label sets that are not the guide's (see train)
GUIDE_READINGS_OFF: dict[str, Any] = {"drop_vocative": False, "drop_closing": False}
TIE_BREAK_LABEL = Label.PROHIBITED.value
SEED = 20261203
# rule 2 must hold: a red-line ask joined to an ordinary message makes it prohibited at least
# this often on held-out compositions, or the threshold that comes closest is taken
MIN_DIRECTIONAL = 0.97
DIRECTIONAL_CASES = 300
# the decision weighs TIE_BREAK_LABEL's probability by the smallest of these whose
# out-of-fold recall of it (rule 2 applied) is at least the recall floor (labels.RECALL_FLOOR
# by default), or by the one that comes closest
WEIGHT_CANDIDATES: tuple[float, ...] = (1.0, 1.1, 1.2, 1.3, 1.5, 2.0)
DIRECTIONAL_CONNECTIVES = ("，另外", "。对了，", "，还有", "，顺便")


@dataclass
class TrainResult:
    model: object
    params: dict
    cv: Evaluation  # out-of-fold predictions of the chosen setting, rule 2 applied
    test: Evaluation | None
    search: list[dict] = field(default_factory=list)
    escalation_search: list[dict] = field(default_factory=list)
    weight_search: list[dict] = field(default_factory=list)
    recall_floor: float | None = RECALL_FLOOR
    threshold: float | None = None
    data_sha256: dict[str, str] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    folds: int = DEFAULT_FOLDS
    repeats: int = DEFAULT_REPEATS


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


def near_twin_groups(texts: list[str]) -> np.ndarray:
    """A group id per text; near-twins (character-trigram Jaccard >= 0.6) share one."""
    grams = [_trigrams(text) for text in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (j, _) in near_twins(grams, grams, same=True).items():
        parent[root(i)] = root(j)
    return np.asarray([root(i) for i in range(len(texts))])


def cv_splits(labels: list[str], groups: np.ndarray, folds: int, repeats: int, seed: int = SEED) -> list:
    """(train indices, validation indices) of ``repeats`` x ``folds`` stratified group folds."""
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.asarray(labels)
    splits = []
    for repeat in range(repeats):
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed + repeat)
        splits.extend(splitter.split(np.zeros(len(y)), y, groups))
    return splits


def red_line_compositions(
    texts: list[str], labels: list[str], label: str, seed: int, cases: int = DIRECTIONAL_CASES
) -> list[str]:
    """Messages that pair an ordinary message with a short ``label`` message of the same
    labelled rows (after it with a connective, or before it with 还有): rule 2 says each is
    ``label``. Built from held-out rows only, so choosing the rule-2 threshold on them never
    looks at test data or at the behaviour suite's seeds."""
    rng = np.random.default_rng(seed)
    ordinary = [t for t, y in zip(texts, labels) if y != label]
    red = [t.rstrip("。！？!?.，, ") for t, y in zip(texts, labels) if y == label and 4 <= len(t) <= 25]
    if not ordinary or not red:
        return []
    out = []
    for i in range(cases):
        base = ordinary[rng.integers(len(ordinary))].rstrip("。！？!?.，, ")
        ask = red[rng.integers(len(red))]
        if i % 2 == 0:
            out.append(f"{base}{DIRECTIONAL_CONNECTIVES[i // 2 % len(DIRECTIONAL_CONNECTIVES)]}{ask}")
        else:
            out.append(f"{ask}，还有{base}")
    return out


def _fit_and_score(
    params: dict, texts: list[str], labels: list[str], train: np.ndarray, valid: np.ndarray, seed: int
):
    """Fit on ``train`` rows; return, for the validation rows and for red-line compositions
    made of them, the whole-message probabilities and the asks (so rule 2 can be tried at any
    threshold afterwards)."""
    from .model import BoundaryClassifier

    model = BoundaryClassifier(**params).fit([texts[i] for i in train], [labels[i] for i in train])
    predictor = model.model_
    valid_texts = [texts[i] for i in valid]
    whole = predictor.score(valid_texts, whole_only=True).proba
    composed = []
    if TIE_BREAK_LABEL in set(predictor.classes.tolist()):
        composed = red_line_compositions(valid_texts, [labels[i] for i in valid], TIE_BREAK_LABEL, seed)
    composed_scores = (predictor.score(composed, whole_only=True).proba, predictor.asks_of(composed))
    return predictor.classes, whole, predictor.asks_of(valid_texts), composed_scores


def _one_standard_error_choice(rows: list[dict]) -> int:
    """Index of the first (simplest) row whose mean is within one standard error of the best."""
    best = max(range(len(rows)), key=lambda i: rows[i]["mean"])
    bar = rows[best]["mean"] - rows[best]["se"]
    return next(i for i, row in enumerate(rows) if row["mean"] >= bar)


def _summary(scores: list[float]) -> tuple[float, float]:
    values = np.asarray(scores)
    se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return float(values.mean()), se


def train(
    train_path: str | Path,
    dev_path: str | Path | None = None,
    test_path: str | Path | None = None,
    candidates: tuple[dict[str, Any], ...] | list[dict[str, Any]] | None = None,
    folds: int = DEFAULT_FOLDS,
    repeats: int = DEFAULT_REPEATS,
    max_abstain: float = DEFAULT_MAX_ABSTAIN,
    n_jobs: int = -1,
    encoding: str = "utf-8",
    log: Callable[[str], None] = lambda message: None,
    recall_floor: float | None = RECALL_FLOOR,
) -> TrainResult:
    """Choose settings by cross-validation on train (+ dev), fit on all of it, score test once.

    Every candidate (``DEFAULT_CANDIDATES``, simplest first) is fitted ``folds`` x
    ``repeats`` times on stratified folds with near-twins kept together, and scored by
    whole-message macro-F1; the simplest within one standard error of the best wins. Its
    out-of-fold predictions then choose the rule-2 threshold (see :func:`_choose_escalation`:
    red-line asks joined to held-out ordinary messages must be caught, then the best
    macro-F1), the weight of the most serious label in the decision (:func:`_choose_weight`:
    its recall must reach ``recall_floor``; ``None`` or 0: no weight) and the uncertainty
    threshold. ``n_jobs`` fits in parallel processes (-1: every core).

    Rule 2 and the readings that skip a message's opening greeting and closing pleasantry
    (``drop_vocative``, ``drop_closing``) belong to the guide's labels (label what is asked);
    for a label set without its most serious label (product reviews, news titles, ...) both are
    off, since there a closing "谢谢" can be the very signal (a candidate may still set them).
    """
    from joblib import Parallel, delayed

    texts, labels = load_dataset(train_path, encoding=encoding)
    counts = {"train": _count(labels)}
    hashes = {"train": file_sha256(train_path)}
    if dev_path is not None:
        dev_texts, dev_labels = load_dataset(dev_path, encoding=encoding)
        texts, labels = texts + dev_texts, labels + dev_labels
        counts["dev"] = _count(dev_labels)
        hashes["dev"] = file_sha256(dev_path)
    candidates = list(candidates or DEFAULT_CANDIDATES)
    if TIE_BREAK_LABEL not in set(labels):
        candidates = [{**GUIDE_READINGS_OFF, **candidate} for candidate in candidates]
    groups = near_twin_groups(texts)
    splits = cv_splits(labels, groups, folds, repeats)
    log(f"{len(candidates)} candidates x {len(splits)} folds on {len(texts)} rows")
    jobs = [(c, s) for c in range(len(candidates)) for s in range(len(splits))]
    outputs = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_score)(candidates[c], texts, labels, *splits[s], SEED + s) for c, s in jobs
    )
    gold = np.asarray(labels)
    search = []
    by_candidate: dict[int, list] = {c: [] for c in range(len(candidates))}
    for (c, s), output in zip(jobs, outputs):
        by_candidate[c].append((s, output))
    for c, params in enumerate(candidates):
        scores = []
        for s, (classes, proba, _, _) in by_candidate[c]:
            predicted = classes[proba.argmax(axis=1)]
            scores.append(evaluate_predictions(list(gold[splits[s][1]]), list(predicted)).macro_f1)
        mean, se = _summary(scores)
        search.append({"params": params, "mean": mean, "se": se, "scores": scores})
        log(f"  {params}: macro-F1 {mean:.4f} ± {se:.4f}")
    chosen = _one_standard_error_choice(search)
    params = dict(candidates[chosen])
    log(f"chosen (simplest within one standard error of the best): {params}")

    escalation_search = []
    # rule 2 and the red-line weight need the guide's most serious label; other label sets
    # score whole messages with plain probabilities
    guide = TIE_BREAK_LABEL in set(labels)
    escalations = ESCALATION_CANDIDATES if guide else (None,)
    for threshold in escalations:
        scores, _, _ = _escalated_scores(by_candidate[chosen], splits, gold, threshold)
        mean, se = _summary(scores)
        directional = _directional_rate(by_candidate[chosen], threshold)
        escalation_search.append(
            {"threshold": threshold, "mean": mean, "se": se, "scores": scores, "directional": directional}
        )
        shown = "-" if directional is None else f"{directional:.3f}"
        log(f"  rule 2 at {threshold}: macro-F1 {mean:.4f} ± {se:.4f}, red-line compositions caught {shown}")
    best_escalation = _choose_escalation(escalation_search)
    weight_search = []
    if recall_floor is not None and not 0 <= recall_floor <= 1:
        raise ValueError(f"recall_floor must be between 0 and 1, got {recall_floor}")
    weighing = guide and bool(recall_floor)
    for weight in WEIGHT_CANDIDATES if weighing else (1.0,):
        scores, recalls, _ = _escalated_scores(by_candidate[chosen], splits, gold, best_escalation, weight)
        mean, se = _summary(scores)
        recall = float(np.mean(recalls)) if recalls else None
        directional = _directional_rate(by_candidate[chosen], best_escalation, weight)
        weight_search.append(
            {"weight": weight, "mean": mean, "se": se, "recall": recall, "directional": directional}
        )
        if weighing:
            log(f"  {TIE_BREAK_LABEL} weighed {weight}: macro-F1 {mean:.4f} ± {se:.4f}, recall {recall:.4f}")
    best_weight = _choose_weight(weight_search, recall_floor or 0.0)
    _, _, oof = _escalated_scores(by_candidate[chosen], splits, gold, best_escalation, best_weight)
    classes, proba = oof
    predicted = classes[proba.argmax(axis=1)]
    threshold = choose_threshold(proba.max(axis=1), predicted == gold, max_abstain)
    cv_evaluation = evaluate_predictions(list(gold), list(predicted), [str(c) for c in classes])

    from .model import BoundaryClassifier

    final = dict(params)
    if best_escalation is None:
        final["escalate_label"] = None
    else:
        final["escalate_threshold"] = best_escalation
    weights = None if best_weight == 1.0 else {TIE_BREAK_LABEL: best_weight}
    final["label_weights"] = weights
    model = BoundaryClassifier(**final, uncertainty_threshold=threshold).fit(texts, labels)
    test_evaluation = None
    if test_path is not None:
        test_texts, test_labels = load_dataset(test_path, encoding=encoding)
        test_evaluation = evaluate(model, test_texts, test_labels)
        counts["test"] = _count(test_labels)
        hashes["test"] = file_sha256(test_path)
    return TrainResult(
        model=model,
        params={**params, "escalate_threshold": best_escalation, "label_weights": weights},
        cv=cv_evaluation,
        test=test_evaluation,
        search=search,
        escalation_search=escalation_search,
        weight_search=weight_search,
        recall_floor=recall_floor if weighing else None,
        threshold=threshold,
        data_sha256=hashes,
        counts=counts,
        folds=folds,
        repeats=repeats,
    )


def _choose_escalation(rows: list[dict]) -> float | None:
    """Rule 2 is the label definition, so it is a constraint: among thresholds whose held-out
    red-line compositions are caught at least ``MIN_DIRECTIONAL`` of the time, the best
    macro-F1 (the higher threshold on ties); if none is, the one that catches most."""
    rated = [row for row in rows if row["directional"] is not None]
    if not rated:
        return rows[_one_standard_error_choice(rows)]["threshold"]
    holding = [row for row in rated if row["directional"] >= MIN_DIRECTIONAL]
    if holding:
        best = max(holding, key=lambda row: (round(row["mean"], 6), row["threshold"] or 1.0))
    else:
        best = max(rated, key=lambda row: (row["directional"], row["mean"]))
    return best["threshold"]


def _choose_weight(rows: list[dict], floor: float = RECALL_FLOOR) -> float:
    """The smallest weight whose out-of-fold recall of the most serious label reaches
    ``floor`` (rows in increasing weight); if none does, the one that comes closest."""
    rated = [row for row in rows if row["recall"] is not None]
    if not rated:
        return 1.0
    for row in rated:
        if row["recall"] >= floor:
            return row["weight"]
    return max(rated, key=lambda row: (row["recall"], -row["weight"]))["weight"]


def _floor_reached(rows: list[dict], weight: float, floor: float | None) -> bool:
    """Whether the chosen ``weight``'s out-of-fold recall reached ``floor`` (``True`` when
    there was no floor or no recall to compare)."""
    recalls = [row["recall"] for row in rows if row["weight"] == weight and row.get("recall") is not None]
    return not floor or not recalls or recalls[0] >= floor


def _weighed(classes: np.ndarray, proba: np.ndarray, asks: Any, weight: float) -> tuple[np.ndarray, Any]:
    """``proba`` and the asks' probabilities with ``TIE_BREAK_LABEL``'s multiplied by
    ``weight`` and each row renormalized: what a model with that label weight gives."""
    from ._linear import Asks

    if weight == 1.0 or TIE_BREAK_LABEL not in set(classes.tolist()):
        return proba, asks
    factor = np.ones(len(classes))
    factor[list(classes).index(TIE_BREAK_LABEL)] = weight

    def apply(values: np.ndarray) -> np.ndarray:
        if len(values) == 0:
            return values
        scaled = values * factor
        return scaled / scaled.sum(axis=-1, keepdims=True)

    return apply(proba), Asks(asks.owners, asks.texts, apply(asks.proba))


def _directional_rate(outputs: list, threshold: float | None, weight: float = 1.0) -> float | None:
    """Share of held-out red-line compositions called ``TIE_BREAK_LABEL`` with rule 2 at
    ``threshold`` (None: whole messages only) and the label weighed by ``weight``, over
    every fold."""
    from ._linear import escalate

    caught = total = 0
    for _, (classes, _, _, (proba, asks)) in outputs:
        if len(proba) == 0:
            continue
        column = list(classes).index(TIE_BREAK_LABEL)
        proba, asks = _weighed(classes, proba, asks, weight)
        if threshold is not None:
            proba, _ = escalate(proba, asks, column, threshold)
        caught += int((proba.argmax(axis=1) == column).sum())
        total += len(proba)
    return caught / total if total else None


def _escalated_scores(
    outputs: list, splits: list, gold: np.ndarray, threshold: float | None, weight: float = 1.0
):
    """Per-fold macro-F1 and recall of ``TIE_BREAK_LABEL`` (empty when the labels lack it)
    with rule 2 at ``threshold`` and that label weighed by ``weight``, and the out-of-fold
    probabilities of the first repeat (each row predicted once)."""
    from ._linear import escalate

    scores, recalls = [], []
    oof_proba = None
    seen = np.zeros(len(gold), dtype=bool)
    classes = None
    for s, (classes, proba, asks, _) in outputs:
        proba, asks = _weighed(classes, proba, asks, weight)
        if threshold is not None and TIE_BREAK_LABEL in set(classes.tolist()):
            proba, _ = escalate(proba, asks, list(classes).index(TIE_BREAK_LABEL), threshold)
        valid = splits[s][1]
        predicted = classes[proba.argmax(axis=1)]
        scores.append(evaluate_predictions(list(gold[valid]), list(predicted)).macro_f1)
        serious = gold[valid] == TIE_BREAK_LABEL
        if serious.any():
            recalls.append(float((predicted[serious] == TIE_BREAK_LABEL).mean()))
        if oof_proba is None:
            oof_proba = np.zeros((len(gold), proba.shape[1]))
        fresh = ~seen[valid]
        oof_proba[valid[fresh]] = proba[fresh]
        seen[valid] = True
    return scores, recalls, (classes, oof_proba)


def _count(labels: list[str]) -> dict[str, int]:
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts)}


def _plain_params(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def model_metadata(result: TrainResult) -> dict:
    return {
        "training_data_sha256": result.data_sha256,
        "training_counts": result.counts,
        "refit_on": "+".join(split for split in ("train", "dev") if split in result.counts),
        "chosen_params": _plain_params(result.params),
        "uncertainty_threshold": result.threshold,
        "cv_metrics": result.cv.to_dict(),
        "test_metrics": result.test.to_dict() if result.test else None,
        "cv": {"folds": result.folds, "repeats": result.repeats},
        "search": [{**row, "params": _plain_params(row["params"])} for row in result.search],
        "escalation_search": result.escalation_search,
        "weight_search": result.weight_search,
        "recall_floor": result.recall_floor,
    }


def _params_text(params: dict) -> str:
    low, high = params.get("char_ngram_range", (1, 3))
    chars = f"char {low}-{high}"
    words = params.get("word_ngram_range", (1, 2))
    features = chars if words is None else f"word {words[0]}-{words[1]} + {chars}"
    classifier = params.get("classifier", "logreg")
    name = {"svc": "calibrated linear SVM", "logreg": "logistic regression"}.get(classifier, classifier)
    return f"{features}, {name}, C={params.get('C', 10.0):g}"


def model_card(
    result: TrainResult, model_path: str | Path, command: str, sections: list[str] | tuple[str, ...] = ()
) -> str:
    """A Markdown model card: data, selection, metrics, limits and intended use;
    ``sections`` (Markdown) are added before the limits (the behaviour table, evidence...)."""
    labels = sorted({k for c in result.counts.values() for k in c})
    pool = " + ".join(split for split in ("train", "dev") if split in result.counts)
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
        "| split | " + " | ".join(labels) + " | sha256 |",
        "| --- | " + " | ".join("---" for _ in labels) + " | --- |",
    ]
    for split, counts in result.counts.items():
        lines.append(
            f"| {split} | "
            + " | ".join(str(counts.get(label, 0)) for label in labels)
            + f" | `{result.data_sha256[split][:16]}…` |"
        )
    chosen = {k: v for k, v in result.params.items() if k not in ("escalate_threshold", "label_weights")}
    lines += [
        "",
        "## How the settings were chosen",
        f"Every candidate was fitted on {result.repeats} x {result.folds} stratified folds of {pool}",
        "(near-twin rows kept in one fold) and scored by whole-message macro-F1 on the held-out",
        "fold. The simplest candidate within one standard error of the best was chosen; the",
        "rule-2 threshold (a message takes its most serious ask's label) and the uncertainty",
        "threshold come from its out-of-fold predictions: rule 2 is the label definition, so the",
        f"threshold must catch at least {MIN_DIRECTIONAL:.0%} of held-out red-line compositions (a short",
        "prohibited row of the held-out fold joined before or after an ordinary one); among those,",
        "the best macro-F1 wins. "
        + (
            "A missed red line costs more than a false alarm, so the decision then weighs the "
            f"probability of `prohibited` by the smallest weight whose out-of-fold recall of it reaches "
            f"{result.recall_floor:.0%}. "
            if result.recall_floor
            else ""
        )
        + f"The final model is fitted on all of {pool}; test was scored once, at the end.",
        "",
        "| candidate (simplest first) | macro-F1 mean | standard error | |",
        "| --- | --- | --- | --- |",
    ]
    for row in result.search:
        mark = "**chosen**" if row["params"] == chosen else ""
        lines.append(f"| {_params_text(row['params'])} | {row['mean']:.4f} | {row['se']:.4f} | {mark} |")
    lines += [
        "",
        "| rule-2 threshold | macro-F1 mean | standard error | red-line compositions caught | |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in result.escalation_search:
        mark = "**chosen**" if row["threshold"] == result.params.get("escalate_threshold") else ""
        name = "off (whole message only)" if row["threshold"] is None else f"{row['threshold']:.1f}"
        caught = "-" if row.get("directional") is None else f"{row['directional']:.1%}"
        lines.append(f"| {name} | {row['mean']:.4f} | {row['se']:.4f} | {caught} | {mark} |")
    weights = result.params.get("label_weights") or {}
    chosen_weight = weights.get(TIE_BREAK_LABEL, 1.0)
    if len(result.weight_search) > 1:
        lines += [
            "",
            f"| weight of `{TIE_BREAK_LABEL}` | macro-F1 mean | standard error "
            f"| recall of `{TIE_BREAK_LABEL}` | red-line compositions caught | |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in result.weight_search:
            mark = "**chosen**" if row["weight"] == chosen_weight else ""
            caught = "-" if row.get("directional") is None else f"{row['directional']:.1%}"
            recall = "-" if row.get("recall") is None else f"{row['recall']:.4f}"
            lines.append(
                f"| {row['weight']:g} | {row['mean']:.4f} | {row['se']:.4f} | {recall} | {caught} | {mark} |"
            )
        if not _floor_reached(result.weight_search, chosen_weight, result.recall_floor):
            lines += [
                "",
                f"No weight reached the recall floor ({result.recall_floor:.0%}): the one that comes "
                "closest is used. More red-line examples, or a lower `--recall-floor`, are the remedies.",
            ]
    lines += [
        "",
        f"- chosen: {_params_text(chosen)}; features read the content only (punctuation and emoji",
        "  dropped, each number one token); jieba precise mode, no HMM, shipped domain dictionary;",
        "  TF-IDF with sublinear tf, L2 per block; balanced class weights",
        f"- rule-2 threshold = `{result.params.get('escalate_threshold')}`",
        f"- label weights of the decision = `{result.params.get('label_weights')}`",
        f"- uncertainty threshold (abstain on at most 10% of out-of-fold rows) = `{result.threshold}`",
    ]
    for name, evaluation in (("out-of-fold, chosen setting", result.cv), ("test (final model)", result.test)):
        if evaluation is None:
            continue
        lines += ["", f"## Metrics: {name}", "", "```", evaluation.format(), "```"]
    for section in sections:
        lines += ["", section.rstrip()]
    lines += [
        "",
        "## Limits",
        "- Trained on messages written for this project under the labeling guide, not on a",
        "  sample of real traffic; expect lower scores on styles, industries or slang it has",
        "  not seen, and retrain with your own labelled messages (see README).",
        "- A bag of words and characters: it does not reason about who is asking or what was",
        "  agreed in the contract. Requests whose label depends on context outside the message",
        "  (is this change in the contract?) need a person.",
        "- One label per message: the most serious ask's, when rule 2 finds one; `analyze()`",
        "  shows every ask. How often a client asks for favors (the degree, 度) is tracked by",
        "  `FavorLedger`, not by the label.",
        "- Probabilities assume the training label shares (uniform, balanced class weights);",
        "  pass your deployment's shares to `load_model(label_shares=...)`.",
        "- Confidence below the threshold is reported as `uncertain`: check with the project",
        "  manager.",
        "",
    ]
    return "\n".join(lines)
