"""boundary-nlp: is a client's request the job, a courtesy favor, or over the line?

``classify``, ``load_model`` and the data helpers import numpy (and jieba only for models
with a custom dictionary); ``BoundaryClassifier`` (training) imports scikit-learn on first
use. This module is the top of the package: only it (and the CLI and the service) resolve
the shipped default model; everything below receives a model.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .advice import Advice
from .errors import (
    BoundaryNLPError,
    DataError,
    LedgerError,
    ModelLoadError,
    ModelVersionWarning,
    PickleSecurityWarning,
)
from .inputs import DEFAULT_MAX_CHARS
from .labels import LABELS, Label
from .persistence import BoundaryModel, load_legacy_model, load_model, save_model
from .prediction import Evidence, Prediction

if TYPE_CHECKING:
    from .analysis import Analysis, AskPart
    from .data import CheckReport, check, load_dataset
    from .evaluation import Evaluation, evaluate
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
    "BoundaryNLPError",
    "CheckReport",
    "DataError",
    "DegreeStatus",
    "Evaluation",
    "Evidence",
    "FavorLedger",
    "Label",
    "LedgerError",
    "ModelLoadError",
    "ModelVersionWarning",
    "PickleSecurityWarning",
    "Prediction",
    "__version__",
    "analyze",
    "check",
    "classify",
    "default_model",
    "evaluate",
    "load_dataset",
    "load_legacy_model",
    "load_model",
    "save_model",
]

_LAZY = {
    "BoundaryClassifier": "model",
    "CheckReport": "data",
    "check": "data",
    "load_dataset": "data",
    "Evaluation": "evaluation",
    "evaluate": "evaluation",
    "Analysis": "analysis",
    "AskPart": "analysis",
    "DegreeStatus": "ledger",
}


def __getattr__(name: str) -> Any:
    # scikit-learn takes seconds to import, and data checks and evaluation are not needed to
    # predict: load them only when asked for (a fresh process predicts sooner)
    if name == "FavorLedger":
        return _favor_ledger_class()
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


def classify(
    text: str | Any, model: Any = None, threshold: float | None = None
) -> Prediction | list[Prediction]:
    """Classify one message (or a list of messages) with ``model`` (default: the shipped model).

    Returns a :class:`Prediction` (a list of them for a list) with label, confidence,
    probabilities, evidence, advice and ``uncertain`` (confidence below ``threshold``,
    default the model's own, or nothing to judge: see ``Prediction.reason``).
    """
    return (model if model is not None else default_model()).classify(text, threshold=threshold)


def analyze(message: str, model: Any = None, threshold: float | None = None) -> Analysis:
    """Split a message into its asks and classify each (default model: the shipped one);
    see :func:`boundary_nlp.analysis.analyze`."""
    from .analysis import analyze as analyze_with

    return analyze_with(message, model if model is not None else default_model(), threshold)


_ledger_class: type | None = None


def _favor_ledger_class() -> type:
    """``FavorLedger`` whose model defaults to the shipped one (resolved here, at the top)."""
    global _ledger_class
    if _ledger_class is None:
        from .ledger import FavorLedger as Base

        class FavorLedger(Base):
            __doc__ = Base.__doc__

            def record(self, client: str, text: str, when: Any = None) -> Any:
                if self.model is None:
                    self.model = default_model()
                return super().record(client, text, when)

        FavorLedger.__module__ = __name__
        _ledger_class = FavorLedger
    return _ledger_class
