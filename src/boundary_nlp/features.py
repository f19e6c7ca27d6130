"""Feature extraction: word n-grams over jieba tokens and character n-grams.

The analyzers are plain picklable classes (no scikit-learn import here), so the same code
builds the TF-IDF vocabulary at training time and the features of the fast predictor.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from .text import JiebaSegmenter, normalize, read_text


def feature_text(text: str, content: bool, vocative: bool = False, closing: bool = False) -> str:
    """The text an analyzer reads: normalized, with ``vocative`` without its opening greeting
    or form of address (see :mod:`boundary_nlp.vocative`), with ``closing`` without its
    closing pleasantries (see :mod:`boundary_nlp.closing`), and with ``content`` only its
    content (see :func:`boundary_nlp.text.content_text`)."""
    return read_text(normalize(text), content, vocative, closing)


class Segmenter(Protocol):
    def cut(self, text: str) -> list[str]: ...


def _ngrams(items: list[str], low: int, high: int, joiner: str) -> list[str]:
    grams: list[str] = list(items) if low <= 1 <= high else []
    for n in range(max(low, 2), high + 1):
        grams.extend(joiner.join(items[start : start + n]) for start in range(len(items) - n + 1))
    return grams


class WordNgrams:
    """Word n-grams (tokens joined by a space) of a text after :func:`normalize` (and, with
    ``content``, :func:`~boundary_nlp.text.content_text`).

    Single-character words are kept: in Chinese they carry meaning (改, 删, 签, 帮). With
    ``vocative`` the opening greeting or form of address is not read (see
    :mod:`boundary_nlp.vocative`); with ``closing`` the closing pleasantries are not read (see
    :mod:`boundary_nlp.closing`).
    """

    vocative = False  # analyzers pickled before the option existed read greetings
    closing = False  # ... and closing pleasantries

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 2),
        segmenter: Segmenter | None = None,
        content: bool = False,
        vocative: bool = False,
        closing: bool = False,
    ):
        self.ngram_range = ngram_range
        self.segmenter = segmenter
        self.content = content
        self.vocative = vocative
        self.closing = closing

    def _segmenter(self) -> Segmenter:
        return self.segmenter if self.segmenter is not None else JiebaSegmenter()

    def from_normalized(self, text: str, segmenter: Segmenter | None = None) -> list[str]:
        return self.grams_from_tokens((segmenter or self._segmenter()).cut(text))

    def grams_from_tokens(self, tokens: list[str]) -> list[str]:
        return _ngrams(tokens, self.ngram_range[0], self.ngram_range[1], " ")

    def to_spec(self) -> dict[str, Any]:
        return _spec("word", self)

    def __call__(self, text: str) -> list[str]:
        return self.from_normalized(feature_text(text, self.content, self.vocative, self.closing))

    def __repr__(self) -> str:
        return (
            f"WordNgrams(ngram_range={self.ngram_range!r}, segmenter={self.segmenter!r}, "
            f"content={self.content!r}, vocative={self.vocative!r}, closing={self.closing!r})"
        )


class CharNgrams:
    """Character n-grams of a text after :func:`normalize`; n-grams of only spaces are skipped.
    ``content``, ``vocative`` and ``closing`` as for :class:`WordNgrams`."""

    vocative = False  # analyzers pickled before the option existed read greetings
    closing = False  # ... and closing pleasantries

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 3),
        content: bool = False,
        vocative: bool = False,
        closing: bool = False,
    ):
        self.ngram_range = ngram_range
        self.content = content
        self.vocative = vocative
        self.closing = closing

    def to_spec(self) -> dict[str, Any]:
        return _spec("char", self)

    def from_normalized(self, text: str) -> list[str]:
        low, high = self.ngram_range
        grams: list[str] = []
        length = len(text)
        for n in range(low, high + 1):
            grams.extend([text[start : start + n] for start in range(length - n + 1)])
        # normalized text has single spaces only, so " " is the only all-space gram possible
        if low == 1 and " " in text:
            grams = [gram for gram in grams if gram != " "]
        return grams

    def __call__(self, text: str) -> list[str]:
        return self.from_normalized(feature_text(text, self.content, self.vocative, self.closing))

    def __repr__(self) -> str:
        return (
            f"CharNgrams(ngram_range={self.ngram_range!r}, content={self.content!r}, "
            f"vocative={self.vocative!r}, closing={self.closing!r})"
        )


def _spec(kind: str, analyzer: WordNgrams | CharNgrams) -> dict[str, Any]:
    spec = {"kind": kind, "ngram_range": list(analyzer.ngram_range), "content": analyzer.content}
    # written only when on, so a model that keeps greetings saves the same file as before
    if getattr(analyzer, "vocative", False):
        spec["vocative"] = True
    if getattr(analyzer, "closing", False):
        spec["closing"] = True
    return spec


def analyzer_from_spec(spec: dict[str, Any]) -> WordNgrams | CharNgrams:
    """The analyzer a saved feature block describes (``{"kind": "word"|"char", "ngram_range"}``,
    optionally ``"content"``, ``"vocative"`` and ``"closing"``, all false when absent)."""
    kind = spec.get("kind")
    low, high = (int(n) for n in spec["ngram_range"])
    if not 1 <= low <= high:
        raise ValueError(f"bad ngram_range {spec['ngram_range']!r}")
    content = bool(spec.get("content", False))
    vocative = bool(spec.get("vocative", False))
    closing = bool(spec.get("closing", False))
    if kind == "word":
        return WordNgrams((low, high), content=content, vocative=vocative, closing=closing)
    if kind == "char":
        return CharNgrams((low, high), content=content, vocative=vocative, closing=closing)
    raise ValueError(f"unknown analyzer kind {kind!r}")


def build_feature_union(
    word_ngram_range: tuple[int, int] | None,
    char_ngram_range: tuple[int, int],
    min_df: int,
    sublinear_tf: bool,
    segmenter: Segmenter | None = None,
    content: bool = False,
    vocative: bool = False,
    closing: bool = False,
) -> Any:
    """Word (unless ``word_ngram_range`` is None) and character TF-IDF blocks, each
    L2-normalized, side by side."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    def vectorizer(analyzer: Any) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=analyzer, min_df=min_df, sublinear_tf=sublinear_tf, dtype=np.float64)

    blocks = []
    if word_ngram_range is not None:
        words = WordNgrams(word_ngram_range, segmenter, content=content, vocative=vocative, closing=closing)
        blocks.append(("word", vectorizer(words)))
    chars = CharNgrams(char_ngram_range, content=content, vocative=vocative, closing=closing)
    blocks.append(("char", vectorizer(chars)))
    return FeatureUnion(blocks)
