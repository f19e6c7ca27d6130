"""A frozen copy of the per-text preprocessing as it was before it was made fast (test oracle).

Copied verbatim from ``boundary_nlp.text`` (``to_simplified``, ``normalize``, ``content_text``,
``uncertain_reason``) and ``boundary_nlp.asks`` (``split_asks`` and its helpers) at commit
19bb815, only laid out again by ``ruff format``. Do not edit or "improve" this module:
``tests/test_text_speed_parity.py`` checks that the library still returns exactly what this
code returns (one deliberate bug fix since, marked in `_is_empty_ask`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources

_WHITESPACE = re.compile(r"\s+")
# Zero-width and bidi formatting characters survive NFKC; they carry no meaning here.
_INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff\u00ad]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    table: dict[int, str] = {}
    text = resources.files("boundary_nlp").joinpath("resources/t2s.tsv").read_text("utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            traditional, simplified = line.split("\t")
            table[ord(traditional)] = simplified
    return table


def to_simplified(text: str) -> str:
    """Map traditional Chinese characters to simplified ones, character by character."""
    return text.translate(_t2s_table())


def normalize(text: str) -> str:
    """Canonical form used before segmentation and character n-grams.

    NFKC (full-width Latin and digits to half-width), traditional to simplified, Latin
    lower case, invisible and control characters dropped, lone surrogates replaced by
    U+FFFD, whitespace runs collapsed to one space.
    """
    text = _SURROGATE.sub("\ufffd", text)
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = to_simplified(text).lower()
    return _WHITESPACE.sub(" ", text).strip()


_NOT_CONTENT = re.compile(r"[^\w\s]|_")
_DIGIT_RUN = re.compile(r"\d+")
DIGIT_TOKEN = "0"


def content_text(normalized: str) -> str:
    """What features are read from: punctuation, symbols and emoji become spaces, and every
    run of digits becomes one ``"0"`` (a number is a number: "3点" and "15点" read alike).

    Style that says nothing about the ask ("，谢谢！", "！！", "😂", "2024-05-06") then cannot
    become evidence for a label.
    """
    text = _DIGIT_RUN.sub(DIGIT_TOKEN, _NOT_CONTENT.sub(" ", normalized))
    return _WHITESPACE.sub(" ", text).strip()


_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_LETTER_OR_HAN = re.compile(r"[^\W\d_]")
# characters that carry no ask on their own: interjections and sentence particles
_FILLER = frozenset("嗯啊哦噢喔呃额唔哈呀嘛呢吧哎唉嘿嗨咦哇噫嗷哼呵嘻")


def uncertain_reason(normalized: str) -> str | None:
    """Why a normalized text cannot be judged whatever the model says, or ``None``.

    ``"empty"`` (nothing but whitespace), ``"no_content"`` (only punctuation, symbols, emoji,
    digits or interjections such as 嗯/哈), ``"not_chinese"`` (letters but no Chinese
    character: another language).
    """
    if not normalized:
        return "empty"
    letters = [char for char in _LETTER_OR_HAN.findall(normalized) if char not in _FILLER]
    if not letters:
        return "no_content"
    if not any(_HAN.match(char) for char in letters):
        return "not_chinese"
    return None


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
        "谢谢",
        "多谢",
        "感谢",
        "谢了",
        "谢啦",
        "谢谢你",
        "谢谢您",
        "辛苦",
        "辛苦了",
        "辛苦你了",
        "辛苦您了",
        "麻烦了",
        "麻烦你了",
        "麻烦您了",
        "拜托",
        "拜托了",
        "好",
        "好的",
        "收到",
        "你好",
        "您好",
        "在吗",
        "在不在",
        "ok",
        "okay",
        "thanks",
        "thx",
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
    # the one deliberate change since the freeze (a bug fix made in both places): compare
    # with the pleasantries' cores, so 麻烦了 / 在吗 (core 麻烦 / 在) count as pleasantries
    return not core or core in {_core(word) for word in _PLEASANTRIES}


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
