"""Text normalization and the reference word segmenter (jieba plus the domain dictionary)."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .closing import drop_closing
from .vocative import drop_vocative

# Zero-width and bidi formatting characters survive NFKC; they carry no meaning here.
_INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff\u00ad]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# any of the three above: most texts have none, and normalize then skips their substitutions
# (NFKC maps no character to one of them, see tests/test_text_speed_parity.py)
_UNUSUAL = re.compile(f"{_INVISIBLE.pattern}|{_CONTROL.pattern}|{_SURROGATE.pattern}")

DEFAULT_USERDICT = "default"


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    table: dict[int, str] = {}
    text = resources.files("boundary_nlp").joinpath("resources/t2s.tsv").read_text("utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            traditional, simplified = line.split("\t")
            table[ord(traditional)] = simplified
    return table


# Blocks most text is made of: str.translate pays for a character missing from its table (a
# LookupError raised and caught), so the tables below map these characters too, to themselves.
_COMMON_BLOCKS = (range(0x80), range(0x3000, 0x3040), range(0x4E00, 0xA000), range(0xFF00, 0xFFF0))


def _identity_table() -> dict[int, int | str]:
    table: dict[int, int | str] = {}
    for block in _COMMON_BLOCKS:
        table.update(zip(block, block))
    return table


@lru_cache(maxsize=1)
def _to_simplified_table() -> dict[int, int | str]:
    table = _identity_table()
    table.update(_t2s_table())
    return table


@lru_cache(maxsize=1)
def _maybe_traditional() -> re.Pattern[str]:
    """A character ``to_simplified`` may map: one of the table's below U+10000, or any above
    (emoji mostly; a set with those would be searched entry by entry). Most texts have none
    and are returned as they are: ``str.translate`` looks every character up in a dict."""
    basic = "".join(re.escape(chr(code)) for code in sorted(_t2s_table()) if code <= 0xFFFF)
    return re.compile(f"[{basic}\U00010000-\U0010ffff]")


def to_simplified(text: str) -> str:
    """Map traditional Chinese characters to simplified ones, character by character."""
    if not _maybe_traditional().search(text):
        return text
    return text.translate(_to_simplified_table())


@lru_cache(maxsize=1)
def _wide_to_narrow_table() -> dict[int, str]:
    """What the full-width forms (！..～) and the ideographic space decompose to (!..~, a space)."""
    table = {code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
    table[0x3000] = " "
    return table


@lru_cache(maxsize=1)
def _wide_pattern() -> re.Pattern[str]:
    """Any character of ``_wide_to_narrow_table``."""
    return re.compile(f"[{''.join(re.escape(chr(code)) for code in sorted(_wide_to_narrow_table()))}]")


def _to_narrow(text: str) -> str:
    """``text`` with ``_wide_to_narrow_table`` applied. A text has few distinct full-width
    characters: replacing each in one pass takes less time than ``str.translate``, which looks
    every character up."""
    table = _wide_to_narrow_table()
    for wide in set(_wide_pattern().findall(text)):
        text = text.replace(wide, table[ord(wide)])
    return text


def _nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, in less time for most text.

    ``normalize`` does the whole work even for text already in NFKC; ``is_normalized`` is a
    quick check. Chinese text is mostly not in NFKC only because of its full-width
    punctuation (，？：！) and ideographic spaces: mapped first to what NFKC decomposes them
    to (ASCII, a space), the text often is. The full-width comma is tried alone first: most
    often it is the only one. Mapping characters to their decomposition first never changes
    the NFKC of a text.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    text = text.replace("，", ",")
    if unicodedata.is_normalized("NFKC", text):
        return text
    text = _to_narrow(text)
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def normalize(text: str) -> str:
    """Canonical form used before segmentation and character n-grams.

    NFKC (full-width Latin and digits to half-width), traditional to simplified, Latin
    lower case, invisible and control characters dropped, lone surrogates replaced by
    U+FFFD, whitespace runs collapsed to one space.
    """
    if _UNUSUAL.search(text):
        text = _SURROGATE.sub("\ufffd", text)
        text = _nfkc(text)
        text = _INVISIBLE.sub("", text)
        text = _CONTROL.sub(" ", text)
    else:
        text = _nfkc(text)
    # whitespace runs to one space, ends stripped: str.split() and re's \s agree on whitespace
    return " ".join(to_simplified(text).lower().split())


_NOT_CONTENT = re.compile(r"[^\w\s]|_")
_DIGIT_RUN = re.compile(r"\d+")
DIGIT_TOKEN = "0"


def content_text(normalized: str) -> str:
    """What features are read from: punctuation, symbols and emoji become spaces, and every
    run of digits becomes one ``"0"`` (a number is a number: "3点" and "15点" read alike).

    Style that says nothing about the ask ("，谢谢！", "！！", "😂", "2024-05-06") then cannot
    become evidence for a label.
    """
    return " ".join(_DIGIT_RUN.sub(DIGIT_TOKEN, _NOT_CONTENT.sub(" ", normalized)).split())


def read_text(normalized: str, content: bool, vocative: bool = False, closing: bool = False) -> str:
    """What a model's features are read from, given the normalized text: with ``vocative``
    the opening greeting or form of address is dropped (:func:`boundary_nlp.vocative.drop_vocative`,
    "王工,帮我…" reads as "帮我…"), with ``closing`` the closing pleasantries
    (:func:`boundary_nlp.closing.drop_closing`, "帮我…,谢谢!" reads as "帮我…"), then with
    ``content`` only the content is kept (:func:`content_text`)."""
    if vocative:
        normalized = drop_vocative(normalized)
    if closing:
        normalized = drop_closing(normalized)
    return content_text(normalized) if content else normalized


_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_LETTER_OR_HAN = re.compile(r"[^\W\d_]")
# characters that carry no ask on their own: interjections and sentence particles
_FILLER = frozenset("嗯啊哦噢喔呃额唔哈呀嘛呢吧哎唉嘿嗨咦哇噫嗷哼呵嘻")
# one Chinese letter that is no filler: most texts have one, and are judged without the list
_CHINESE_CONTENT = re.compile(f"{_HAN.pattern}(?<![{''.join(sorted(_FILLER))}])(?<={_LETTER_OR_HAN.pattern})")


def uncertain_reason(normalized: str) -> str | None:
    """Why a normalized text cannot be judged whatever the model says, or ``None``.

    ``"empty"`` (nothing but whitespace), ``"no_content"`` (only punctuation, symbols, emoji,
    digits or interjections such as 嗯/哈), ``"not_chinese"`` (letters but no Chinese
    character: another language).
    """
    if not normalized:
        return "empty"
    if _CHINESE_CONTENT.search(normalized):
        return None
    letters = [char for char in _LETTER_OR_HAN.findall(normalized) if char not in _FILLER]
    if not letters:
        return "no_content"
    if not any(_HAN.match(char) for char in letters):
        return "not_chinese"
    return None


Words = tuple[tuple[str, "int | None"], ...]


def read_userdict(path: str | Path | Words | None = None) -> list[tuple[str, int | None]]:
    """Words of a jieba user dictionary: ``word [freq]`` per line, ``#`` starts a comment.

    ``path`` may also be the words themselves (a tuple of ``(word, freq or None)``), as a
    model carries them.
    """
    if isinstance(path, tuple):
        return [(str(word), None if freq is None else int(freq)) for word, freq in path]
    if path is None or path == DEFAULT_USERDICT:
        content = resources.files("boundary_nlp").joinpath("resources/userdict.txt").read_text("utf-8")
        source = "boundary_nlp/resources/userdict.txt"
    else:
        content = Path(path).read_text(encoding="utf-8")
        source = str(path)
    words: list[tuple[str, int | None]] = []
    for number, raw in enumerate(content.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
            raise ValueError(f"{source}, line {number}: expected 'word [frequency]', got {raw!r}")
        words.append((parts[0], int(parts[1]) if len(parts) == 2 else None))
    return words


_TOKENIZERS: dict[str, object] = {}
_TOKENIZERS_LOCK = threading.Lock()


def jieba_tokenizer(userdict: str | Words = DEFAULT_USERDICT):
    """A jieba ``Tokenizer`` with the user dictionary loaded, shared per dictionary.

    Initialization is done once under a lock, so concurrent first use from several threads
    is safe.
    """
    with _TOKENIZERS_LOCK:
        tokenizer = _TOKENIZERS.get(userdict)
        if tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            for word, freq in read_userdict(userdict):
                tokenizer.add_word(word, freq)
            _TOKENIZERS[userdict] = tokenizer
        return tokenizer


class JiebaSegmenter:
    """Word segmentation with jieba (precise mode) and a user dictionary; the reference.

    Parameters are stored as given so the object pickles; the jieba tokenizer is looked up
    on first use and never pickled.

    Parameters
    ----------
    userdict : ``"default"`` for the shipped domain dictionary, a path to a file of
        ``word [frequency]`` lines, or the words themselves as a tuple of ``(word, freq)``
        (how a saved model carries a custom dictionary).
    hmm : let jieba guess unknown words with its HMM. Off by default: the character n-grams
        already cover unknown words, and precise mode without HMM is what the fast
        segmenter reproduces exactly.
    """

    def __init__(self, userdict: str | Words = DEFAULT_USERDICT, hmm: bool = False) -> None:
        self.userdict = userdict
        self.hmm = hmm

    def cut(self, text: str) -> list[str]:
        tokenizer = jieba_tokenizer(self.userdict)
        return [token for token in tokenizer.cut(text, HMM=self.hmm) if not token.isspace()]

    def __repr__(self) -> str:
        shown = f"<{len(self.userdict)} words>" if isinstance(self.userdict, tuple) else repr(self.userdict)
        return f"JiebaSegmenter(userdict={shown}, hmm={self.hmm!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JiebaSegmenter) and (self.userdict, self.hmm) == (other.userdict, other.hmm)

    def __hash__(self) -> int:
        return hash((self.userdict, self.hmm))
