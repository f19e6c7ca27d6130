"""The asks of a message: where one request ends and the next begins.

A client often packs several requests into one message ("会议纪要发群里，另外帮我把考勤记录改一下").
The guide labels such a message by its most serious ask (rule 2), so the predictor and
:func:`boundary_nlp.analyze` look at each ask on its own; this module finds them.
"""

from __future__ import annotations

import re
import unicodedata

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
