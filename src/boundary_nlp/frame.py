"""Scoring a pandas DataFrame: the prediction columns added to a partition.

``score_frame`` is a plain function of one DataFrame, so distributed engines run it
unchanged on each partition: Dask's ``map_partitions`` (``meta=score_frame(ddf._meta)``)
and Spark's ``mapInPandas`` (through :func:`score_frames`, a generator over batches, with
:func:`spark_schema` for the output schema).
pandas comes with the ``[pandas]`` or ``[dask]`` extra; the core never imports it.

Rows follow the rules of file scoring (:func:`boundary_nlp.batch.predict_file`): a row
whose text is missing, not a string, empty or not valid Unicode gets ``error`` and empty
predictions; the others get label, label_zh, confidence, uncertain, reason and
``p_<label>`` (names prefixed ``pred_`` if any would overwrite an input column).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ._linear import uncertainty
from .batch import _row_error, output_columns
from .labels import chinese_name


def _resolve(model: Any) -> Any:
    if model is None:
        from . import default_model  # the top layer owns the shipped model

        return default_model()
    return model


def score_frame(
    frame: Any,
    model: Any = None,
    text_column: str = "text",
    threshold: float | None = None,
    n_threads: int | None = None,
) -> Any:
    """``frame`` with the prediction columns added (a new DataFrame, same index and order).

    ``model``: a loaded model or fitted estimator (default: the shipped one, loaded once per
    process, so a Dask or Spark worker loads it itself instead of receiving it). Models also
    pickle if you pass your own. ``threshold``: confidence below which a row is uncertain
    (default: the model's). ``n_threads`` as in ``predict_proba``.
    """
    import pandas as pd

    if text_column not in frame.columns:
        raise KeyError(f"no {text_column!r} column (columns: {list(map(str, frame.columns))})")
    model = _resolve(model)
    predictor = model._predictor()
    labels = [str(label) for label in predictor.classes]
    names = output_columns(labels, [str(column) for column in frame.columns])
    if threshold is None:
        threshold = predictor.threshold
    # pandas' missing markers (NaN, pd.NA, None; Spark's null arrives as one) mean "no text"
    column = frame[text_column]
    values = [None if gone else value for value, gone in zip(column.tolist(), column.isna().tolist())]
    errors = [_row_error({text_column: value}, text_column) for value in values]
    usable = [row for row, error in enumerate(errors) if error is None]
    n = len(values)
    proba = np.full((n, len(labels)), np.nan)
    reasons: list[str] = [""] * n
    if usable:
        scores = predictor.score([values[row] for row in usable], n_threads=n_threads)
        proba[usable] = scores.proba
        for position, row in enumerate(usable):
            reason = uncertainty(scores.reasons[position], float(scores.proba[position].max()), threshold)
            reasons[row] = reason or ""
    scored = np.zeros(n, dtype=bool)
    scored[usable] = True
    best = np.where(scored, np.nan_to_num(proba, nan=-1.0).argmax(axis=1), 0)
    label = np.where(scored, np.asarray(labels, dtype=object)[best], "")
    out = frame.copy()
    out[names["label"]] = pd.Series(label, index=frame.index, dtype=object)
    out[names["label_zh"]] = pd.Series(
        [chinese_name(value) if value else "" for value in label], index=frame.index, dtype=object
    )
    confidence = np.where(scored, np.nan_to_num(proba, nan=-1.0).max(axis=1, initial=-1.0), np.nan)
    out[names["confidence"]] = pd.Series(confidence, index=frame.index)
    uncertain = [bool(reason) if ok else pd.NA for reason, ok in zip(reasons, scored)]
    out[names["uncertain"]] = pd.Series(uncertain, index=frame.index, dtype="boolean")
    out[names["reason"]] = pd.Series(reasons, index=frame.index, dtype=object)
    for column, name in enumerate(labels):
        out[names[f"p_{name}"]] = pd.Series(proba[:, column], index=frame.index)
    out[names["error"]] = pd.Series([error or "" for error in errors], index=frame.index, dtype=object)
    return out


_DDL_TYPES = {"confidence": "double", "uncertain": "boolean"}


def _ddl_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def prediction_schema(input_columns: Iterable[str], model: Any = None) -> str:
    """The columns :func:`score_frame` adds to a frame with ``input_columns``, as a Spark
    DDL string (``"`label` string, ..., `p_prohibited` double, `error` string"``).

    The names and labels are the ones ``score_frame`` will write: they follow the model's
    labels, and take the ``pred_`` prefix when the input already has one of them (a
    labelled archive's gold ``label``), so a hand-written schema cannot drift from them.
    """
    predictor = _resolve(model)._predictor()
    labels = [str(label) for label in predictor.classes]
    names = output_columns(labels, [str(column) for column in input_columns])
    parts = []
    for name, column in names.items():
        kind = "double" if name.startswith("p_") else _DDL_TYPES.get(name, "string")
        parts.append(f"{_ddl_name(column)} {kind}")
    return ", ".join(parts)


def spark_schema(input_schema: Any, model: Any = None) -> str:
    """The output schema of ``mapInPandas(score_frames, ...)`` for a Spark DataFrame's
    ``df.schema``: its own fields, then :func:`prediction_schema`. Needs no Spark import
    here; ``input_schema`` is anything with ``.fields`` of ``.name`` and ``.dataType``."""
    fields = list(input_schema.fields)
    own = [f"{_ddl_name(field.name)} {field.dataType.simpleString()}" for field in fields]
    return ", ".join([*own, prediction_schema([field.name for field in fields], model)])


def score_frames(
    frames: Iterable[Any], model: Any = None, text_column: str = "text", threshold: float | None = None
) -> Iterator[Any]:
    """:func:`score_frame` over an iterator of DataFrames (Spark's ``mapInPandas``)."""
    for frame in frames:
        yield score_frame(frame, model=model, text_column=text_column, threshold=threshold)


__all__ = ["prediction_schema", "score_frame", "score_frames", "spark_schema"]
