"""Split a message with several asks and label it by its most serious ask (guide rule 2).

A client often packs several requests into one message ("会议纪要发群里，另外帮我把考勤记录改一下").
A classifier reading the whole message averages the asks and can let a harmless one hide a
prohibited one, so :func:`analyze` classifies each ask on its own and keeps the most serious.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from .inputs import DEFAULT_MAX_CHARS, truncate
from .labels import Label, chinese_name
from .prediction import Prediction
from .text import to_simplified

# Sentence ends: always a new ask.
_HARD = frozenset("。．！？!?；;\n\r")
# Clause separators: a new ask only when the next clause starts with a connective.
_SOFT = frozenset("，,、…~～ \t\u3000")
# Connectives that introduce another ask, longest first so 另外 wins over 另. They are
# matched on the simplified text, so 另外/順便/還有/對了 (traditional) work as well.
_CONNECTIVES = ("再就是", "另外", "顺便", "还有", "对了", "此外", "另")
# 另 alone is a connective ("另：…", "另请…") but not in 另一个 / 另个 / 另类.
_NOT_AFTER_LING = frozenset("一个外类")
# Sentence-final particles and interjections: a part made only of these is no ask.
_PARTICLES = frozenset("啊阿吧呢吗嘛呀哦噢喔哈啦了的嗯哎唉诶呗么哟呦")
# Pleasantries that stand alone between asks ("…改一下。谢谢！") and ask for nothing.
_PLEASANTRIES = frozenset(
    {
        "谢谢", "多谢", "感谢", "谢了", "谢啦", "谢谢你", "谢谢您", "辛苦", "辛苦了", "辛苦你了",
        "辛苦您了", "麻烦了", "麻烦你了", "麻烦您了", "拜托", "拜托了", "好", "好的", "收到",
        "你好", "您好", "在吗", "在不在", "ok", "okay", "thanks", "thx",
    }
)
_TRAILING = re.compile(r"[\s。．！？!?；;，,、：:…~～]+$")
_LEADING = re.compile(r"^[\s。．！？!?；;，,、：:…~～]+")


def _core(text: str, particles: bool = True) -> str:
    """The simplified text without punctuation, symbols (emoji), spaces and (if asked) particles."""
    kept = []
    for char in unicodedata.normalize("NFKC", to_simplified(text)).lower():
        if unicodedata.category(char)[0] in "PSZC" or (particles and char in _PARTICLES):
            continue
        kept.append(char)
    return "".join(kept)


def _is_connective_only(text: str) -> bool:
    # 对了 ends in the particle 了: compare with particles kept, and also without ("还有呢")
    return _core(text, particles=False) in _CONNECTIVES or _core(text) in _CONNECTIVES


def _is_empty_ask(text: str) -> bool:
    core = _core(text)
    return not core or core in _PLEASANTRIES


def _starts_with_connective(simplified: str, start: int) -> bool:
    rest = simplified[start:].lstrip(" \t\u3000")
    for word in _CONNECTIVES:
        if rest.startswith(word):
            if word == "另" and rest[1:2] in _NOT_AFTER_LING:
                return False
            return True
    return False


def _clean(part: str) -> str:
    return _TRAILING.sub("", _LEADING.sub("", part.strip())).strip()


def split_asks(message: str) -> list[str]:
    """The asks of a message, in order, with surrounding punctuation stripped.

    A new ask starts after a sentence end (。！？!?；; or a line break), and after a comma
    or space only when the next clause begins with a connective (另外, 顺便, 还有, 对了,
    再就是, 此外, 另; traditional forms too). The connective stays with the ask it
    introduces. Connectives inside a clause do not split: "开完会顺便帮我取个快递" is one
    ask, because without punctuation 顺便 most often just describes the same ask ("while
    you are at it") and words like 还有 / 另 are too common mid-sentence to cut on safely.

    Parts with nothing but punctuation, emoji, particles or a pleasantry (谢谢, 辛苦了,
    您好...) are dropped; a lone connective ("对了！") is joined to the ask after it. A
    message without split points gives one part; an empty or punctuation-only message
    gives none; a message that is only a pleasantry gives itself as the one part.
    """
    if not isinstance(message, str):
        raise TypeError(f"split_asks() expects a str, got {type(message).__name__}")
    simplified = to_simplified(message)
    if len(simplified) != len(message):  # the table maps one character to one; be safe anyway
        simplified = message
    pieces: list[str] = []
    start = 0
    for index, char in enumerate(message):
        if char in _HARD or (char in _SOFT and _starts_with_connective(simplified, index + 1)):
            pieces.append(message[start : index + 1])
            start = index + 1
    pieces.append(message[start:])

    parts: list[str] = []
    pending = ""  # a lone connective waiting for the ask it introduces
    for piece in pieces:
        if pending:
            piece = pending + piece
            pending = ""
        if _is_connective_only(piece):
            pending = piece
            continue
        if _is_empty_ask(piece):
            continue
        parts.append(_clean(piece))
    if not parts and _core(message):
        parts.append(_clean(message))
    return parts


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
        return whole, None, (
            "标签不属于指南的三类，采用整条消息的判断 / "
            "labels outside the guide's three: whole-message prediction"
        )
    best = max(
        range(len(parts)),
        key=lambda i: (_severity(parts[i].prediction.label), parts[i].prediction.confidence, -i),
    )
    chosen = parts[best].prediction
    if _severity(whole.label) > _severity(chosen.label):
        return whole, None, (
            f"整条消息比任何一部分都更严重：{whole.label_zh} / "
            f"the whole message reads more serious than any part: {whole.label}"
        )
    if len(parts) == 1:
        return chosen, 0, f"只有一个请求：{chosen.label_zh} / one ask: {chosen.label}"
    return chosen, best, (
        f"最严重的是第{best + 1}部分：{chinese_name(chosen.label)} / "
        f"most serious ask is part {best + 1}: {chosen.label}"
    )


def analyze(
    message: str,
    model: Any = None,
    threshold: float | None = None,
    max_chars: int | None = DEFAULT_MAX_CHARS,
) -> Analysis:
    """Split ``message`` into asks, classify each and the whole, and combine (guide rule 2).

    ``model`` is any object with ``classify(text, threshold=None) -> Prediction`` (default:
    the shipped model). The overall label is the most serious part's (prohibited >
    courtesy > in_scope; ties go to the higher confidence) unless the whole message is
    classified as more serious; with labels other than the guide's three it is the
    whole-message prediction. A message longer than ``max_chars`` (as in ``classify``) is cut
    to its first ``max_chars`` characters before splitting, so the time is bounded; the result
    says ``truncated=True``. ``message`` in the result is the text as given.
    """
    if not isinstance(message, str):
        hint = "; decode bytes first (for example data.decode('utf-8'))" if isinstance(
            message, (bytes, bytearray)
        ) else ""
        raise TypeError(f"analyze() expects one message as a str, got {type(message).__name__}{hint}")
    if model is None:
        from . import default_model

        model = default_model()
    clipped, was_truncated = truncate(message, max_chars)
    whole = model.classify(clipped, threshold=threshold)
    parts = [AskPart(text, model.classify(text, threshold=threshold)) for text in split_asks(clipped)]
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
