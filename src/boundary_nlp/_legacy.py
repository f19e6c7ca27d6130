"""Reading model files of format 1 (joblib, i.e. pickle), only when the caller trusts them.

Format 1 held a pickled estimator beside the model's arrays. Unpickling can run arbitrary
code, so these files are never read by :func:`boundary_nlp.load_model`; this module converts a
trusted one, once, to the safe format.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

from ._linear import LinearTextModel, analyzer_from_spec
from .errors import ModelLoadError, PickleSecurityWarning


def read_legacy(path: str | Path, trust_pickle: bool = False) -> tuple[LinearTextModel, dict[str, Any]]:
    """Read an old joblib model file (format 1): its predictor and metadata.

    A joblib file is a pickle, and unpickling can run arbitrary code: pass
    ``trust_pickle=True`` only for a file you made yourself or otherwise trust.
    """
    path = Path(path)
    if not trust_pickle:
        raise ModelLoadError(
            path,
            "old joblib model files are pickles, which can run code when loaded; "
            "call load_legacy_model(path, trust_pickle=True) only if you trust the file",
        )
    warnings.warn(
        f"unpickling {path}: pickle can run code; convert it once and keep the new file",
        PickleSecurityWarning,
        stacklevel=2,
    )
    import joblib

    try:
        payload = joblib.load(io.BytesIO(path.read_bytes()))
    except Exception as error:  # unpickling raises almost anything on damaged bytes
        raise ModelLoadError(path, f"not a readable joblib file ({type(error).__name__})") from None
    if (
        not isinstance(payload, dict)
        or payload.get("format") != "boundary-nlp-model"
        or payload.get("format_version") != 1
    ):
        raise ModelLoadError(path, "not a boundary-nlp joblib model (format 1)")
    try:
        predictor = _from_legacy(payload)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(path, f"its arrays are incomplete ({error!r})") from None
    metadata = dict(payload.get("metadata") or {})
    metadata["converted_from"] = {"format_version": 1, "file": path.name}
    return predictor, metadata


def _from_legacy(payload: dict) -> LinearTextModel:
    import numpy as np

    from ._linear import FeatureBlock, Head

    compiled = payload["compiled"]
    settings = payload["settings"]
    ranges = {"word": compiled["word_ngram_range"], "char": compiled["char_ngram_range"]}
    blocks = []
    for block in compiled["blocks"]:
        analyzer = analyzer_from_spec({"kind": block["name"], "ngram_range": ranges[block["name"]]})
        terms = block["terms"].split("\n")
        blocks.append(
            FeatureBlock(
                block["name"], analyzer, terms, np.asarray(block["idf"], dtype=float), int(block["offset"])
            )
        )
    classes = compiled["classes"]
    coef = np.asarray(compiled["coef"], dtype=float)
    userdict = settings.get("userdict", "default")
    if userdict == "default":
        segmenter: dict[str, Any] = {"userdict": "default", "hmm": bool(settings.get("hmm", False))}
    else:
        from .text import read_userdict

        segmenter = {
            "words": [list(p) for p in read_userdict(userdict)],
            "hmm": bool(settings.get("hmm", False)),
        }
    return LinearTextModel(
        classes,
        blocks,
        coef.T,
        np.asarray(compiled["intercept"], dtype=float),
        Head("logistic" if coef.shape[0] == 1 else "softmax"),
        sublinear_tf=bool(compiled["sublinear_tf"]),
        segmenter=segmenter,
        max_chars=settings.get("max_chars"),
        threshold=settings.get("uncertainty_threshold"),
    )
