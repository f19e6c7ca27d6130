"""``LinearTextModel``: the one predictor every prediction path goes through.

A fitted model as plain data: feature blocks (an analyzer spec, the terms, their idf),
coefficients, intercepts, a head that turns decision values into probabilities, the
uncertainty threshold and the training label shares. ``score`` turns many texts into
probabilities (and, when asked, the terms behind them); ``predict``, ``predict_proba``,
``classify``, batch files, ``analyze``, the ledger and the service are views of it.

Applying it needs numpy and the library's analyzers only, no scikit-learn and no pickle.
The optional C module (``_speedups``) is a backend behind the same ``score``: a batch
kernel that scores a whole chunk of texts without the GIL (segmentation, n-grams, lookup,
TF-IDF, decision values), so large batches run on every core through threads, and a
one-text path for evidence. Both do the same floating-point operations in the same order as
numpy, so results are equal bit for bit (the tests compare them, and all against the
scikit-learn pipeline).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import speedups
from .advice import advice_for
from .asks import normalized_asks, scored_asks
from .features import CharNgrams, WordNgrams, analyzer_from_spec
from .inputs import as_texts, truncate
from .prediction import DEFAULT_EVIDENCE_TERMS, Prediction, top_evidence
from .text import DIGIT_TOKEN, content_text, normalize, read_text, uncertain_reason

VECTORIZED_MIN_TEXTS = 32
# large batches are scored this many texts at a time: the per-term arrays of a chunk, not of
# the whole batch, are in memory at once (rows never interact, so results are the same)
CHUNK_TEXTS = 2048
# counts up to this get their tf weight from a table (computed by numpy, so the C path
# multiplies the very same floats); a larger count sends the text to the numpy path
TF_TABLE_SIZE = 4096
PARALLEL_MIN_TEXTS = 2000
# batches of at least this many texts are scored by threads over chunks (with the C kernel,
# which releases the GIL); smaller ones on the calling thread
THREADS_MIN_TEXTS = 1024
CORES = os.cpu_count() or 1  # read once: a call costs microseconds on some machines
_UNICODE_SIZE = 0x110000

HEADS = ("softmax", "logistic", "sigmoid_ovr")


class FeatureBlock:
    """One TF-IDF block: its analyzer, its terms in column order, idf, first column.

    ``terms`` is a list of strings or the terms joined by ``"\n"`` (as a model file stores
    them; a term never holds a line break). The list and the term -> column dictionary are
    built the first time something needs them: the C kernel reads the joined form directly,
    so a loaded model that scores with it never builds either (a fast start, less memory).
    """

    def __init__(
        self,
        name: str,
        analyzer: WordNgrams | CharNgrams,
        terms: list[str] | str,
        idf: np.ndarray,
        offset: int,
    ) -> None:
        self.name = name
        self.analyzer = analyzer
        self.idf = np.ascontiguousarray(idf, dtype=float)
        self.offset = offset
        if isinstance(terms, str):
            self._joined: str | None = terms
            self._terms: list[str] | None = None
            size = terms.count("\n") + 1 if terms else 0
        else:
            self._joined = None
            self._terms = list(terms)
            size = len(self._terms)
            if any("\n" in term for term in self._terms):
                raise ValueError(f"block {name!r}: a term holds a line break")
        if size != len(self.idf):
            raise ValueError(f"block {name!r}: {size} terms but {len(self.idf)} idf values")
        self._vocabulary: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.idf)

    @property
    def terms(self) -> list[str]:
        if self._terms is None:
            self._terms = self._joined.split("\n") if self._joined else []
        return self._terms

    @property
    def joined(self) -> str:
        """The terms joined by ``"\n"``."""
        if self._joined is None:
            self._joined = "\n".join(self._terms)
        return self._joined

    @property
    def vocabulary(self) -> dict[str, int]:
        """term -> column within the block; ``ValueError`` if a term repeats."""
        if self._vocabulary is None:
            vocabulary = dict(zip(self.terms, range(len(self.terms))))  # faster than a comprehension
            if len(vocabulary) != len(self.terms):
                raise ValueError(f"block {self.name!r}: terms are not unique")
            self._vocabulary = vocabulary
        return self._vocabulary

    @property
    def is_word(self) -> bool:
        return isinstance(self.analyzer, WordNgrams)

    def __getstate__(self) -> dict[str, Any]:
        # one string pickles smaller and faster than a list; the rest is rebuilt when needed
        return {
            "name": self.name,
            "analyzer": self.analyzer,
            "idf": self.idf,
            "offset": self.offset,
            "_joined": self.joined,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._terms = None
        self._vocabulary = None


@dataclass(frozen=True)
class Head:
    """Decision values -> probabilities.

    ``softmax``: multinomial logistic regression. ``logistic``: a binary model with one
    decision column (the second class's). ``sigmoid_ovr``: one-vs-rest decision values put
    through per-column sigmoids ``1 / (1 + exp(a * d + b))`` and normalized to sum to one
    (scikit-learn's ``CalibratedClassifierCV(method="sigmoid", ensemble=False)``).
    """

    kind: str = "softmax"
    a: tuple[float, ...] = ()
    b: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in HEADS:
            raise ValueError(f"unknown head {self.kind!r}; known: {HEADS}")
        if self.kind == "sigmoid_ovr" and (not self.a or len(self.a) != len(self.b)):
            raise ValueError("a sigmoid_ovr head needs a and b of equal, non-zero length")
        # the calibration as arrays once, not per call (not fields: equality reads a and b)
        object.__setattr__(self, "_a", np.asarray(self.a, dtype=float))
        object.__setattr__(self, "_b", np.asarray(self.b, dtype=float))

    def proba(self, decision: np.ndarray) -> np.ndarray:
        if self.kind == "logistic":
            positive = 1.0 / (1.0 + np.exp(-decision[..., 0]))
            return np.stack((1.0 - positive, positive), axis=-1)
        if self.kind == "softmax":
            shifted = decision - decision.max(axis=-1, keepdims=True)
            exp = np.exp(shifted)
            return exp / exp.sum(axis=-1, keepdims=True)
        calibrated = 1.0 / (1.0 + np.exp(decision * self._a + self._b))
        if calibrated.shape[-1] == 1:
            return np.concatenate((1.0 - calibrated, calibrated), axis=-1)
        total = calibrated.sum(axis=-1, keepdims=True)
        if not (total == 0).any():
            return calibrated / total
        # every sigmoid of a row underflowed: that row is uniform
        uniform = np.full_like(calibrated, 1.0 / calibrated.shape[-1])
        safe = np.where(total == 0, 1.0, total)
        return np.where(total == 0, uniform, calibrated / safe)

    def push(self, coef_rows: np.ndarray, class_index: int) -> np.ndarray:
        """Per-term weight toward ``class_index`` (times a term's value = its push)."""
        if coef_rows.shape[1] == 1:
            return coef_rows[:, 0] * (1.0 if class_index == 1 else -1.0)
        if self.kind == "softmax":  # softmax is invariant to subtracting the mean
            return coef_rows[:, class_index] - coef_rows.mean(axis=1)
        # a larger decision raises the class's sigmoid when a < 0 (scikit-learn fits a < 0)
        return coef_rows[:, class_index] * (-np.sign(self.a[class_index]) or 1.0)

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": self.kind}
        if self.kind == "sigmoid_ovr":
            spec.update(a=list(self.a), b=list(self.b))
        return spec

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Head:
        return cls(
            spec["kind"],
            tuple(float(x) for x in spec.get("a", ())),
            tuple(float(x) for x in spec.get("b", ())),
        )


@dataclass
class Scores:
    """What ``score`` computes for many texts; ``terms`` only when evidence was asked for."""

    proba: np.ndarray
    truncated: list[bool]
    reasons: list[str | None]  # why a text is uncertain whatever its confidence, or None
    terms: list[tuple[np.ndarray, np.ndarray]] | None = None  # per text: (columns, values)
    # per text: the ask whose probabilities the text took (rule 2), or None for the whole text
    asks: list[str | None] | None = None


class LinearTextModel:
    """A fitted linear TF-IDF text classifier as plain data (see the module docstring).

    ``coef`` is (n_features, n_outputs); ``segmenter`` is a spec: ``{"userdict": "default"}``
    or ``{"words": [[word, freq or None], ...]}`` (a user dictionary carried in the model),
    with ``"hmm": bool``. Instances pickle (for process pools, Dask, Spark) and are safe to
    share across threads: the only lazily built state is guarded by a lock.
    """

    def __init__(
        self,
        classes: Sequence[str],
        blocks: list[FeatureBlock],
        coef: np.ndarray,
        intercept: np.ndarray,
        head: Head,
        sublinear_tf: bool = True,
        segmenter: dict[str, Any] | None = None,
        max_chars: int | None = None,
        threshold: float | None = None,
        base_rates: dict[str, float] | None = None,
        label_shares: dict[str, float] | None = None,
        escalation: dict[str, Any] | None = None,
        label_weights: dict[str, float] | None = None,
    ) -> None:
        self.classes = np.asarray([str(c) for c in classes], dtype=object)
        self.blocks = blocks
        self.coef = np.ascontiguousarray(coef, dtype=float)
        self.intercept = np.ascontiguousarray(intercept, dtype=float)
        self.head = head
        self.sublinear_tf = sublinear_tf
        self.segmenter_spec = dict(segmenter or {"userdict": "default", "hmm": False})
        self.max_chars = max_chars
        self.threshold = threshold
        # the label shares the probabilities assume (uniform when trained with balanced
        # class weights), and those of the deployment, if given: see with_label_shares
        self.base_rates = dict(base_rates) if base_rates else None
        self.label_shares = dict(label_shares) if label_shares else None
        # the decision's weights per label (see with_label_weights); labels not named weigh 1
        self.label_weights = dict(label_weights) if label_weights else None
        self._shift = self._adjustment()
        width = sum(len(block) for block in blocks)
        if self.coef.shape != (width, len(self.intercept)):
            raise ValueError(f"coef has shape {self.coef.shape}, expected ({width}, {len(self.intercept)})")
        binary_column = head.kind == "logistic" or (head.kind == "sigmoid_ovr" and len(self.classes) == 2)
        expected_outputs = 1 if binary_column else len(self.classes)
        if len(self.intercept) != expected_outputs:
            raise ValueError(
                f"{len(self.intercept)} decision columns for {len(self.classes)} classes and a "
                f"{head.kind} head (expected {expected_outputs})"
            )
        contents = {bool(getattr(block.analyzer, "content", False)) for block in blocks}
        if len(contents) > 1:
            raise ValueError("all feature blocks must read the same text (content on all or none)")
        self.content = contents == {True}
        vocatives = {bool(getattr(block.analyzer, "vocative", False)) for block in blocks}
        if len(vocatives) > 1:
            raise ValueError("all feature blocks must read the same text (vocative on all or none)")
        self.vocative = vocatives == {True}
        closings = {bool(getattr(block.analyzer, "closing", False)) for block in blocks}
        if len(closings) > 1:
            raise ValueError("all feature blocks must read the same text (closing on all or none)")
        self.closing = closings == {True}
        # guide rule 2, the most serious ask wins: a text whose ask reaches
        # escalation["threshold"] for escalation["label"] takes that ask's probabilities
        if escalation is not None and str(escalation["label"]) not in set(self.classes.tolist()):
            raise ValueError(f"escalation label {escalation['label']!r} is not one of {list(self.classes)}")
        self.escalation = (
            None
            if escalation is None
            else {"label": str(escalation["label"]), "threshold": float(escalation["threshold"])}
        )
        self.idf = np.concatenate([block.idf for block in blocks]) if blocks else np.empty(0)
        self._offsets = np.asarray([block.offset for block in blocks], dtype=np.intp)
        self._init_lazy()

    def _adjustment(self) -> np.ndarray | None:
        """What each label's probability is multiplied by before renormalizing: the decision
        weights times the prior shift (``None``: nothing to adjust)."""
        weights = self._weights()
        shift = self._prior_shift()
        if weights is None:
            return shift
        return weights if shift is None else weights * shift

    def _weights(self) -> np.ndarray | None:
        if not self.label_weights:
            return None
        unknown = set(self.label_weights) - {str(c) for c in self.classes}
        if unknown:
            raise ValueError(f"label weights name {sorted(unknown)}; the labels are {list(self.classes)}")
        weights = np.asarray([float(self.label_weights.get(str(c), 1.0)) for c in self.classes])
        if np.any(weights <= 0) or not np.isfinite(weights).all():
            raise ValueError("label weights must be positive numbers")
        return weights

    def _prior_shift(self) -> np.ndarray | None:
        if not self.label_shares:
            return None
        unknown = set(self.label_shares) ^ {str(c) for c in self.classes}
        if unknown:
            raise ValueError(
                f"label shares must name exactly the labels {list(self.classes)}; got "
                f"{sorted(self.label_shares)}"
            )
        new = np.asarray([float(self.label_shares[str(c)]) for c in self.classes])
        if np.any(new <= 0) or not np.isfinite(new).all():
            raise ValueError("label shares must be positive numbers")
        old = (
            np.asarray([float(self.base_rates[str(c)]) for c in self.classes])
            if self.base_rates
            else np.full(len(self.classes), 1.0 / len(self.classes))
        )
        return (new / new.sum()) / old

    def with_label_shares(self, shares: dict[str, float] | None) -> LinearTextModel:
        """A copy whose probabilities are multiplied by ``shares / base_rates`` and renormalized
        (the prior-shift correction of Saerens et al., 2002); ``None`` removes it."""
        import copy

        other = copy.copy(self)
        other.label_shares = dict(shares) if shares else None
        other._shift = other._adjustment()
        return other

    def with_label_weights(self, weights: dict[str, float] | None) -> LinearTextModel:
        """A copy whose decision weighs each label's probability by ``weights`` (labels not
        named weigh 1) before renormalizing: a cost-sensitive decision. ``train`` sets
        ``{"prohibited": w}``, the smallest ``w`` whose out-of-fold red-line recall reaches
        ``training.RECALL_FLOOR`` (a missed red line costs more than a false alarm). Applied
        to every probability the model gives, the asks of rule 2 included, and before a
        deployment's label shares (:meth:`with_label_shares`); ``None`` removes it."""
        import copy

        other = copy.copy(self)
        other.label_weights = dict(weights) if weights else None
        other._shift = other._adjustment()
        return other

    def _probabilities(self, decision: np.ndarray) -> np.ndarray:
        proba = self.head.proba(decision)
        if self._shift is None:
            return proba
        shifted = proba * self._shift
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def _init_lazy(self) -> None:
        self._columns = {str(label): index for index, label in enumerate(self.classes)}
        self._lock = threading.RLock()  # reentrant: building the kernel reads the segmenter
        self._segmenter = None
        self._index: TermIndex | bool | None = None
        self._tf_table: np.ndarray | None = None
        self._kernel: BatchKernel | bool | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in ("_lock", "_segmenter", "_index", "_tf_table", "_kernel", "idf"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("vocative", False)  # pickled before the option existed
        self.__dict__.setdefault("closing", False)
        self.__dict__.setdefault("label_weights", None)
        self.idf = np.concatenate([block.idf for block in self.blocks]) if self.blocks else np.empty(0)
        self._init_lazy()

    def __repr__(self) -> str:
        blocks = ", ".join(f"{b.name}:{len(b)}" for b in self.blocks)
        return f"LinearTextModel(classes={list(self.classes)}, blocks=[{blocks}], head={self.head.kind!r})"

    # -- the segmenter ----------------------------------------------------------------
    @property
    def segmenter(self) -> Any:
        if self._segmenter is None:
            with self._lock:
                if self._segmenter is None:
                    self._segmenter = segmenter_from_spec(self.segmenter_spec)
        return self._segmenter

    # -- the one scoring path -------------------------------------------------------
    def score(
        self,
        texts: str | Iterable[str],
        terms: bool = False,
        whole_only: bool = False,
        n_threads: int | None = None,
    ) -> Scores:
        """Probabilities of many texts (rows in input order, columns in ``classes`` order).

        Texts are checked (``TypeError`` names a non-string), cut to ``max_chars`` and
        normalized. With an ``escalation`` (guide rule 2), a text of several asks whose most
        serious ask reaches the threshold takes that ask's probabilities; ``whole_only``
        scores whole texts only (what the scikit-learn pipeline computes). With ``terms`` the
        columns and TF-IDF values of each text's features come along, for evidence.

        Texts are scored ``CHUNK_TEXTS`` at a time, so memory beyond the input and the
        results stays bounded; ``n_threads`` (default: every core for batches of
        ``THREADS_MIN_TEXTS`` or more when the C kernel runs) scores chunks in threads. Rows
        never interact: the results are the same for any chunking and any thread count.
        """
        raw = as_texts(texts)
        if terms or (len(raw) <= CHUNK_TEXTS and self.threads_for(len(raw), n_threads) == 1):
            return self._score_chunk(raw, terms, whole_only, n_threads)
        parts = self._map_chunks(
            lambda chunk: self._score_chunk(chunk, False, whole_only, n_threads), raw, n_threads
        )
        asks = None if parts[0].asks is None else [ask for part in parts for ask in part.asks]
        return Scores(
            np.concatenate([part.proba for part in parts]),
            [cut for part in parts for cut in part.truncated],
            [reason for part in parts for reason in part.reasons],
            None,
            asks,
        )

    def _score_chunk(
        self, raw: list[str], terms: bool, whole_only: bool, n_threads: int | None = None
    ) -> Scores:
        clipped = [truncate(text, self.max_chars) for text in raw]
        normalized = [normalize(text) for text, _ in clipped]
        truncated = [cut for _, cut in clipped]
        reasons = [uncertain_reason(text) for text in normalized]
        if terms:
            per_text = [self._features_one(self._read(text)) for text in normalized]
            decision = np.vstack([d for _, _, d in per_text]) if per_text else self._empty_decision()
            scores = Scores(
                self._probabilities(decision), truncated, reasons, [(c, v) for c, v, _ in per_text]
            )
        else:
            scores = Scores(self.decide_proba(normalized, n_threads), truncated, reasons)
        if self.escalation is not None and not whole_only:
            self._escalate(scores, [text for text, _ in clipped], terms, n_threads)
        return scores

    def _read(self, normalized: str) -> str:
        return read_text(normalized, self.content, self.vocative, self.closing)

    def _escalate(self, scores: Scores, texts: list[str], terms: bool, n_threads: int | None = None) -> None:
        """Guide rule 2 on ``scores``, in place (see :meth:`asks_of`, :func:`escalate`)."""
        asks = self.asks_of(texts, n_threads)
        proba, chosen = escalate(
            scores.proba, asks, self.column(self.escalation["label"]), self.escalation["threshold"]
        )
        scores.proba = proba
        scores.asks = [None if index is None else asks.texts[index] for index in chosen]
        if terms:
            for row, index in enumerate(chosen):
                if index is not None:
                    columns, values, _ = self._features_one(self._read(normalize(asks.texts[index])))
                    scores.terms[row] = (columns, values)

    def column(self, label: str) -> int:
        """The probability column of ``label`` (``ValueError`` for a label the model lacks)."""
        try:
            return self._columns[label]
        except KeyError:
            raise ValueError(f"{label!r} is not one of the model's labels {list(self.classes)}") from None

    def asks(self, message: str) -> list[str]:
        """The asks of ``message`` this model scores one by one under rule 2
        (``asks.scored_asks``: closing pleasantries are no asks when the model drops them)."""
        return scored_asks(message, self.closing)

    def asks_of(self, texts: list[str], n_threads: int | None = None) -> Asks:
        """The asks of every text with two or more (``asks.scored_asks``), and their whole-text
        probabilities."""
        owners: list[int] = []
        parts: list[str] = []
        normalized: list[str] = []
        for row, text in enumerate(texts):
            found, found_normalized = normalized_asks(text, self.closing)
            if len(found) > 1:
                owners.extend([row] * len(found))
                parts.extend(found)
                normalized.extend(found_normalized)
        proba = self.decide_proba(normalized, n_threads)
        return Asks(np.asarray(owners, dtype=np.intp), parts, proba)

    def decide_proba(self, normalized: list[str], n_threads: int | None = None) -> np.ndarray:
        """Probabilities of already normalized whole texts (the batch engine behind ``score``).

        The C batch kernel when it runs for this model (see :class:`BatchKernel`), else numpy;
        ``n_threads`` as in :meth:`score`.
        """
        if not normalized:
            return np.empty((0, len(self.classes)))
        if len(normalized) > CHUNK_TEXTS or self.threads_for(len(normalized), n_threads) > 1:
            return np.concatenate(self._map_chunks(self._decide_chunk, normalized, n_threads))
        return self._decide_chunk(normalized)

    def _decide_chunk(self, normalized: list[str]) -> np.ndarray:
        kernel = self.batch_kernel()
        if kernel is not None:
            # the kernel reads the content itself, without the GIL
            if self.vocative or self.closing:
                normalized = [read_text(text, False, self.vocative, self.closing) for text in normalized]
            return self._probabilities(kernel.decisions(self, normalized, self.content))
        if self.content or self.vocative or self.closing:
            normalized = [self._read(text) for text in normalized]
        parts = [
            self._probabilities(self._decisions(normalized[start : start + CHUNK_TEXTS]))
            for start in range(0, len(normalized), CHUNK_TEXTS)
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _empty_decision(self) -> np.ndarray:
        return np.empty((0, len(self.intercept)))

    def threads_for(self, count: int, n_threads: int | None = None) -> int:
        """How many threads score ``count`` texts: ``n_threads`` if given (-1: every core),
        else every core for ``THREADS_MIN_TEXTS`` or more texts when the C kernel runs (the
        numpy path holds the GIL, so threads would only take turns), else one."""
        cores = CORES
        if n_threads is not None:
            return cores if n_threads < 0 else max(1, int(n_threads))
        if count >= THREADS_MIN_TEXTS and self.batch_kernel() is not None:
            return cores
        return 1

    def _map_chunks(self, work: Callable[[list], Any], items: list, n_threads: int | None) -> list:
        """``work`` over consecutive chunks of ``items``, results in order; in threads when
        :meth:`threads_for` says so (a chunk size that gives each thread several chunks)."""
        threads = min(self.threads_for(len(items), n_threads), -(-len(items) // 64))
        if getattr(_IN_WORKER, "active", False):
            threads = 1  # already in one of our threads (rule 2's asks of a chunk): no pool in a pool
        size = CHUNK_TEXTS
        if threads > 1:
            size = max(64, min(CHUNK_TEXTS, -(-len(items) // (threads * 4))))
        chunks = (items[start : start + size] for start in range(0, len(items), size))
        if threads <= 1:
            return [work(chunk) for chunk in chunks]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            # at most a few chunks in flight per thread: memory stays bounded for any input
            return list(_bounded_map(pool, work, chunks, 2 * threads))

    # -- views --------------------------------------------------------------------------
    def predict_proba(
        self, texts: str | Iterable[str], n_jobs: int | None = None, n_threads: int | None = None
    ) -> np.ndarray:
        """Class probabilities; ``n_jobs`` > 1 (or -1) scores big batches in worker processes;
        ``n_threads`` sets the threads (default: every core for large batches, see ``score``)."""
        if n_jobs not in (None, 0, 1):
            return self._parallel_proba(as_texts(texts), n_jobs)
        return self.score(texts, n_threads=n_threads).proba

    def predict(
        self, texts: str | Iterable[str], n_jobs: int | None = None, n_threads: int | None = None
    ) -> np.ndarray:
        """Label strings, one per text."""
        return self.classes[self.predict_proba(texts, n_jobs=n_jobs, n_threads=n_threads).argmax(axis=1)]

    def classify(
        self,
        texts: str | Iterable[str],
        threshold: float | None = None,
        evidence_terms: int = DEFAULT_EVIDENCE_TERMS,
    ) -> Prediction | list[Prediction]:
        """One text -> a :class:`Prediction`; an iterable of texts -> a list of them.

        ``uncertain`` is true when the confidence is below ``threshold`` (default: the
        model's own) or when the text has nothing to judge (no content, not Chinese; the
        reason is in ``Prediction.reason``).
        """
        single = isinstance(texts, str)
        scores = self.score(texts, terms=evidence_terms > 0)
        threshold = self.threshold if threshold is None else threshold
        predictions = []
        for row, proba in enumerate(scores.proba):
            index = int(proba.argmax())
            label = str(self.classes[index])
            confidence = float(proba[index])
            reason = uncertainty(scores.reasons[row], confidence, threshold)
            evidence = ()
            if scores.terms is not None and scores.reasons[row] is None:
                columns, values = scores.terms[row]
                evidence = top_evidence(self.contributions(columns, values, index), evidence_terms)
            predictions.append(
                Prediction(
                    label=label,
                    confidence=confidence,
                    probabilities={str(c): float(p) for c, p in zip(self.classes, proba)},
                    evidence=evidence,
                    uncertain=reason is not None,
                    threshold=threshold,
                    truncated=scores.truncated[row],
                    advice=advice_for(label, uncertain=reason is not None),
                    reason=reason,
                    ask=scores.asks[row] if scores.asks else None,
                )
            )
        return predictions[0] if single else predictions

    # -- features -----------------------------------------------------------------------
    def _block_grams(self, text: str) -> list[list[str]]:
        tokens = self.segmenter.cut(text) if any(b.is_word for b in self.blocks) else None
        return [
            block.analyzer.grams_from_tokens(tokens)
            if block.is_word
            else block.analyzer.from_normalized(text)
            for block in self.blocks
        ]

    def _count_with_dicts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows: list[int] = []
        columns: list[int] = []
        counts: list[int] = []
        for row, text in enumerate(texts):
            for block, grams in zip(self.blocks, self._block_grams(text)):
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

    def tfidf(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, TF-IDF value) of every vocabulary term in many normalized texts.

        Terms are counted per text (in numpy for batches of ``VECTORIZED_MIN_TEXTS`` or more);
        the weighting and the per-block L2 norms run in scikit-learn's order of operations
        (tf -> 1 + log tf -> x idf -> / block norm). Entries are sorted by row, then column,
        so a text's values never depend on the batch it came in.
        """
        n = len(texts)
        index = self._term_index() if n >= VECTORIZED_MIN_TEXTS else None
        rows, cols, counts = index.count(texts, self.segmenter) if index else self._count_with_dicts(texts)
        tf = counts.astype(float)
        if self.sublinear_tf:
            tf = np.log(tf) + 1.0
        values = tf * self.idf[cols]
        n_blocks = len(self.blocks)
        segment = n_blocks * rows + (np.searchsorted(self._offsets, cols, side="right") - 1)
        norms = np.sqrt(np.bincount(segment, weights=values * values, minlength=n_blocks * n))
        values = values / np.where(norms > 0, norms, 1.0)[segment]
        return rows, cols, values

    def _decisions(self, texts: list[str]) -> np.ndarray:
        return self._decisions_from_tfidf(*self.tfidf(texts), len(texts))

    def _decisions_from_tfidf(
        self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int
    ) -> np.ndarray:
        weighted = self.coef[cols] * values[:, None]
        decision = np.empty((n, self.coef.shape[1]))
        for k in range(self.coef.shape[1]):
            decision[:, k] = np.bincount(rows, weights=weighted[:, k], minlength=n)
        return decision + self.intercept

    def tf_table(self) -> np.ndarray:
        """tf weights of the counts 1..TF_TABLE_SIZE, computed by numpy for the C paths."""
        if self._tf_table is None:
            counts = np.arange(1, TF_TABLE_SIZE + 1, dtype=float)
            self._tf_table = np.log(counts) + 1.0 if self.sublinear_tf else counts
        return self._tf_table

    def batch_kernel(self) -> BatchKernel | None:
        """The C batch kernel of this model (built once), or None: no C module, or a
        segmenter it cannot run (jieba with a custom dictionary: numpy then does the work)."""
        if speedups.SPEEDUPS is None:
            return None
        if self._kernel is None:
            with self._lock:
                if self._kernel is None:
                    self._kernel = BatchKernel.build(self) or False
        kernel = self._kernel or None
        if kernel is not None and kernel.module is not speedups.SPEEDUPS:
            return None  # the switch was turned after the kernel was built
        return kernel

    def _features_one(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(columns, values, decision row) of one text as the model reads it: the C kernel
        when it runs for this model, else numpy."""
        kernel = self.batch_kernel()
        one = None if kernel is None else kernel.features(text)
        if one is not None:
            columns, values, decision = one
            return (
                np.frombuffer(columns, dtype=np.int64).astype(np.intp, copy=False),
                np.frombuffer(values, dtype=float),
                np.frombuffer(decision, dtype=float),
            )
        rows, columns, values = self.tfidf([text])
        return columns, values, self._decisions_from_tfidf(rows, columns, values, 1)[0]

    def _term_index(self) -> TermIndex | None:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = TermIndex.build(self) or False
        return self._index or None

    # -- evidence -----------------------------------------------------------------------
    def term(self, column: int) -> tuple[str, str]:
        """(block name, term) of a feature column."""
        block = self.blocks[int(np.searchsorted(self._offsets, column, side="right")) - 1]
        return block.name, block.terms[column - block.offset]

    def contributions(
        self, columns: np.ndarray, values: np.ndarray, class_index: int
    ) -> list[tuple[str, str, float]]:
        """(block name, term, push toward ``class_index``) of every term present in a text."""
        push = values * self.head.push(self.coef[columns], class_index)
        return [(*self.term(column), weight) for column, weight in zip(columns.tolist(), push.tolist())]

    # -- many processes -------------------------------------------------------------
    def _parallel_proba(self, texts: list[str], n_jobs: int) -> np.ndarray:
        workers = CORES if n_jobs < 0 else n_jobs
        if workers <= 1 or len(texts) < PARALLEL_MIN_TEXTS:
            return self.score(texts).proba
        from joblib import Parallel, delayed  # only here: the load path never imports joblib

        self._term_index()
        size = -(-len(texts) // (workers * 4))
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        # fork where the platform has it: workers inherit the loaded model instead of
        # unpickling a copy each; elsewhere joblib's default backend pickles it once per worker
        import multiprocessing

        backend = "multiprocessing" if "fork" in multiprocessing.get_all_start_methods() else "loky"
        key = next(_FORK_KEYS)
        _FORK_MODELS[key] = self
        try:
            with Parallel(n_jobs=workers, backend=backend) as parallel:
                if backend == "multiprocessing":
                    parts = parallel(delayed(_forked_proba)(key, chunk) for chunk in chunks)
                else:
                    parts = parallel(delayed(_proba)(self, chunk) for chunk in chunks)
        finally:
            del _FORK_MODELS[key]
        return np.concatenate(parts)


class BatchKernel:
    """The C module's kernel for one model: its own copies of the vocabularies (read from
    the joined terms, no Python dictionary), views of idf, coef, intercept and tf table, a
    reference to the process's C segmenter (``fastseg.NativeDictionary``) when the model
    reads words, so a chunk of texts is scored without the GIL. The segmenter's dictionary is
    loaded by first character as texts need it, before a chunk is scored."""

    def __init__(self, module: Any, capsule: Any, native: Any, outputs: int) -> None:
        self.module = module
        self.capsule = capsule
        self.native = native  # fastseg.NativeDictionary when the model reads words, else None
        self.outputs = outputs

    @classmethod
    def build(cls, model: LinearTextModel) -> BatchKernel | None:
        module = speedups.SPEEDUPS
        if module is None or not hasattr(module, "kernel_new"):
            return None
        native = None
        if any(block.is_word for block in model.blocks):
            from .fastseg import FastSegmenter, native_dictionary

            if not isinstance(model.segmenter, FastSegmenter):
                return None
            native = native_dictionary()
        blocks = tuple(
            (block.is_word, *map(int, block.analyzer.ngram_range), block.offset, len(block), block.joined)
            for block in model.blocks
        )
        capsule = module.kernel_new(
            blocks, model.tf_table(), model.idf, model.coef, model.intercept, native and native.capsule
        )
        return cls(module, capsule, native, len(model.intercept))

    def decisions(self, model: LinearTextModel, texts: list[str], content: bool = False) -> np.ndarray:
        """Decision values of texts as the model reads them (normalized, readings applied);
        with ``content`` the texts are read before ``text.content_text``, which the kernel
        applies itself (its C copy, tested equal)."""
        if self.native is not None:
            # the content reading writes each number as "0" (DIGIT_TOKEN), which may be new
            self.native.ensure_all([*texts, DIGIT_TOKEN] if content else texts)
        out = np.empty((len(texts), self.outputs))
        beyond = self.module.kernel_score(self.capsule, texts, out, content)
        if beyond:  # a count beyond the tf table: numpy scores those texts
            read = [texts[row] for row in beyond]
            out[beyond] = model._decisions([content_text(text) for text in read] if content else read)
        return out

    def features(self, text: str) -> tuple[bytes, bytes, bytes] | None:
        """(columns, TF-IDF values, decision values) of one text as raw bytes; None for a
        count beyond the tf table (numpy then does it)."""
        if self.native is not None:
            self.native.ensure(text)
        return self.module.kernel_features(self.capsule, text)


_IN_WORKER = threading.local()


def _in_worker(work: Callable, item: Any) -> Any:
    _IN_WORKER.active = True
    try:
        return work(item)
    finally:
        _IN_WORKER.active = False


def _bounded_map(pool: ThreadPoolExecutor, work: Callable, items: Iterable, ahead: int) -> Iterable:
    """``pool.map(work, items)`` with at most ``ahead`` items submitted and not yet taken."""
    from collections import deque

    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(_in_worker, work, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def uncertainty(reason: str | None, confidence: float, threshold: float | None) -> str | None:
    """Why a prediction is uncertain: the text's own reason (empty, no content, not Chinese),
    else ``"low_confidence"`` below ``threshold``, else ``None``. Every view uses this rule."""
    if reason is None and threshold is not None and confidence < threshold:
        return "low_confidence"
    return reason


@dataclass
class Asks:
    """The asks of many texts: which text each belongs to, its words, its probabilities."""

    owners: np.ndarray
    texts: list[str]
    proba: np.ndarray


def escalate(
    proba: np.ndarray, asks: Asks, column: int, threshold: float
) -> tuple[np.ndarray, list[int | None]]:
    """Guide rule 2: each text takes the probabilities of its ask most likely to be the label
    of ``column`` when that probability is at least ``threshold`` and above the whole text's.

    Returns the new probabilities and, per text, the index of the ask it took (or None).
    """
    out = proba.copy()
    chosen: list[int | None] = [None] * len(proba)
    best: dict[int, int] = {}
    for index, row in enumerate(asks.owners.tolist()):
        if row not in best or asks.proba[index, column] > asks.proba[best[row], column]:
            best[row] = index
    for row, index in best.items():
        value = asks.proba[index, column]
        if value >= threshold and value > proba[row, column]:
            out[row] = asks.proba[index]
            chosen[row] = index
    return out, chosen


# models of the n_jobs calls in progress, by call: forked workers inherit this dict and find
# their call's model by key (a dict, not one slot, so concurrent calls cannot swap models)
_FORK_MODELS: dict[int, LinearTextModel] = {}
_FORK_KEYS = itertools.count(1)


def _forked_proba(key: int, texts: list[str]) -> np.ndarray:
    return _FORK_MODELS[key].score(texts).proba


def _proba(model: LinearTextModel, texts: list[str]) -> np.ndarray:
    return model.score(texts).proba


def segmenter_from_spec(spec: dict[str, Any]) -> Any:
    """The segmenter a model was trained with: the fast one where it gives jieba's tokens
    (the shipped dictionary, no HMM), else jieba with the user dictionary the model carries."""
    from .text import JiebaSegmenter

    hmm = bool(spec.get("hmm", False))
    if spec.get("userdict", None) == "default" and not hmm:
        from .fastseg import FastSegmenter

        return FastSegmenter()
    if "words" in spec:
        words = tuple((str(w), None if f is None else int(f)) for w, f in spec["words"])
        return JiebaSegmenter(words, hmm=hmm)
    return JiebaSegmenter(spec.get("userdict", "default"), hmm=hmm)


def from_pipeline(
    features: Any, classifier: Any, sublinear_tf: bool, segmenter_spec: dict[str, Any], **settings: Any
) -> LinearTextModel:
    """Reduce a fitted FeatureUnion of TF-IDF blocks + a linear classifier to plain data.

    The classifier is a ``LogisticRegression`` (softmax or binary logistic head) or a
    ``CalibratedClassifierCV(LinearSVC, method="sigmoid", ensemble=False)`` (sigmoid head).
    """
    blocks = []
    offset = 0
    for name, vectorizer in features.transformer_list:
        terms = [""] * len(vectorizer.vocabulary_)
        for term, column in vectorizer.vocabulary_.items():
            terms[column] = term
        analyzer = analyzer_from_spec(vectorizer.analyzer.to_spec())
        blocks.append(FeatureBlock(name, analyzer, terms, np.asarray(vectorizer.idf_), offset))
        offset += len(terms)
    classes = [str(c) for c in classifier.classes_]
    if hasattr(classifier, "calibrated_classifiers_"):
        (calibrated,) = classifier.calibrated_classifiers_
        base = calibrated.estimator
        head = Head(
            "sigmoid_ovr",
            tuple(float(c.a_) for c in calibrated.calibrators),
            tuple(float(c.b_) for c in calibrated.calibrators),
        )
    else:
        base = classifier
        head = Head("logistic" if len(classes) == 2 else "softmax")
    return LinearTextModel(
        classes,
        blocks,
        np.asarray(base.coef_, dtype=float).T,
        np.asarray(base.intercept_, dtype=float),
        head,
        sublinear_tf=sublinear_tf,
        segmenter=segmenter_spec,
        **settings,
    )


# -- numpy batch lookup ---------------------------------------------------------------


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


class _WordLookup:
    """A word 1-2 gram block's vocabulary as token ids and packed bigram keys."""

    def __init__(self, block: FeatureBlock) -> None:
        self.offset = block.offset
        self.token_ids: dict[str, int] = {}  # 0 stands for a token in no vocabulary term
        unigram_columns: dict[int, int] = {}
        bigram_pairs: list[tuple[int, int]] = []
        bigram_columns: list[int] = []
        for term, column in block.vocabulary.items():
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

    def _token_id(self, token: str) -> int:
        return self.token_ids.setdefault(token, len(self.token_ids) + 1)

    def terms(self, tokens_per_text: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        get = self.token_ids.get
        ids: list[int] = []
        lengths: list[int] = []
        for tokens in tokens_per_text:
            ids.extend([get(token, 0) for token in tokens])
            lengths.append(len(tokens))
        token = np.asarray(ids, dtype=np.int64)
        row = np.repeat(np.arange(len(tokens_per_text), dtype=np.intp), lengths)
        columns = self.unigram_column[token]
        keep = columns >= 0
        rows_out = [row[keep]]
        cols_out = [columns[keep]]
        if len(token) > 1:
            same = row[:-1] == row[1:]
            pair = token[:-1] * self.token_count + token[1:]
            known = same & (token[:-1] > 0) & (token[1:] > 0)
            where = np.flatnonzero(known)
            hits, found = _find(self.bigram_keys, self.bigram_columns, pair[where].astype(np.uint64))
            rows_out.append(row[where[hits]])
            cols_out.append(found)
        return np.concatenate(rows_out), np.concatenate(cols_out) + self.offset


class _CharLookup:
    """A character n-gram block's vocabulary as packed integer keys, one table per length.

    Characters of the vocabulary get dense ids 1..K; a gram with any other character (id 0)
    is in no vocabulary term, so ids of ceil(log2(K+1)) bits pack a whole gram.
    """

    def __init__(self, block: FeatureBlock) -> None:
        self.offset = block.offset
        self.low, self.high = block.analyzer.ngram_range
        terms = block.terms
        term_columns = np.arange(len(terms), dtype=np.intp)
        width = max((len(term) for term in terms), default=1)
        padded = "".join(term.ljust(width, "\x00") for term in terms)
        codes = np.frombuffer(padded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        codes = codes.reshape(len(terms), width)
        chars = np.unique(codes[codes != 0])
        self.bits = max(1, len(chars).bit_length())
        self.char_ids = np.zeros(_UNICODE_SIZE, dtype=np.uint64)
        self.char_ids[chars] = np.arange(1, len(chars) + 1, dtype=np.uint64)
        ids = self.char_ids[codes]
        lengths = (codes != 0).sum(axis=1)
        keys = np.zeros(len(terms), dtype=np.uint64)
        for position in range(width):
            inside = position < lengths
            keys[inside] = (keys[inside] << np.uint64(self.bits)) | ids[inside, position]
        self.lookup = {
            int(length): _sorted_lookup(keys[lengths == length], term_columns[lengths == length])
            for length in np.unique(lengths)
        }

    @property
    def fits(self) -> bool:
        return self.high * self.bits <= 64

    def terms(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        # one array of character ids for the batch, NUL (id 0) between texts
        joined = "\x00".join(texts) + "\x00"
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        ids = self.char_ids[codes]
        boundary = codes == 0
        row = np.cumsum(boundary) - boundary
        rows_out = []
        cols_out = []
        total = len(ids)
        shift = np.uint64(self.bits)
        for length in range(self.low, self.high + 1):
            if length not in self.lookup or total < length:
                continue
            count = total - length + 1
            key = ids[:count].copy()
            valid = key != 0
            for offset in range(1, length):
                part = ids[offset : offset + count]
                key = (key << shift) | part
                valid &= part != 0
            where = np.flatnonzero(valid)
            hits, columns = _find(*self.lookup[length], key[where])
            rows_out.append(row[where[hits]])
            cols_out.append(columns)
        if not rows_out:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        return np.concatenate(rows_out).astype(np.intp), np.concatenate(cols_out) + self.offset


class TermIndex:
    """Every block's vocabulary as sorted integer keys, so a whole batch is looked up by numpy.

    Covers word 1-2 gram blocks and character blocks whose packed ids fit in 64 bits; a
    model with any other block uses per-text dictionaries.
    """

    def __init__(self, model: LinearTextModel, lookups: list[Any]) -> None:
        self.lookups = lookups
        self.width = model.coef.shape[0]

    @classmethod
    def build(cls, model: LinearTextModel) -> TermIndex | None:
        lookups: list[Any] = []
        for block in model.blocks:
            if block.is_word:
                if tuple(block.analyzer.ngram_range) != (1, 2):
                    return None
                lookups.append(_WordLookup(block))
            else:
                lookup = _CharLookup(block)
                if not lookup.fits:
                    return None
                lookups.append(lookup)
        return cls(model, lookups)

    def count(self, texts: list[str], segmenter: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, count) of every vocabulary term in the texts, sorted by row and column."""
        tokens = None
        rows_out = []
        cols_out = []
        for lookup in self.lookups:
            if isinstance(lookup, _WordLookup):
                if tokens is None:
                    tokens = [segmenter.cut(text) for text in texts]
                rows, cols = lookup.terms(tokens)
            else:
                rows, cols = lookup.terms(texts)
            rows_out.append(rows)
            cols_out.append(cols)
        rows = np.concatenate(rows_out)
        cols = np.concatenate(cols_out)
        width = self.width
        unique, counts = np.unique(rows.astype(np.int64) * width + cols, return_counts=True)
        return (unique // width).astype(np.intp), (unique % width).astype(np.intp), counts


__all__ = ["FeatureBlock", "Head", "LinearTextModel", "Scores", "analyzer_from_spec", "from_pipeline"]
