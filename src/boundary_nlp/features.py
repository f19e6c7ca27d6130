"""Feature extraction: word n-grams over jieba tokens and character n-grams.

The analyzers are plain picklable classes (no scikit-learn import here), so the same code
builds the TF-IDF vocabulary at training time and the features of the fast predictor.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from .text import JiebaSegmenter, normalize


class Segmenter(Protocol):
    def cut(self, text: str) -> list[str]: ...


def _ngrams(items: list[str], low: int, high: int, joiner: str) -> list[str]:
    grams: list[str] = list(items) if low <= 1 <= high else []
    for n in range(max(low, 2), high + 1):
        grams.extend(joiner.join(items[start : start + n]) for start in range(len(items) - n + 1))
    return grams


class WordNgrams:
    """Word n-grams (tokens joined by a space) of a text after :func:`normalize`.

    Single-character words are kept: in Chinese they carry meaning (改, 删, 签, 帮).
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), segmenter: Segmenter | None = None):
        self.ngram_range = ngram_range
        self.segmenter = segmenter

    def _segmenter(self) -> Segmenter:
        return self.segmenter if self.segmenter is not None else JiebaSegmenter()

    plain = True  # no options beyond the n-gram range: the C module and TermIndex apply

    def from_normalized(self, text: str, segmenter: Segmenter | None = None) -> list[str]:
        return self.grams_from_tokens((segmenter or self._segmenter()).cut(text))

    def grams_from_tokens(self, tokens: list[str]) -> list[str]:
        return _ngrams(tokens, self.ngram_range[0], self.ngram_range[1], " ")

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "word", "ngram_range": list(self.ngram_range)}

    def __call__(self, text: str) -> list[str]:
        return self.from_normalized(normalize(text))

    def __repr__(self) -> str:
        return f"WordNgrams(ngram_range={self.ngram_range!r}, segmenter={self.segmenter!r})"


class CharNgrams:
    """Character n-grams of a text after :func:`normalize`; n-grams of only spaces are skipped."""

    plain = True

    def __init__(self, ngram_range: tuple[int, int] = (1, 3)):
        self.ngram_range = ngram_range

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "char", "ngram_range": list(self.ngram_range)}

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
        return self.from_normalized(normalize(text))

    def __repr__(self) -> str:
        return f"CharNgrams(ngram_range={self.ngram_range!r})"


def analyzer_from_spec(spec: dict[str, Any]) -> WordNgrams | CharNgrams:
    """The analyzer a saved feature block describes (``{"kind": "word"|"char", "ngram_range"}``)."""
    kind = spec.get("kind")
    low, high = (int(n) for n in spec["ngram_range"])
    if not 1 <= low <= high:
        raise ValueError(f"bad ngram_range {spec['ngram_range']!r}")
    if kind == "word":
        return WordNgrams((low, high))
    if kind == "char":
        return CharNgrams((low, high))
    raise ValueError(f"unknown analyzer kind {kind!r}")


def build_feature_union(
    word_ngram_range: tuple[int, int],
    char_ngram_range: tuple[int, int],
    min_df: int,
    sublinear_tf: bool,
    segmenter: Segmenter | None = None,
) -> Any:
    """Word and character TF-IDF blocks, each L2-normalized, side by side."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    def vectorizer(analyzer: Any) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=analyzer, min_df=min_df, sublinear_tf=sublinear_tf, dtype=np.float64)

    return FeatureUnion(
        [
            ("word", vectorizer(WordNgrams(word_ngram_range, segmenter))),
            ("char", vectorizer(CharNgrams(char_ngram_range))),
        ]
    )
