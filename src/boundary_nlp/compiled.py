"""A fitted model reduced to arrays: vocabularies, idf weights and coefficients.

Applying it needs numpy and the library's analyzers only, not scikit-learn or unpickling
the estimator, which is what makes a cold ``load_model()`` + ``predict`` fast. Its results
equal the scikit-learn pipeline's (the tests compare both over the whole dataset). One text
at a time goes through the optional C module when it is built (same numbers, bit for bit).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import speedups
from .features import CharNgrams, Segmenter, WordNgrams
from .text import normalize

VECTORIZED_MIN_TEXTS = 32
# large batches are scored this many texts at a time: the per-term arrays of a chunk, not of
# the whole batch, are in memory at once (rows never interact, so results are the same)
CHUNK_TEXTS = 2048
# counts up to this get their tf weight from a table (computed by numpy, so the C path
# multiplies the very same floats); a larger count sends the text to the numpy path
TF_TABLE_SIZE = 4096
_UNICODE_SIZE = 0x110000


@dataclass
class Block:
    """One TF-IDF block: term -> column, idf per column, and where it starts in the union."""

    name: str
    vocabulary: dict[str, int]
    idf: np.ndarray
    offset: int


class CompiledModel:
    """The arithmetic of a fitted BoundaryClassifier, with no scikit-learn objects inside."""

    def __init__(
        self,
        classes: np.ndarray,
        blocks: list[Block],
        coef: np.ndarray,
        intercept: np.ndarray,
        word_ngram_range: tuple[int, int],
        char_ngram_range: tuple[int, int],
        sublinear_tf: bool,
        segmenter: Segmenter,
    ) -> None:
        self.classes = classes
        self.blocks = blocks
        # (n_features, n_classes) so a text's rows can be gathered; binary models have one column
        self.coef = np.ascontiguousarray(coef.T)
        self.idf = np.concatenate([block.idf for block in blocks])
        self.intercept = np.ascontiguousarray(intercept, dtype=float)
        self.word = WordNgrams(word_ngram_range)
        self.char = CharNgrams(char_ngram_range)
        self.sublinear_tf = sublinear_tf
        self.segmenter = segmenter
        self._feature_names: list[str] | None = None
        self._offsets = [block.offset for block in blocks]
        self._index: TermIndex | bool | None = None
        self._index_lock = threading.Lock()
        self._tf_table: np.ndarray | None = None

    # -- scores ---------------------------------------------------------------------
    def proba_from_decision(self, decision: np.ndarray) -> np.ndarray:
        if decision.shape[-1] == 1:  # binary logistic regression
            positive = 1.0 / (1.0 + np.exp(-decision[..., 0]))
            return np.stack((1.0 - positive, positive), axis=-1)
        shifted = decision - decision.max(axis=-1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=-1, keepdims=True)

    def tfidf(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, TF-IDF value) of every vocabulary term in many normalized texts.

        Terms are counted per text (in numpy for batches of ``VECTORIZED_MIN_TEXTS`` or more);
        the weighting and the per-block L2 norms run over the whole batch, in scikit-learn's
        order of operations (tf -> 1 + log tf -> x idf -> / block norm). Entries are sorted
        by row, then column, so a text's values never depend on the batch it came in.
        """
        n = len(texts)
        index = self._term_index() if n >= VECTORIZED_MIN_TEXTS else None
        rows, cols, counts = index.count(texts, self.segmenter) if index else self._count_with_dicts(texts)
        tf = counts.astype(float)
        if self.sublinear_tf:
            tf = np.log(tf) + 1.0
        values = tf * self.idf[cols]
        segment = 2 * rows + (cols >= self.blocks[1].offset)
        norms = np.sqrt(np.bincount(segment, weights=values * values, minlength=2 * n))
        values = values / np.where(norms > 0, norms, 1.0)[segment]
        return rows, cols, values

    def _one_text(self, text: str) -> tuple[bytes, bytes, np.ndarray] | None:
        """(columns, TF-IDF values, decision values) of one normalized text, by the C module.

        Columns (int64) and values (float64) come as raw bytes, turned into arrays only when
        asked for (``explain``). The same numbers as ``tfidf`` + ``decisions_from_tfidf``, bit
        for bit (the tests check the whole corpus). ``None`` without the C module or for a
        count beyond the tf table; the caller then uses numpy.
        """
        module = speedups.SPEEDUPS
        if module is None:
            return None
        if self._tf_table is None:
            counts = np.arange(1, TF_TABLE_SIZE + 1, dtype=float)
            self._tf_table = np.log(counts) + 1.0 if self.sublinear_tf else counts
        word_block, char_block = self.blocks
        tokens = self.segmenter.cut(text)
        word_low, word_high = self.word.ngram_range
        char_low, char_high = self.char.ngram_range
        if not isinstance(tokens, list):
            tokens = list(tokens)
        word_columns = module.word_columns(tokens, word_block.vocabulary, word_low, word_high)
        char_columns = module.char_columns(text, char_block.vocabulary, char_low, char_high)
        blocks = ((word_columns, word_block.offset), (char_columns, char_block.offset))
        result = module.tfidf_decision(blocks, self._tf_table, self.idf, self.coef, self.intercept)
        if result is None:
            return None
        columns, values, decision = result
        return columns, values, np.frombuffer(decision, dtype=float)

    def decisions_normalized(self, texts: list[str]) -> np.ndarray:
        """Decision values (coefficients x TF-IDF + intercept) of many normalized texts."""
        return self.decisions_from_tfidf(*self.tfidf(texts), len(texts))

    def decisions_from_tfidf(
        self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int
    ) -> np.ndarray:
        weighted = self.coef[cols] * values[:, None]
        decision = np.empty((n, self.coef.shape[1]))
        for k in range(self.coef.shape[1]):
            decision[:, k] = np.bincount(rows, weights=weighted[:, k], minlength=n)
        return decision + self.intercept

    def _count_with_dicts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows: list[int] = []
        columns: list[int] = []
        counts: list[int] = []
        word_block, char_block = self.blocks
        for row, text in enumerate(texts):
            for block, grams in (
                (word_block, self.word.from_normalized(text, self.segmenter)),
                (char_block, self.char.from_normalized(text)),
            ):
                vocabulary, offset = block.vocabulary, block.offset
                for gram, count in Counter(grams).items():
                    column = vocabulary.get(gram)
                    if column is not None:
                        rows.append(row)
                        columns.append(column + offset)
                        counts.append(count)
        row_array = np.asarray(rows, dtype=np.intp)
        column_array = np.asarray(columns, dtype=np.intp)
        # sorted by row, then column, like TermIndex.count: sums then run in the same order,
        # so a text's probabilities do not depend on the batch it came in
        order = np.lexsort((column_array, row_array))
        return row_array[order], column_array[order], np.asarray(counts, dtype=np.intp)[order]

    def _term_index(self) -> TermIndex | None:
        if self._index is None:
            with self._index_lock:
                if self._index is None:
                    self._index = TermIndex.build(self) or False
        return self._index or None

    def predict_proba_normalized(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, len(self.classes)))
        if len(texts) < VECTORIZED_MIN_TEXTS and speedups.SPEEDUPS is not None:
            # C per text; if one text needs numpy (a count beyond the tf table), all do
            ones = [self._one_text(text) for text in texts]
            if all(one is not None for one in ones):
                if len(ones) == 1:  # the single-message hot path: no stacking
                    return self.proba_from_decision(ones[0][2][None, :])
                return self.proba_from_decision(np.vstack([one[2] for one in ones]))
        if len(texts) > CHUNK_TEXTS:
            return np.concatenate(
                [
                    self.proba_from_decision(self.decisions_normalized(texts[start : start + CHUNK_TEXTS]))
                    for start in range(0, len(texts), CHUNK_TEXTS)
                ]
            )
        return self.proba_from_decision(self.decisions_normalized(texts))

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.predict_proba_normalized([normalize(text) for text in texts])

    # -- evidence -------------------------------------------------------------------
    def _names(self) -> list[str]:
        """The term of every column (built on first use)."""
        if self._feature_names is None:
            names = [""] * self.coef.shape[0]
            for block in self.blocks:
                for term, index in block.vocabulary.items():
                    names[block.offset + index] = term
            self._feature_names = names
        return self._feature_names

    def explain(self, normalized: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Probabilities of one normalized text, with its term columns and TF-IDF values
        (computed once, for :meth:`contributions`)."""
        one = self._one_text(normalized)
        if one is not None:
            columns, values, decision = one
            return (
                self.proba_from_decision(decision[None, :])[0],
                np.frombuffer(columns, dtype=np.int64).astype(np.intp, copy=False),
                np.frombuffer(values, dtype=float),
            )
        rows, columns, values = self.tfidf([normalized])
        proba = self.proba_from_decision(self.decisions_from_tfidf(rows, columns, values, 1))[0]
        return proba, columns, values

    def contributions(
        self, columns: np.ndarray, values: np.ndarray, class_index: int
    ) -> list[tuple[str, str, float]]:
        """How much each present term pushes toward ``class_index`` against the other classes.

        For multinomial models a term's push is its value times the class's coefficient
        minus the mean coefficient over classes (softmax is invariant to that shift).
        """
        coef = self.coef[columns]
        if coef.shape[1] == 1:
            sign = 1.0 if class_index == 1 else -1.0
            push = values * coef[:, 0] * sign
        else:
            push = values * (coef[:, class_index] - coef.mean(axis=1))
        names = self._names()
        kinds = [block.name for block in self.blocks]
        block_of = np.searchsorted(self._offsets, columns, side="right") - 1
        return [
            (kinds[block], names[column], weight)
            for block, column, weight in zip(block_of.tolist(), columns.tolist(), push.tolist())
        ]

    # -- (de)serialization as plain data ------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": [str(c) for c in self.classes],
            "blocks": [
                {"name": b.name, "terms": _join_terms(b.vocabulary), "idf": b.idf, "offset": b.offset}
                for b in self.blocks
            ],
            "coef": np.ascontiguousarray(self.coef.T),
            "intercept": self.intercept,
            "word_ngram_range": list(self.word.ngram_range),
            "char_ngram_range": list(self.char.ngram_range),
            "sublinear_tf": self.sublinear_tf,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], segmenter: Segmenter) -> CompiledModel:
        blocks = [
            Block(
                name=b["name"],
                vocabulary={term: i for i, term in enumerate(b["terms"].split("\n"))},
                idf=np.asarray(b["idf"], dtype=float),
                offset=int(b["offset"]),
            )
            for b in data["blocks"]
        ]
        return cls(
            classes=np.asarray(data["classes"], dtype=object),
            blocks=blocks,
            coef=np.asarray(data["coef"], dtype=float),
            intercept=np.asarray(data["intercept"], dtype=float),
            word_ngram_range=tuple(data["word_ngram_range"]),
            char_ngram_range=tuple(data["char_ngram_range"]),
            sublinear_tf=bool(data["sublinear_tf"]),
            segmenter=segmenter,
        )


def _join_terms(vocabulary: dict[str, int]) -> str:
    """Terms in column order as one newline-joined string: one object to unpickle, not 100,000.

    Terms never hold a newline (normalization turns whitespace runs into one space).
    """
    terms = [""] * len(vocabulary)
    for term, index in vocabulary.items():
        if "\n" in term:
            raise ValueError(f"term {term!r} contains a newline; texts must be normalized first")
        terms[index] = term
    return "\n".join(terms)


def compile_pipeline(
    features: Any, classifier: Any, sublinear_tf: bool, segmenter: Segmenter
) -> CompiledModel:
    """Reduce a fitted FeatureUnion(word, char) + LogisticRegression to a CompiledModel."""
    blocks = []
    offset = 0
    word_ngram_range = char_ngram_range = None
    for name, vectorizer in features.transformer_list:
        vocabulary = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
        blocks.append(Block(name, vocabulary, np.asarray(vectorizer.idf_, dtype=float), offset))
        offset += len(vocabulary)
        if name == "word":
            word_ngram_range = tuple(vectorizer.analyzer.ngram_range)
        else:
            char_ngram_range = tuple(vectorizer.analyzer.ngram_range)
    return CompiledModel(
        classes=np.asarray(classifier.classes_, dtype=object),
        blocks=blocks,
        coef=np.asarray(classifier.coef_, dtype=float),
        intercept=np.asarray(classifier.intercept_, dtype=float),
        word_ngram_range=word_ngram_range,
        char_ngram_range=char_ngram_range,
        sublinear_tf=sublinear_tf,
        segmenter=segmenter,
    )


def _sorted_lookup(keys, columns) -> tuple[np.ndarray, np.ndarray]:
    key_array = np.asarray(keys, dtype=np.uint64)
    order = np.argsort(key_array, kind="stable")
    return key_array[order], np.asarray(columns, dtype=np.intp)[order]


def _find(keys: np.ndarray, columns: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``wanted`` whose key is a vocabulary key, and their columns."""
    if len(keys) == 0 or len(wanted) == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    position = np.searchsorted(keys, wanted)
    position[position == len(keys)] = 0
    hit = keys[position] == wanted
    return np.flatnonzero(hit), columns[position[hit]]


class TermIndex:
    """Vocabularies as sorted integer keys, so a whole batch is looked up by numpy.

    A character n-gram's key packs the ids of its characters; a word's key is its token id,
    a word bigram's key packs two token ids. Covers word 1-2 grams and character n-grams
    whose packed ids fit in 64 bits; other settings use the per-text dictionaries.
    """

    def __init__(self, model: CompiledModel) -> None:
        word_block, char_block = model.blocks
        self.word_offset = word_block.offset
        self.char_offset = char_block.offset
        self.char_low, self.char_high = model.char.ngram_range
        self.width = char_block.offset + len(char_block.vocabulary)  # columns in all
        self.token_ids: dict[str, int] = {}  # 0 stands for a token in no vocabulary term
        unigram_columns: dict[int, int] = {}
        bigram_pairs: list[tuple[int, int]] = []
        bigram_columns: list[int] = []
        for term, column in word_block.vocabulary.items():
            parts = term.split(" ")
            if len(parts) == 1:
                unigram_columns[self._token_id(term)] = column
            else:
                first, second = parts
                bigram_pairs.append((self._token_id(first), self._token_id(second)))
                bigram_columns.append(column)
        self.token_count = len(self.token_ids) + 1
        self.unigram_column = np.full(self.token_count, -1, dtype=np.intp)
        for token, column in unigram_columns.items():
            self.unigram_column[token] = column
        self.bigram_keys, self.bigram_columns = _sorted_lookup(
            [a * self.token_count + b for a, b in bigram_pairs], bigram_columns
        )
        # characters of the vocabulary get dense ids 1..K; a gram with any other character
        # (id 0) is in no vocabulary term, so ids of ceil(log2(K+1)) bits pack a whole gram
        terms = list(char_block.vocabulary)
        term_columns = np.fromiter(char_block.vocabulary.values(), dtype=np.intp, count=len(terms))
        width = max((len(term) for term in terms), default=1)
        # every term padded with NUL to the same width: one 2-D array of code points
        padded = "".join(term.ljust(width, "\x00") for term in terms)
        codes = np.frombuffer(padded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        codes = codes.reshape(len(terms), width)
        chars = np.unique(codes[codes != 0])
        self.char_bits = max(1, len(chars).bit_length())
        self.char_ids = np.zeros(_UNICODE_SIZE, dtype=np.uint64)
        self.char_ids[chars] = np.arange(1, len(chars) + 1, dtype=np.uint64)
        ids = self.char_ids[codes]
        lengths = (codes != 0).sum(axis=1)
        keys = np.zeros(len(terms), dtype=np.uint64)
        for position in range(width):
            inside = position < lengths
            keys[inside] = (keys[inside] << np.uint64(self.char_bits)) | ids[inside, position]
        by_length = {
            int(length): (keys[lengths == length], term_columns[lengths == length])
            for length in np.unique(lengths)
        }
        self.char_lookup = {length: _sorted_lookup(*pair) for length, pair in by_length.items()}

    def _token_id(self, token: str) -> int:
        return self.token_ids.setdefault(token, len(self.token_ids) + 1)

    @classmethod
    def build(cls, model: CompiledModel) -> TermIndex | None:
        if tuple(model.word.ngram_range) != (1, 2):
            return None
        index = cls(model)
        return index if index.char_high * index.char_bits <= 64 else None

    def count(self, texts: list[str], segmenter) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, count) of every vocabulary term in the texts, sorted by row and column."""
        word_rows, word_cols = self._word_terms(texts, segmenter)
        char_rows, char_cols = self._char_terms(texts)
        rows = np.concatenate((word_rows, char_rows))
        cols = np.concatenate((word_cols + self.word_offset, char_cols + self.char_offset))
        width = self.width
        unique, counts = np.unique(rows.astype(np.int64) * width + cols, return_counts=True)
        return (unique // width).astype(np.intp), (unique % width).astype(np.intp), counts

    def _word_terms(self, texts: list[str], segmenter) -> tuple[np.ndarray, np.ndarray]:
        get = self.token_ids.get
        ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            tokens = segmenter.cut(text)
            ids.extend([get(token, 0) for token in tokens])
            lengths.append(len(tokens))
        token = np.asarray(ids, dtype=np.int64)
        row = np.repeat(np.arange(len(texts), dtype=np.intp), lengths)
        columns = self.unigram_column[token]
        keep = columns >= 0
        rows_out = [row[keep]]
        cols_out = [columns[keep]]
        if len(token) > 1:
            same = row[:-1] == row[1:]
            pair = token[:-1] * self.token_count + token[1:]
            known = same & (token[:-1] > 0) & (token[1:] > 0)
            where = np.flatnonzero(known)
            hits, columns = _find(self.bigram_keys, self.bigram_columns, pair[where].astype(np.uint64))
            rows_out.append(row[where[hits]])
            cols_out.append(columns)
        return np.concatenate(rows_out), np.concatenate(cols_out)

    def _char_terms(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        # one array of character ids for the batch, NUL (id 0) between texts
        joined = "\x00".join(texts) + "\x00"
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        ids = self.char_ids[codes]
        boundary = codes == 0
        row = np.cumsum(boundary) - boundary
        rows_out = []
        cols_out = []
        total = len(ids)
        shift = np.uint64(self.char_bits)
        for length in range(self.char_low, self.char_high + 1):
            if length not in self.char_lookup or total < length:
                continue
            count = total - length + 1
            key = ids[:count].copy()
            valid = key != 0
            for offset in range(1, length):
                part = ids[offset : offset + count]
                key = (key << shift) | part
                valid &= part != 0
            where = np.flatnonzero(valid)
            hits, columns = _find(*self.char_lookup[length], key[where])
            rows_out.append(row[where[hits]])
            cols_out.append(columns)
        if not rows_out:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        return np.concatenate(rows_out).astype(np.intp), np.concatenate(cols_out)
