"""``BoundaryClassifier``: the scikit-learn estimator (jieba words + characters, TF-IDF, linear)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from ._linear import LinearTextModel, from_pipeline
from .features import build_feature_union
from .inputs import DEFAULT_MAX_CHARS, as_texts, truncate
from .prediction import PredictorViews
from .text import DEFAULT_USERDICT, JiebaSegmenter, read_userdict


class BoundaryClassifier(PredictorViews, ClassifierMixin, BaseEstimator):
    """Classify client requests (or any short Chinese texts) with a linear TF-IDF model.

    Features are TF-IDF over jieba word 1-2 grams and over character n-grams, each block
    L2-normalized, read from the message's content (punctuation, symbols and emoji dropped,
    each number one token); the classifier is a logistic regression (or a calibrated linear
    SVM) with balanced class weights. Works with any set of labels, not only the three of
    the guide. A message of several asks takes the label of its most serious ask when that
    ask is ``escalate_label`` with probability ``escalate_threshold`` or more (guide rule 2).

    ``fit`` trains a scikit-learn pipeline (``pipeline_``, kept as the reference the tests
    compare with) and reduces it to ``model_``, the plain-data predictor that
    ``predict``, ``predict_proba``, ``classify`` and a saved model file all use.

    Parameters
    ----------
    C : inverse regularization strength of the classifier.
    word_ngram_range, char_ngram_range : n-gram sizes of the two feature blocks;
        ``word_ngram_range=None`` uses characters only.
    content_only : read features from the content only (see ``text.content_text``);
        ``False`` reads the normalized text with its punctuation.
    drop_vocative : do not read the greeting or form of address a message opens with
        ("王工，", "张经理您好：", "在吗？"; see :mod:`boundary_nlp.vocative`): it names who is
        asked, not what, so putting one in front must not change the label.
    drop_closing : do not read the pleasantries a message closes with ("，谢谢！", "辛苦了",
        "麻烦您了！"; see :mod:`boundary_nlp.closing`): they ask for nothing, so appending one
        must not change the label.
    classifier : ``"logreg"`` (multinomial logistic regression) or ``"svc"`` (a linear SVM
        whose decision values are calibrated by per-class sigmoids fitted on 3-fold
        cross-validated decisions).
    escalate_label, escalate_threshold : guide rule 2 (``None`` turns it off).
    label_weights : the decision's weight per label, e.g. ``{"prohibited": 1.1}``: each
        probability is multiplied by its label's weight (1 when not named) and the row
        renormalized, for every message and every ask, before any decision: a cost-sensitive
        decision that trades false alarms for fewer missed red lines. ``train`` chooses it on
        out-of-fold predictions (see ``training.RECALL_FLOOR``).
    ask_rows : also train on each ask of a multi-ask message whose label is not
        ``escalate_label``, with the message's label: by rule 2 none of its asks is more
        serious than the message, so the model learns what a routine or favor ask looks like
        on its own, which is how rule 2 scores asks.
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
        word_ngram_range: tuple[int, int] | None = (1, 2),
        char_ngram_range: tuple[int, int] = (1, 3),
        content_only: bool = True,
        drop_vocative: bool = True,
        drop_closing: bool = True,
        classifier: str = "logreg",
        escalate_label: str | None = "prohibited",
        escalate_threshold: float = 0.5,
        label_weights: dict[str, float] | None = None,
        ask_rows: bool = True,
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
        self.content_only = content_only
        self.drop_vocative = drop_vocative
        self.drop_closing = drop_closing
        self.classifier = classifier
        self.escalate_label = escalate_label
        self.escalate_threshold = escalate_threshold
        self.label_weights = label_weights
        self.ask_rows = ask_rows
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
        given = labels
        if self.ask_rows and self.escalate_label is not None and self.escalate_label in set(labels.tolist()):
            texts, labels = _with_ask_rows(texts, labels, self.escalate_label, self.drop_closing)
        # a custom dictionary is read now and carried by the model, so a saved model does not
        # depend on the file's path
        if self.userdict == DEFAULT_USERDICT:
            words, spec = DEFAULT_USERDICT, {"userdict": DEFAULT_USERDICT, "hmm": False}
        else:
            words = tuple(read_userdict(self.userdict))
            spec = {"words": [list(pair) for pair in words], "hmm": False}
        segmenter = JiebaSegmenter(words)
        features = build_feature_union(
            None if self.word_ngram_range is None else tuple(self.word_ngram_range),
            tuple(self.char_ngram_range),
            self.min_df,
            self.sublinear_tf,
            segmenter,
            content=self.content_only,
            vocative=self.drop_vocative,
            closing=self.drop_closing,
        )
        classifier = self._make_classifier()
        self.pipeline_ = Pipeline([("features", features), ("classifier", classifier)])
        self.pipeline_.fit(texts, labels)
        self.classes_ = classifier.classes_
        # the label shares the probabilities assume: uniform under balanced class weights
        if self.class_weight == "balanced":
            shares = {str(c): 1.0 / len(self.classes_) for c in self.classes_}
        else:
            shares = {str(c): float(np.mean(given == c)) for c in self.classes_}
        escalation = None
        if self.escalate_label is not None and self.escalate_label in set(self.classes_.tolist()):
            escalation = {"label": self.escalate_label, "threshold": self.escalate_threshold}
        self.model_ = from_pipeline(
            features,
            classifier,
            self.sublinear_tf,
            spec,
            max_chars=self.max_chars,
            threshold=self.uncertainty_threshold,
            base_rates=shares,
            escalation=escalation,
            label_weights=self.label_weights,
        )
        return self

    def _make_classifier(self):
        if self.classifier == "logreg":
            return LogisticRegression(
                C=self.C,
                class_weight=self.class_weight,
                max_iter=self.max_iter,
                random_state=self.random_state,
            )
        if self.classifier == "svc":
            from sklearn.calibration import CalibratedClassifierCV

            svc = LinearSVC(
                C=self.C,
                class_weight=self.class_weight,
                max_iter=self.max_iter,
                random_state=self.random_state,
            )
            return CalibratedClassifierCV(svc, method="sigmoid", cv=3, ensemble=False)
        raise ValueError(f"classifier must be 'logreg' or 'svc', got {self.classifier!r}")

    def _predictor(self) -> LinearTextModel:
        check_is_fitted(self, "model_")
        # parameters set after fit (set_params) apply to predictions, as in scikit-learn
        self.model_.threshold = self.uncertainty_threshold
        self.model_.max_chars = self.max_chars
        if self.model_.escalation is not None and self.escalate_label is not None:
            self.model_.escalation["threshold"] = float(self.escalate_threshold)
        if self.model_.label_weights != (dict(self.label_weights) if self.label_weights else None):
            self.model_ = self.model_.with_label_weights(self.label_weights)
        return self.model_

    def with_label_shares(self, shares: dict[str, float] | None):
        """The fitted model as a :class:`~boundary_nlp.BoundaryModel` whose probabilities are
        adjusted to a deployment's label shares (see ``BoundaryModel.with_label_shares``)."""
        from .persistence import BoundaryModel

        return BoundaryModel(self._predictor()).with_label_shares(shares)

    def decision_function(self, X: str | Iterable[str]) -> np.ndarray:
        """Decision values of the scikit-learn pipeline (the reference the tests compare with)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.decision_function(self._clip(X))

    def _clip(self, texts: str | Iterable[str]) -> list[str]:
        return [truncate(text, self.max_chars)[0] for text in as_texts(texts)]

    def save(self, path: str | Path, metadata: dict | None = None) -> Path:
        """Write the model to ``path`` (a safe model file), atomically; see
        :func:`boundary_nlp.save_model`."""
        from .persistence import save_model

        return save_model(self, path, metadata=metadata)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def _with_ask_rows(
    texts: list[str], labels: np.ndarray, most_serious: str, closing: bool
) -> tuple[list[str], np.ndarray]:
    """The texts plus the asks (``asks.scored_asks``) of every multi-ask text not labelled
    ``most_serious``, each with its text's label (see ``BoundaryClassifier``'s ``ask_rows``)."""
    from .asks import scored_asks

    extra_texts: list[str] = []
    extra_labels: list[str] = []
    for text, label in zip(texts, labels.tolist()):
        if label == most_serious:
            continue
        asks = scored_asks(text, closing)
        if len(asks) > 1:
            extra_texts += asks
            extra_labels += [label] * len(asks)
    if not extra_texts:
        return texts, labels
    return texts + extra_texts, np.concatenate([labels, np.asarray(extra_labels, dtype=object)])
