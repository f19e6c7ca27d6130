"""Style markers: surface features that say nothing about what a message asks.

A corpus in which such a marker is much more common under one label teaches the model to
follow style instead of the ask ("，谢谢！" turning a ticket into a favor). ``marker_table``
measures, for each marker, the share of rows carrying it under each label; ``check-data``
warns when the largest share exceeds ``MAX_MARKER_RATIO`` times the smallest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

MAX_MARKER_RATIO = 1.5
MIN_MARKER_SHARE = 0.02

_EMOJI = re.compile(
    "[\U0001f300-\U0001faff\u2600-\u27bf\U0001f000-\U0001f2ff\u2b50\u2b06\u2934\u2935\u3030\u303d]"
    "|\\[(?:捂脸|呲牙|微笑|抱拳|握手|OK|强|偷笑|合十|玫瑰|耶|憨笑|可怜|流泪|坏笑|奸笑|机智|嘿哈|让我看看)\\]"
)
_THANKS = re.compile(r"谢谢|多谢|感谢|谢啦|谢了|辛苦了|辛苦啦|辛苦|麻烦了|麻烦啦|thx|thanks|3q", re.I)
_POLITE = re.compile(r"您|麻烦|劳驾|烦请|请问|拜托|辛苦")
_PARTICLE = re.compile(r"[哈呗啊呀嘛哦噢啦咯]")
_HELP = re.compile(r"帮")
_BY_THE_WAY = re.compile(r"顺便|顺手|顺路")
_DIGIT = re.compile(r"[0-9０-９]")
_AMOUNT = re.compile(
    r"[0-9０-９一二两三四五六七八九十百千万]+(?:\.\d+)?\s*(?:块|元|万|千|百元|rmb|RMB|¥|￥)|[¥￥]\s*\d"
)
_DATE_TIME = re.compile(
    r"[0-9０-９一二两三四五六七八九十]+\s*(?:点|号|日|月|时|:\d\d|：\d\d)"
    r"|[周星期礼拜][一二三四五六日天]|今天|明天|后天|昨天|今晚|明早|上午|下午|晚上|中午|早上"
)
_GREETING = re.compile(
    r"^\s*(?:[@＠]?[\u4e00-\u9fff]{1,3}(?:工|总|哥|姐|老师|经理|师傅|主任|同学)|小[\u4e00-\u9fff]"
    r"|老[\u4e00-\u9fff]|hi|hello|hey|嗨|哈喽|您好|你好|早|早上好|下午好|在吗|在不在)"
    r"[，,：:！!~ 、\s]",
    re.I,
)
_ENGLISH = re.compile(r"[A-Za-z]{2,}")
_SENTENCE_PUNCT = re.compile(r"[，。！？；、,.!?;：:…]")


@dataclass(frozen=True)
class Marker:
    """A style marker: its name, a short description and the test on the raw text."""

    name: str
    description: str
    test: Callable[[str], bool]


def _no_punctuation(text: str) -> bool:
    # voice-to-text: a message of some length with no sentence punctuation at all
    return len(text) >= 10 and not _SENTENCE_PUNCT.search(text)


MARKERS: tuple[Marker, ...] = (
    Marker("thanks", "谢谢/辛苦了/麻烦了/感谢", lambda t: bool(_THANKS.search(t))),
    Marker("polite", "您/麻烦/劳驾/请问/拜托", lambda t: bool(_POLITE.search(t))),
    Marker("particle", "sentence particles 哈/呗/啊/呀/嘛/哦/啦/咯", lambda t: bool(_PARTICLE.search(t))),
    Marker("emoji", "emoji or WeChat [表情] codes", lambda t: bool(_EMOJI.search(t))),
    Marker("greeting", "a name or greeting in front", lambda t: bool(_GREETING.search(t))),
    Marker("help", "帮/帮忙/帮我", lambda t: bool(_HELP.search(t))),
    Marker("by_the_way", "顺便/顺手/顺路", lambda t: bool(_BY_THE_WAY.search(t))),
    Marker("digits", "any digit", lambda t: bool(_DIGIT.search(t))),
    Marker("amount", "an amount of money", lambda t: bool(_AMOUNT.search(t))),
    Marker("date_time", "a date, weekday or time of day", lambda t: bool(_DATE_TIME.search(t))),
    Marker("no_punctuation", "10+ characters without punctuation (voice-to-text)", _no_punctuation),
    Marker("english", "an English word", lambda t: bool(_ENGLISH.search(t))),
)


@dataclass(frozen=True)
class MarkerRow:
    """One marker's share of rows under each label, and whether it is unbalanced."""

    name: str
    description: str
    overall: float
    shares: dict[str, float]
    ratio: float
    warn: bool


def marker_table(
    texts: Sequence[str],
    labels: Sequence[str],
    label_names: Iterable[str] | None = None,
    max_ratio: float = MAX_MARKER_RATIO,
    min_share: float = MIN_MARKER_SHARE,
) -> list[MarkerRow]:
    """Each marker's share of rows per label; ``warn`` when max/min share > ``max_ratio``.

    Markers on fewer than ``min_share`` of all rows never warn (too rare to teach much).
    """
    if len(texts) != len(labels):
        raise ValueError("texts and labels differ in length")
    names = sorted(set(labels)) if label_names is None else list(label_names)
    totals = {name: 0 for name in names}
    for label in labels:
        totals[label] = totals.get(label, 0) + 1
    rows = []
    for marker in MARKERS:
        hits = [marker.test(text) for text in texts]
        counts = {name: 0 for name in names}
        for hit, label in zip(hits, labels):
            if hit:
                counts[label] += 1
        shares = {name: counts[name] / totals[name] if totals[name] else 0.0 for name in names}
        overall = sum(hits) / len(texts) if texts else 0.0
        present = [share for name, share in shares.items() if totals[name]]
        low, high = (min(present), max(present)) if present else (0.0, 0.0)
        ratio = high / low if low > 0 else (float("inf") if high > 0 else 1.0)
        rows.append(
            MarkerRow(
                marker.name,
                marker.description,
                overall,
                shares,
                ratio,
                warn=overall >= min_share and ratio > max_ratio,
            )
        )
    return rows


def format_marker_table(rows: Sequence[MarkerRow]) -> str:
    """A plain-text table: marker, share of all rows, share per label, ratio, verdict."""
    if not rows:
        return ""
    labels = list(rows[0].shares)
    header = f"{'marker':<15} {'all':>6} " + " ".join(f"{label:>10}" for label in labels)
    lines = [header + f" {'max/min':>8}"]
    for row in rows:
        ratio = "inf" if row.ratio == float("inf") else f"{row.ratio:.2f}"
        cells = " ".join(f"{row.shares[label]:>10.1%}" for label in labels)
        flag = "  WARN" if row.warn else ""
        lines.append(f"{row.name:<15} {row.overall:>6.1%} {cells} {ratio:>8}{flag}")
    return "\n".join(lines)
