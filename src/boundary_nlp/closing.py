"""The pleasantry a message closes with ("，谢谢！", "辛苦了", "麻烦您了！", "拜托拜托🙏", "thx").

A closing thanks asks for nothing: "帮我把报告改一下，谢谢！" and "帮我把报告改一下" ask the same
(guide rule 1, label what is asked). Yet its tokens dilute a short message and, under rule 2,
the last ask carries it alone, so a model that reads it changes labels when one is appended.
:func:`drop_closing` removes it before features are read, as :mod:`boundary_nlp.vocative`
removes the opening form of address.

What counts, at the very end of a normalized text only (up to four, the last first, each
with any punctuation, emoji, spaces or particles 了/啦/啊/哈/哦/呀/~ after it):

- thanks: 谢谢/多谢/感谢/感恩/谢啦/谢了/蟹蟹, repeated or not (感谢感谢), with an adverb
  before (先/提前/非常/万分…) and an addressee after (谢谢老师, 多谢王工, 谢谢大家), optionally
  for 支持/配合/帮忙/理解 (感谢您的配合); 感激不尽; thanks/thank you/thx/tks/3q;
- 拜托 (拜托了, 拜托拜托, 拜托您啦);
- 辛苦 (辛苦了, 辛苦啦, 辛苦辛苦, 大家辛苦了, 辛苦王工了);
- 麻烦了/麻烦你了/麻烦大家了, 打扰了, 有劳了, 费心了, 受累了.

Only the words above, whole: "麻烦把报告发我" (an ask), "辛苦费给你转了", "谢谢你们帮忙把报告改了"
and "麻烦尽快" in "麻烦尽快，谢谢" are kept. Thanks and 拜托, and 辛苦/麻烦 said to someone
(辛苦您了, 麻烦你了), may run into the message ("帮我看下谢谢"), unless a word that makes
them content comes right before ("代我谢谢张总", "太辛苦了", "不用谢谢"); the others need a
punctuation mark, emoji or space before them ("这个流程太麻烦了" is kept). A text that would
be left with no letter or Chinese character ("谢谢！", "辛苦了🙏") is kept whole.
"""

from __future__ import annotations

import re

from .vocative import _NAME, _alternatives

# who is thanked, after the thanks (谢谢老师) or before 辛苦 (大家辛苦了)
_ADDRESSEES = (
    "你们",
    "您们",
    "你",
    "您",
    "大家",
    "各位",
    "诸位",
    "老师",
    "领导",
    "亲",
    "兄弟",
    "哥们",
    "美女",
    "帅哥",
)
_ADDRESSEE = f"(?:{_alternatives(_ADDRESSEES)}|{_NAME})"
_THANK_WORDS = ("谢谢", "多谢", "感谢", "感恩", "谢啦", "谢了", "谢过", "蟹蟹")
_THANK_ADVERBS = (
    "先",
    "提前",
    "预先",
    "在此",
    "再次",
    "非常",
    "十分",
    "万分",
    "衷心",
    "真心",
    "真是",
    "太",
    "多多",
)
_THANK_FOR = ("支持", "配合", "帮忙", "帮助", "理解", "关照", "照顾")
_PARTICLES = "了啦啊呀哈哦噢喔喽咯嘞哟呦嘛"
_THANK_WORD = _alternatives(_THANK_WORDS)
_THANKS = (
    f"(?:(?:{_alternatives(_THANK_ADVERBS)})?{_THANK_WORD}{{1,3}}"
    f"(?:{_ADDRESSEE}{{1,2}})?(?:的?{_alternatives(_THANK_FOR)})?"
    "|感激不尽|(?<![a-z])(?:thanks|thank you|thank u|thx|tks|3q)"
    f"|拜托(?:拜托)*{_ADDRESSEE}?)"
)
# said to someone: may run into the message (帮我看下辛苦您了)
_ADDRESSED = (
    f"(?:辛苦(?:{_ADDRESSEE})[了啦]|{_ADDRESSEE}辛苦(?:辛苦)*[了啦]?"
    f"|辛苦[了啦]|(?:麻烦|打扰|有劳|劳烦|辛苦){_ADDRESSEE}[了啦]?)"
)
# need a separator before them (这个流程太麻烦了, 工作辛苦 are kept)
_PLAIN = "(?:辛苦(?:辛苦)*[了啦]?|麻烦[了啦]|打扰[了啦]|有劳[了啦]?|费心[了啦]|受累[了啦]|劳烦[了啦]?)"
# words right before that make a thanks or 辛苦 part of the sentence
_CONTENT_BEFORE = "代替帮跟向去要得用别不太很真好挺也都够特最蛮超该应会想添"
_CLOSING = re.compile(
    f"(?:(?<![{_CONTENT_BEFORE}])(?<![代替帮跟向][我他她])(?:{_THANKS}|{_ADDRESSED})|(?<![^\\W_]){_PLAIN})"
    f"(?:[\\W_{_PARTICLES}])*\\Z"
)
_TRAILING_RUN = re.compile(f"[\\W_{_PARTICLES}]*")
# every closing above holds one of these: a closing is looked for only near them (most texts
# have none, and trying _CLOSING at every position of the end is slow)
_STEMS = re.compile("谢|感恩|感激|蟹蟹|thank|thx|tks|3q|拜托|辛苦|麻烦|打扰|有劳|劳烦|费心|受累")
# How far before the first stem in it a closing can start. Most forms start with their stem or
# have at most an adverb and a thank word's first character before it (提前多谢, 多多感谢: 3).
# Only 辛苦 can follow an addressee: at most two bare forms of address and a role
# (各相关单位各参建单位项目工程师辛苦了: 15), or a Latin name after 阿 or hi/hello/hey/dear
# (hi tom辛苦了), whose letters run up to the stem (or hold it: hi thxtom辛苦了) and are
# skipped first, leaving at most "hello " (6) before them.
_BEFORE_STEM = 3
_BEFORE_XINKU = 15
# _CLOSING is tried only where a quick check passes (a failed try costs about as much as a
# match). A closing without 辛苦 starts with a stem or with at most _BEFORE_STEM adverb
# characters or first characters of a thank word before one (提前多谢: 提前多), so the positions
# just before a stem (改一下,谢谢: 一下,) are skipped. One with 辛苦 may also start with an
# addressee: at most _BEFORE_XINKU letters or spaces, then Latin letters, before the 辛苦
# (各相关单位各参建单位项目工程师, hello tom, 阿强; Han is spelled out: Python 3.10 reads its
# last, then unassigned, code points as no \w).
_STEM_FIRSTS = "".join(sorted({stem[0] for stem in _STEMS.pattern.split("|")}))
_THANK_BEFORE_STEM = "".join(re.split(f"[{_STEM_FIRSTS}]", word)[0] for word in _THANK_WORDS)  # 多谢: 多
_BEFORE_STEM_CHARS = "".join(sorted(set("".join(_THANK_ADVERBS) + _THANK_BEFORE_STEM)))
_NEAR_STEM = f"[{_BEFORE_STEM_CHARS}]{{0,{_BEFORE_STEM}}}?[{_STEM_FIRSTS}]"
_NEAR_XINKU = f"[\\w\u4e00-\u9fff ]{{0,{_BEFORE_XINKU}}}?[a-z]*辛苦"
_CLOSING_NEAR_STEM = re.compile(f"(?={_NEAR_STEM}){_CLOSING.pattern}")
_CLOSING_NEAR_XINKU = re.compile(f"(?={_NEAR_STEM}|{_NEAR_XINKU}){_CLOSING.pattern}")
_LATIN = "abcdefghijklmnopqrstuvwxyz"
_LETTER_OR_HAN = re.compile(r"[^\W\d_]")
# the longest closing read at once; bounds the search to the end of a long text
_WINDOW = 48
# clause marks and spaces left before a dropped closing ("改一下，谢谢" reads "改一下")
_CLAUSE_MARKS = " ,、;:~…"
MAX_CLOSINGS = 4


def _closing_before(normalized: str, start: int, end: int) -> int | None:
    """Where the leftmost closing that ends ``normalized[:end]`` and starts at or after
    ``start`` starts (what ``_CLOSING.search(normalized, start, end)`` finds), or ``None``.

    A closing holds a stem. Without a 辛苦 it starts at most ``_BEFORE_STEM`` characters
    before one: the search starts that far before the first stem and tries only the positions
    that pass ``_NEAR_STEM``. With a 辛苦 (which may follow a long addressee) it starts
    ``_BEFORE_XINKU`` characters, and the Latin letters right before it, before the first
    stem, and tries the positions that pass ``_NEAR_STEM`` or ``_NEAR_XINKU``. Lookbehinds see
    before the position searched from, so searching from a later one changes no match.
    """
    stem = _STEMS.search(normalized, start, end)
    if stem is None:
        return None
    first = stem.start()
    if normalized.find("辛苦", first, end) < 0:
        match = _CLOSING_NEAR_STEM.search(normalized, max(start, first - _BEFORE_STEM), end)
    else:
        first = start + len(normalized[start:first].rstrip(_LATIN)) - _BEFORE_XINKU
        match = _CLOSING_NEAR_XINKU.search(normalized, max(start, first), end)
    return None if match is None else match.start()


def _window_start(normalized: str, start: int) -> int:
    """Where a closing that ends ``normalized[:start]`` is looked for from: ``_WINDOW``
    characters before the run of punctuation, symbols, spaces and particles (read up to
    ``_WINDOW`` back) that ends at ``start``.

    The run is matched on the reversed text (a search for a pattern ending in ``\\Z`` would
    try every position), and not read at all in the first ``_WINDOW`` characters, where the
    window starts at 0 whatever its length (most texts are that short).
    """
    if start <= _WINDOW:
        return 0
    return max(0, start - _TRAILING_RUN.match(normalized[start - _WINDOW : start][::-1]).end() - _WINDOW)


def closing_start(normalized: str) -> int:
    """Where the closing pleasantries of a normalized text start (``len(normalized)``: none).

    See the module docstring for what counts; the text before them keeps at least one letter
    or Chinese character, else nothing is dropped.
    """
    start = len(normalized)
    if not _STEMS.search(normalized):  # most texts: no closing, and no search at all
        return start
    for _ in range(MAX_CLOSINGS):
        found = _closing_before(normalized, _window_start(normalized, start), start)
        if found is None:
            break
        start = found
    if start == len(normalized):
        return start
    start = len(normalized[:start].rstrip(_CLAUSE_MARKS))
    if not _LETTER_OR_HAN.search(normalized, 0, start):
        return len(normalized)
    return start


def only_closing(normalized: str) -> bool:
    """Whether a normalized text is nothing but closing pleasantries ("先谢谢了哈", "辛苦了!"):
    under rule 2 such a part asks for nothing and is no ask."""
    end = len(normalized)
    if not _STEMS.search(normalized):
        return False
    for _ in range(MAX_CLOSINGS):
        found = _closing_before(normalized, max(0, end - _WINDOW), end)
        if found is None:
            break
        end = found
    return end < len(normalized) and not _LETTER_OR_HAN.search(normalized, 0, end)


def drop_closing(normalized: str) -> str:
    """The normalized text without the pleasantries it closes with:
    ``drop_closing("帮我把报告改一下,谢谢!") == "帮我把报告改一下"``. Expects
    :func:`~boundary_nlp.text.normalize`'s output (half-width punctuation, simplified
    characters, lower case)."""
    return normalized[: closing_start(normalized)]
