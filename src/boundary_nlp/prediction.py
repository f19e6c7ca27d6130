"""The result of classifying one message, and the prediction methods every model shares."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .advice import Advice, advice_for
from .inputs import as_texts, truncate
from .labels import chinese_name
from .text import normalize

DEFAULT_EVIDENCE_TERMS = 5


@dataclass(frozen=True)
class Evidence:
    """A term found in the message and how much it pushed toward the predicted label."""

    term: str
    kind: str  # "word" (jieba word or bigram), "char" (character n-gram) or "word+char"
    weight: float


@dataclass(frozen=True)
class Prediction:
    """One message's label with its confidence, the evidence behind it and what to do."""

    label: str
    confidence: float
    probabilities: dict[str, float]
    evidence: tuple[Evidence, ...] = ()
    uncertain: bool = False
    threshold: float | None = None
    truncated: bool = False
    advice: Advice | None = field(default=None, repr=False)

    @property
    def label_zh(self) -> str:
        return chinese_name(self.label)

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "label_zh": self.label_zh,
            "confidence": self.confidence,
            "probabilities": dict(self.probabilities),
            "uncertain": self.uncertain,
            "threshold": self.threshold,
            "truncated": self.truncated,
            "evidence": [{"term": e.term, "kind": e.kind, "weight": e.weight} for e in self.evidence],
            "advice": None
            if self.advice is None
            else {"action": self.advice.action, "reply": self.advice.reply},
        }


def _top_evidence(contributions: list[tuple[str, str, float]], count: int) -> tuple[Evidence, ...]:
    """The terms pushing hardest toward the label; a term found as a word and as characters
    is shown once, with both pushes added (kind ``"word+char"``)."""
    # a block holds a term once, so a term seen twice was seen as a word and as characters
    totals: dict[str, float] = {}
    kinds: dict[str, str] = {}
    for kind, term, weight in contributions:
        if term in totals:
            totals[term] += weight
            kinds[term] = "word+char"
        else:
            totals[term] = weight
            kinds[term] = kind
    ranked = heapq.nsmallest(
        count,
        ((term, kinds[term], total) for term, total in totals.items() if total > 0),
        key=_strongest_first,
    )
    return tuple(Evidence(term, kind, weight) for term, kind, weight in ranked)


def _strongest_first(item: tuple[str, str, float]) -> tuple[float, str]:
    return -item[2], item[0]


class PredictorMixin:
    """``predict`` and ``classify`` built on a model's ``predict_proba`` and compiled form.

    Subclasses provide ``classes_``, ``predict_proba(texts)``, ``_compiled_model()``,
    ``max_chars`` and ``uncertainty_threshold``.
    """

    def predict(self, texts: str | Iterable[str]) -> np.ndarray:
        """Label strings, one per text."""
        proba = self.predict_proba(texts)
        return np.asarray(self.classes_, dtype=object)[proba.argmax(axis=1)]

    def classify(
        self,
        text: str,
        threshold: float | None = None,
        evidence_terms: int = DEFAULT_EVIDENCE_TERMS,
    ) -> Prediction:
        """Label one message with confidence, evidence and advice.

        ``uncertain`` is true when the confidence is below ``threshold`` (default: the
        threshold chosen on dev and stored with the model). Empty or whitespace-only text has
        no features: it gets the model's prior probabilities and is always ``uncertain``.
        """
        (text,) = as_texts(text) if isinstance(text, str) else as_texts([text])
        clipped, was_truncated = truncate(text, self.max_chars)
        normalized = normalize(clipped)
        compiled = self._compiled_model()
        proba, columns, values = compiled.explain(normalized)
        index = int(proba.argmax())
        label = str(compiled.classes[index])
        confidence = float(proba[index])
        if threshold is None:
            threshold = self.uncertainty_threshold
        uncertain = not normalized or (threshold is not None and confidence < threshold)
        evidence = _top_evidence(compiled.contributions(columns, values, index), evidence_terms)
        return Prediction(
            label=label,
            confidence=confidence,
            probabilities={str(c): float(p) for c, p in zip(compiled.classes, proba)},
            evidence=evidence,
            uncertain=uncertain,
            threshold=threshold,
            truncated=was_truncated,
            advice=advice_for(label, uncertain=uncertain),
        )

    def _clip(self, texts: str | Iterable[str]) -> list[str]:
        return [truncate(text, self.max_chars)[0] for text in as_texts(texts)]
