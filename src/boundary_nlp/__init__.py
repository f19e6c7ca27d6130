"""boundary-nlp: is a client's request the job, a courtesy favor, or over the line?

``classify``, ``load_model`` and the data helpers import only numpy, joblib and jieba;
``BoundaryClassifier`` (training) imports scikit-learn on first use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .advice import Advice
from .data import CheckReport, DataError, check, load_dataset
from .evaluation import Evaluation, evaluate
from .inputs import DEFAULT_MAX_CHARS
from .labels import LABELS, Label
from .persistence import BoundaryModel, ModelLoadError, ModelVersionWarning, load_model, save_model
from .prediction import Evidence, Prediction

if TYPE_CHECKING:
    from .analysis import Analysis, AskPart, analyze
    from .ledger import DegreeStatus, FavorLedger
    from .model import BoundaryClassifier

__all__ = [
    "DEFAULT_MAX_CHARS",
    "LABELS",
    "Advice",
    "Analysis",
    "AskPart",
    "BoundaryClassifier",
    "BoundaryModel",
    "CheckReport",
    "DataError",
    "DegreeStatus",
    "Evaluation",
    "Evidence",
    "FavorLedger",
    "Label",
    "ModelLoadError",
    "ModelVersionWarning",
    "Prediction",
    "__version__",
    "analyze",
    "check",
    "classify",
    "default_model",
    "evaluate",
    "load_dataset",
    "load_model",
    "save_model",
]

_LAZY = {
    "BoundaryClassifier": "model",
    "analyze": "analysis",
    "Analysis": "analysis",
    "AskPart": "analysis",
    "FavorLedger": "ledger",
    "DegreeStatus": "ledger",
}


def __getattr__(name: str) -> Any:
    # scikit-learn takes seconds to import: load training and extras only when asked for
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'boundary_nlp' has no attribute {name!r}")


_default: BoundaryModel | None = None
_default_lock = threading.Lock()


def default_model() -> BoundaryModel:
    """The shipped model, loaded once per process (thread-safe)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = load_model()
        return _default


def classify(text: str, model: Any = None, threshold: float | None = None) -> Prediction:
    """Classify one message with ``model`` (default: the shipped model).

    Returns a :class:`Prediction` with label, confidence, probabilities, evidence, advice
    and ``uncertain`` (confidence below ``threshold``, default the model's own).
    """
    return (model if model is not None else default_model()).classify(text, threshold=threshold)
