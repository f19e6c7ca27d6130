"""The result of classifying one message, and the prediction methods every model shares."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .advice import Advice
from .labels import chinese_name

DEFAULT_EVIDENCE_TERMS = 5
# why a prediction is uncertain (Prediction.reason), in words for people
REASONS = {
    "low_confidence": "置信度低于阈值 / confidence below the model's threshold",
    "empty": "空消息 / the message is empty",
    "no_content": "没有可判断的内容（只有标点、表情、数字或语气词）/ nothing to judge: only punctuation, "
    "emoji, digits or interjections",
    "not_chinese": "不是中文，模型只读中文 / not Chinese: the model reads Chinese only",
}


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
    # why the prediction is uncertain: "low_confidence", "empty", "no_content", "not_chinese"
    reason: str | None = None
    # the ask of a multi-ask message whose label the message took (guide rule 2), if any
    ask: str | None = None

    @property
    def label_zh(self) -> str:
        return chinese_name(self.label)

    @property
    def reason_text(self) -> str | None:
        """Why the prediction is uncertain, in Chinese and English (``None`` when it is not)."""
        return None if self.reason is None else REASONS.get(self.reason, self.reason)

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "label_zh": self.label_zh,
            "confidence": self.confidence,
            "probabilities": dict(self.probabilities),
            "uncertain": self.uncertain,
            "threshold": self.threshold,
            "truncated": self.truncated,
            "reason": self.reason,
            "ask": self.ask,
            "evidence": [{"term": e.term, "kind": e.kind, "weight": e.weight} for e in self.evidence],
            "advice": None
            if self.advice is None
            else {"action": self.advice.action, "reply": self.advice.reply},
        }


# characters that carry grammar, not content: never shown as evidence on their own
FUNCTION_CHARS = frozenset(
    "的了着过地得我你您他她它们咱吗呢吧啊呀哈呗嘛哦啦咯把被给在和与及也就都还又再才这那个些"
)


def is_content_term(term: str) -> bool:
    """Whether a feature term says something about the ask: not a number token (``0``),
    not made only of function characters (的, 我, 吗...) and spaces."""
    return any(char not in FUNCTION_CHARS and char != " " and not char.isdigit() for char in term)


def top_evidence(contributions: list[tuple[str, str, float]], count: int) -> tuple[Evidence, ...]:
    """The content terms pushing hardest toward the label; a term found as a word and as
    characters is shown once, with both pushes added (kind ``"word+char"``). Numbers and
    function characters are left out (see :func:`is_content_term`)."""
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
        ((term, kinds[term], total) for term, total in totals.items() if total > 0 and is_content_term(term)),
        key=_strongest_first,
    )
    return tuple(Evidence(term, kind, weight) for term, kind, weight in ranked)


def _strongest_first(item: tuple[str, str, float]) -> tuple[float, str]:
    return -item[2], item[0]


class PredictorViews:
    """``predict``, ``predict_proba`` and ``classify`` of an object that holds a fitted
    :class:`~boundary_nlp._linear.LinearTextModel` (returned by ``_predictor()``): the
    estimator and the loaded model answer through the same predictor."""

    def predict_proba(
        self, texts: str | Iterable[str], n_jobs: int | None = None, n_threads: int | None = None
    ) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Large batches are scored in threads on every core by default (with the C module;
        ``n_threads`` sets how many, 1 for none); ``n_jobs`` > 1 (or -1 for every core)
        uses worker processes instead. The result is the same either way.
        """
        return self._predictor().predict_proba(texts, n_jobs=n_jobs, n_threads=n_threads)

    def predict(
        self, texts: str | Iterable[str], n_jobs: int | None = None, n_threads: int | None = None
    ) -> np.ndarray:
        """Label strings, one per text."""
        return self._predictor().predict(texts, n_jobs=n_jobs, n_threads=n_threads)

    def classify(
        self,
        texts: str | Iterable[str],
        threshold: float | None = None,
        evidence_terms: int = DEFAULT_EVIDENCE_TERMS,
    ) -> Prediction | list[Prediction]:
        """One message -> :class:`Prediction` (label, confidence, evidence, advice); an
        iterable of messages -> a list of them.

        ``uncertain`` is true when the confidence is below ``threshold`` (default: the
        threshold chosen in training and stored with the model), and for text with nothing
        to judge (empty, no content, not Chinese), whose ``reason`` says which.
        """
        return self._predictor().classify(texts, threshold=threshold, evidence_terms=evidence_terms)

    def asks(self, message: str) -> list[str]:
        """The asks of ``message`` that this model scores one by one under rule 2."""
        return self._predictor().asks(message)
