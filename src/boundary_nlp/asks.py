"""The asks of a message: where one request ends and the next begins.

A client often packs several requests into one message ("会议纪要发群里，另外帮我把考勤记录改一下").
The guide labels such a message by its most serious ask (rule 2), so the predictor and
:func:`boundary_nlp.analyze` look at each ask on its own; this module finds them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from .closing import only_closing
from .text import _nfkc, normalize, to_simplified

# Sentence ends: always a new ask.
_HARD = "。．！？!?；;\n\r"
# Clause separators: a new ask only when the next clause starts with a connective.
_SOFT = "，,、…~～ \t\u3000"
# Connectives that introduce another ask, longest first so 另外 wins over 另. They are
# matched on the simplified text, so 另外/順便/還有/對了 (traditional) work as well.
_CONNECTIVES = ("再就是", "另外", "顺便", "还有", "对了", "此外", "另")
_LONGEST_CONNECTIVE = max(map(len, _CONNECTIVES))
# 另 alone is a connective ("另：…", "另请…") but not in 另一个 / 另个 / 另类.
_NOT_AFTER_LING = "一个外类"
# Sentence-final particles and interjections: a part made only of these is no ask.
_PARTICLES = frozenset("啊阿吧呢吗嘛呀哦噢喔哈啦了的嗯哎唉诶呗么哟呦")
# Pleasantries that stand alone between asks ("…改一下。谢谢！") and ask for nothing.
# fmt: off
_PLEASANTRIES = frozenset(
    {
        "谢谢", "多谢", "感谢", "谢了", "谢啦", "谢谢你", "谢谢您", "辛苦", "辛苦了", "辛苦你了",
        "辛苦您了", "麻烦了", "麻烦你了", "麻烦您了", "拜托", "拜托了", "好", "好的", "收到",
        "你好", "您好", "在吗", "在不在", "ok", "okay", "thanks", "thx",
    }
)
# fmt: on
# what _clean strips from both ends of an ask: whitespace (str.isspace, re's \s: the same
# characters, all below U+3001) and these marks
_EDGE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace()) + "。．！？!?；;，,、：:…~～"
_NOT_EDGE = re.compile(f"[^{re.escape(_EDGE)}]")


def _connective_pattern() -> str:
    words = [re.escape(word) for word in _CONNECTIVES]
    return "|".join(word if word != "另" else f"另(?![{_NOT_AFTER_LING}])" for word in words)


# The separators after which a new ask starts, matched on the simplified text (to_simplified
# maps no separator and maps nothing to one, so they sit where they sit in the message): a
# sentence end, or a clause separator followed (after spaces) by a connective. Each match
# is one separator character, so a run of separators is checked character by character.
_SPLIT = re.compile(f"[{re.escape(_HARD)}]|[{re.escape(_SOFT)}](?=[ \\t\\u3000]*(?:{_connective_pattern()}))")

# Common Chinese characters (一..龥, category Lo, unchanged by NFKC and lower()) that are no
# particle: each is one character of the core, so a part with one has a core, and a part with
# five has a core longer than any pleasantry or connective. Cheaper to find than the core.
_WORD = f"[一-龥](?<![{''.join(sorted(_PARTICLES))}])"
_ONE_WORD = re.compile(_WORD)
_FIVE_WORDS = re.compile(f"(?:.*?{_WORD}){{5}}", re.DOTALL)


class _LazyTable(dict):
    """A ``str.translate`` table whose entries are computed on first use and kept.

    Each distinct character then costs one call of ``entry`` (``unicodedata.category``...),
    not each character read. The table is emptied when it holds ``LIMIT`` characters, so
    input made of ever new characters cannot grow it without limit.
    """

    LIMIT = 1 << 16

    def __init__(self, entry: Callable[[int], int | None]) -> None:
        super().__init__()
        self.entry = entry

    def __missing__(self, code: int) -> int | None:
        value = self.entry(code)
        if len(self) >= self.LIMIT:
            self.clear()
        self[code] = value
        return value


def _dropped(particles: bool) -> _LazyTable:
    """The table deleting what :func:`_core` drops and keeping every other character."""

    def entry(code: int) -> int | None:
        char = chr(code)
        if unicodedata.category(char)[0] in "PSZC" or (particles and char in _PARTICLES):
            return None
        return code

    return _LazyTable(entry)


_DROP_WITH_PARTICLES = _dropped(particles=True)
_DROP_WITHOUT_PARTICLES = _dropped(particles=False)


def _core(simplified: str, particles: bool = True) -> str:
    """The text without punctuation, symbols (emoji), spaces and (if asked) particles.

    ``simplified`` is already simplified (``to_simplified``): split_asks simplifies the
    message once, and its pieces are pieces of that.
    """
    table = _DROP_WITH_PARTICLES if particles else _DROP_WITHOUT_PARTICLES
    return _nfkc(simplified).lower().translate(table)


# a part's core has its particles dropped, so it is compared with the pleasantries' cores:
# 麻烦了 -> 麻烦, 在吗 -> 在 (compared as written, these never matched)
_PLEASANTRY_CORES = frozenset(_core(to_simplified(word)) for word in _PLEASANTRIES)


def _is_connective_only(simplified: str, core: str) -> bool:
    """``core`` is ``_core(simplified)``. 对了 ends in the particle 了: compare with particles
    dropped and also kept ("还有呢"). Kept particles only make the core longer, so a core
    longer than every connective settles it."""
    if len(core) > _LONGEST_CONNECTIVE:
        return False
    return core in _CONNECTIVES or _core(simplified, particles=False) in _CONNECTIVES


def _clean(part: str) -> str:
    """``part`` without the whitespace and punctuation (``_EDGE``) at either end."""
    return part.strip(_EDGE)


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
        return _split(message, message, to_simplified)
    return _split(message, simplified, None)


def _whole(message: str, split_on: str, simplify: Callable[[str], str] | None) -> list[str]:
    """:func:`_split` of a message that is one piece (most messages): one ask, unless it has no
    core at all.

    A message whose split points all sit in the separators that end it ("改一下。", "好的！！")
    is one piece too: the pieces after its first split point are separators only, so they have
    no core and nothing to join, and the ask is the message stripped of its ends either way.
    """
    simplified = simplify(message) if simplify else split_on
    return [_clean(message)] if _ONE_WORD.search(simplified) or _core(simplified) else []


def _split(message: str, split_on: str, simplify: Callable[[str], str] | None) -> list[str]:
    """split_asks of ``message``, cut where ``split_on`` has split points. The pieces are
    simplified with ``simplify``, or (``None``) are the pieces of ``split_on``, its simplified
    text."""
    first = _SPLIT.search(split_on)
    if first is None or not _NOT_EDGE.search(split_on, first.end()):
        return _whole(message, split_on, simplify)
    ends = [first.end(), *[match.end() for match in _SPLIT.finditer(split_on, first.end())]]
    bounds = list(zip([0, *ends], [*ends, len(message)]))
    pieces = [message[start:end] for start, end in bounds]
    if simplify:
        simplified_pieces = [simplify(piece) for piece in pieces]
    else:
        simplified_pieces = [split_on[start:end] for start, end in bounds]

    parts: list[str] = []
    pending = pending_simplified = ""  # a lone connective waiting for the ask it introduces
    for piece, simplified in zip(pieces, simplified_pieces):
        piece, simplified = pending + piece, pending_simplified + simplified
        pending = pending_simplified = ""
        if not _FIVE_WORDS.match(simplified):  # else an ask for sure
            core = _core(simplified)
            if _is_connective_only(simplified, core):
                pending, pending_simplified = piece, simplified
                continue
            if not core or core in _PLEASANTRY_CORES:
                continue
        parts.append(_clean(piece))
    if not parts and _core("".join(simplified_pieces)):
        parts.append(_clean(message))
    return parts


def scored_asks(message: str, closing: bool) -> list[str]:
    """The asks rule 2 scores one by one: :func:`split_asks`, and for a model that drops
    closing pleasantries (``closing``) without the parts that are nothing but one ("…改一下。
    先谢谢了哈！"): such a part asks for nothing. Training (ask rows) and prediction both use
    this, so they see the same asks."""
    return normalized_asks(message, closing)[0]


def normalized_asks(message: str, closing: bool) -> tuple[list[str], list[str] | None]:
    """:func:`scored_asks` and, when :func:`split_asks` finds two or more, the asks normalized
    (:func:`~boundary_nlp.text.normalize`; ``None`` otherwise): rule 2 scores them normalized,
    and the closing check has normalized them already."""
    parts = split_asks(message)
    if len(parts) < 2:
        return parts, None
    normalized = [normalize(part) for part in parts]
    if closing:
        kept = [index for index, text in enumerate(normalized) if not only_closing(text)]
        if len(kept) < len(parts):
            parts = [parts[index] for index in kept]
            normalized = [normalized[index] for index in kept]
    return parts, normalized
