"""A fitted model reduced to arrays: vocabularies, idf weights and coefficients.

Applying it needs numpy and the library's analyzers only, not scikit-learn or unpickling
the estimator, which is what makes a cold ``load_model()`` + ``predict`` fast. Its results
equal the scikit-learn pipeline's (the tests compare both over the whole dataset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .features import CharNgrams, Segmenter, WordNgrams
from .text import normalize


@dataclass
class Block:
    """One TF-IDF block: term -> column, idf per column, and where it starts in the union."""

    name: str
    vocabulary: dict[str, int]
    idf: np.ndarray
    offset: int

    def weights(self, grams: list[str], sublinear_tf: bool) -> tuple[np.ndarray, np.ndarray]:
        counts: dict[int, int] = {}
        vocabulary = self.vocabulary
        for gram in grams:
            column = vocabulary.get(gram)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return np.empty(0, dtype=np.intp), np.empty(0)
        columns = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=float, count=len(counts))
        if sublinear_tf:
            tf = np.log(tf) + 1.0
        values = tf * self.idf[columns]
        norm = np.sqrt(np.dot(values, values))
        if norm > 0:
            values = values / norm
        return columns + self.offset, values


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
        self.intercept = intercept
        self.word = WordNgrams(word_ngram_range)
        self.char = CharNgrams(char_ngram_range)
        self.sublinear_tf = sublinear_tf
        self.segmenter = segmenter
        self._feature_names: list[str] | None = None

    # -- features -------------------------------------------------------------------
    def features(self, normalized: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and TF-IDF values of one normalized text."""
        word_block, char_block = self.blocks
        wc, wv = word_block.weights(
            self.word.from_normalized(normalized, self.segmenter), self.sublinear_tf
        )
        cc, cv = char_block.weights(self.char.from_normalized(normalized), self.sublinear_tf)
        return np.concatenate((wc, cc)), np.concatenate((wv, cv))

    # -- scores ---------------------------------------------------------------------
    def decision(self, normalized: str) -> np.ndarray:
        columns, values = self.features(normalized)
        return values @ self.coef[columns] + self.intercept

    def proba_from_decision(self, decision: np.ndarray) -> np.ndarray:
        if decision.shape[-1] == 1:  # binary logistic regression
            positive = 1.0 / (1.0 + np.exp(-decision[..., 0]))
            return np.stack((1.0 - positive, positive), axis=-1)
        shifted = decision - decision.max(axis=-1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=-1, keepdims=True)

    def predict_proba_normalized(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, len(self.classes)))
        decisions = np.stack([self.decision(text) for text in texts])
        return self.proba_from_decision(decisions)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.predict_proba_normalized([normalize(text) for text in texts])

    # -- evidence -------------------------------------------------------------------
    def feature_name(self, column: int) -> tuple[str, str]:
        """(block name, term) of a column."""
        if self._feature_names is None:
            names = [""] * self.coef.shape[0]
            for block in self.blocks:
                for term, index in block.vocabulary.items():
                    names[block.offset + index] = term
            self._feature_names = names
        block = next(b for b in reversed(self.blocks) if column >= b.offset)
        return block.name, self._feature_names[column]

    def contributions(self, normalized: str, class_index: int) -> list[tuple[str, str, float]]:
        """How much each present term pushes toward ``class_index`` against the other classes.

        For multinomial models a term's push is its value times the class's coefficient
        minus the mean coefficient over classes (softmax is invariant to that shift).
        """
        columns, values = self.features(normalized)
        coef = self.coef[columns]
        if coef.shape[1] == 1:
            sign = 1.0 if class_index == 1 else -1.0
            push = values * coef[:, 0] * sign
        else:
            push = values * (coef[:, class_index] - coef.mean(axis=1))
        out = []
        for column, weight in zip(columns.tolist(), push.tolist()):
            kind, term = self.feature_name(column)
            out.append((kind, term, weight))
        return out

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


def compile_pipeline(features: Any, classifier: Any, sublinear_tf: bool, segmenter: Segmenter) -> CompiledModel:
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
