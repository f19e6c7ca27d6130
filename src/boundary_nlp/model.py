"""``BoundaryClassifier``: the scikit-learn estimator (jieba words + characters, TF-IDF, LR)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .compiled import CompiledModel, compile_pipeline
from .features import build_feature_union
from .inputs import DEFAULT_MAX_CHARS
from .prediction import PredictorMixin
from .text import DEFAULT_USERDICT, JiebaSegmenter


class BoundaryClassifier(PredictorMixin, ClassifierMixin, BaseEstimator):
    """Classify client requests (or any short Chinese texts) with a linear TF-IDF model.

    Features are TF-IDF over jieba word 1-2 grams and over character n-grams, each block
    L2-normalized; the classifier is a logistic regression with balanced class weights.
    Works with any set of labels, not only the three of the guide.

    Parameters
    ----------
    C : inverse regularization strength of the logistic regression.
    word_ngram_range, char_ngram_range : n-gram sizes of the two feature blocks.
    min_df : a term must occur in at least this many training texts.
    sublinear_tf : use ``1 + log(tf)``.
    class_weight : passed to ``LogisticRegression``.
    userdict : ``"default"`` (the shipped domain dictionary) or a path to a jieba user dictionary.
    max_chars : longer texts are cut to this many characters before analysis.
    uncertainty_threshold : ``classify`` marks predictions below this confidence uncertain.
    max_iter, random_state : passed to ``LogisticRegression``.
    """

    def __init__(
        self,
        C: float = 10.0,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (1, 3),
        min_df: int = 1,
        sublinear_tf: bool = True,
        class_weight: str | dict | None = "balanced",
        userdict: str = DEFAULT_USERDICT,
        max_chars: int | None = DEFAULT_MAX_CHARS,
        uncertainty_threshold: float | None = None,
        max_iter: int = 5000,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.class_weight = class_weight
        self.userdict = userdict
        self.max_chars = max_chars
        self.uncertainty_threshold = uncertainty_threshold
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: Iterable[str], y: Iterable[str]) -> BoundaryClassifier:
        texts = self._clip(X)
        labels = np.asarray([str(label) for label in y], dtype=object)
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        if len(set(labels.tolist())) < 2:
            raise ValueError("fit() needs at least two different labels")
        segmenter = JiebaSegmenter(self.userdict)
        features = build_feature_union(
            tuple(self.word_ngram_range),
            tuple(self.char_ngram_range),
            self.min_df,
            self.sublinear_tf,
            segmenter,
        )
        classifier = LogisticRegression(
            C=self.C,
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )
        self.pipeline_ = Pipeline([("features", features), ("classifier", classifier)])
        self.pipeline_.fit(texts, labels)
        self.classes_ = classifier.classes_
        self.compiled_ = compile_pipeline(features, classifier, self.sublinear_tf, segmenter)
        return self

    def predict_proba(self, X: str | Iterable[str]) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_`` (the reference path)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(self._clip(X))

    def decision_function(self, X: str | Iterable[str]) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.decision_function(self._clip(X))

    def _compiled_model(self) -> CompiledModel:
        check_is_fitted(self, "pipeline_")
        if getattr(self, "compiled_", None) is None:
            features = self.pipeline_.named_steps["features"]
            classifier = self.pipeline_.named_steps["classifier"]
            segmenter = JiebaSegmenter(self.userdict)
            self.compiled_ = compile_pipeline(features, classifier, self.sublinear_tf, segmenter)
        return self.compiled_

    def __getstate__(self) -> dict:
        # the compiled arrays duplicate the pipeline's; they are rebuilt on first use
        state = dict(super().__getstate__())
        state.pop("compiled_", None)
        return state

    def save(self, path: str | Path, metadata: dict | None = None) -> Path:
        """Write the model to ``path`` (joblib), atomically; see :func:`boundary_nlp.save_model`."""
        from .persistence import save_model

        return save_model(self, path, metadata=metadata)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
