"""Split a message with several asks and label it by its most serious ask (guide rule 2).

A client often packs several requests into one message ("会议纪要发群里，另外帮我把考勤记录改一下").
A classifier reading the whole message averages the asks and can let a harmless one hide a
prohibited one, so :func:`analyze` classifies each ask on its own and keeps the most serious.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .asks import split_asks
from .inputs import DEFAULT_MAX_CHARS, truncate
from .labels import Label, chinese_name
from .prediction import Prediction


@dataclass(frozen=True)
class AskPart:
    """One ask of a message and its prediction."""

    text: str
    prediction: Prediction

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "prediction": self.prediction.to_dict()}


@dataclass(frozen=True)
class Analysis:
    """A message's asks, each classified, and the overall verdict.

    ``overall`` is the prediction of the most serious part, or of the whole message when
    that reads more serious than every part (or when the labels are not the guide's three);
    ``overall_part`` is the index of the part it came from, ``None`` for the whole message.
    ``truncated``: the message was longer than ``max_chars`` and only its start was analysed.
    """

    message: str
    parts: list[AskPart]
    overall: Prediction
    whole: Prediction
    reason: str
    overall_part: int | None = None
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "parts": [part.to_dict() for part in self.parts],
            "overall": self.overall.to_dict(),
            "overall_part": self.overall_part,
            "whole": self.whole.to_dict(),
            "reason": self.reason,
            "truncated": self.truncated,
        }


def _severity(label: str) -> int | None:
    try:
        return Label(label).severity
    except ValueError:
        return None


def _combine(parts: list[AskPart], whole: Prediction) -> tuple[Prediction, int | None, str]:
    """The overall prediction, the index of the part it comes from, and why."""
    if not parts:
        return whole, None, "没有可分析的请求，采用整条消息的判断 / no ask found: whole-message prediction"
    labels = [part.prediction.label for part in parts] + [whole.label]
    if any(_severity(label) is None for label in labels):
        return (
            whole,
            None,
            (
                "标签不属于指南的三类，采用整条消息的判断 / "
                "labels outside the guide's three: whole-message prediction"
            ),
        )
    best = max(
        range(len(parts)),
        key=lambda i: (_severity(parts[i].prediction.label), parts[i].prediction.confidence, -i),
    )
    chosen = parts[best].prediction
    if _severity(whole.label) > _severity(chosen.label):
        return (
            whole,
            None,
            (
                f"整条消息比任何一部分都更严重：{whole.label_zh} / "
                f"the whole message reads more serious than any part: {whole.label}"
            ),
        )
    if len(parts) == 1:
        return chosen, 0, f"只有一个请求：{chosen.label_zh} / one ask: {chosen.label}"
    return (
        chosen,
        best,
        (
            f"最严重的是第{best + 1}部分：{chinese_name(chosen.label)} / "
            f"most serious ask is part {best + 1}: {chosen.label}"
        ),
    )


def analyze(
    message: str, model: Any, threshold: float | None = None, max_chars: int | None = None
) -> Analysis:
    """Split ``message`` into asks, classify each and the whole, and combine (guide rule 2).

    ``model`` is any object with ``classify(texts, threshold=None)`` that returns a list of
    :class:`Prediction` for a list of texts (``boundary_nlp.analyze`` passes the shipped
    model when none is given). The overall label is the most serious part's (prohibited >
    courtesy > in_scope; ties go to the higher confidence) unless the whole message is
    classified as more serious; with labels other than the guide's three it is the
    whole-message prediction. A message longer than ``max_chars`` (default: the model's own,
    as in ``classify``) is cut to its first ``max_chars`` characters before splitting, so the
    time is bounded; the result says ``truncated=True``. ``message`` in the result is the
    text as given.
    """
    if not isinstance(message, str):
        hint = (
            "; decode bytes first (for example data.decode('utf-8'))"
            if isinstance(message, (bytes, bytearray))
            else ""
        )
        raise TypeError(f"analyze() expects one message as a str, got {type(message).__name__}{hint}")
    if max_chars is None:
        max_chars = getattr(model, "max_chars", DEFAULT_MAX_CHARS)
    clipped, was_truncated = truncate(message, max_chars)
    # the asks the model itself scores under rule 2 (a model may drop closing pleasantries)
    texts = model.asks(clipped) if hasattr(model, "asks") else split_asks(clipped)
    whole, *predictions = model.classify([clipped, *texts], threshold=threshold)
    parts = [AskPart(text, prediction) for text, prediction in zip(texts, predictions)]
    overall, index, reason = _combine(parts, whole)
    return Analysis(
        message=message,
        parts=parts,
        overall=overall,
        whole=whole,
        reason=reason,
        overall_part=index,
        truncated=was_truncated,
    )
