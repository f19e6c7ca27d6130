"""Saving and loading models: one safe file (see ``_modelfile``), never a pickle on load.

``load_model`` reads only files this library wrote: a zip of a JSON manifest and ``.npy``
arrays whose sha256 sums are checked before use. Old joblib model files are pickles, which
can run code when loaded; they are read only by :func:`load_legacy_model` with
``trust_pickle=True`` (or ``boundary-nlp convert-model ... --trust-pickle``), once, to
convert them.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from ._files import file_sha256, write_bytes
from ._legacy import read_legacy
from ._linear import LinearTextModel
from ._modelfile import model_file_bytes, read_model_file
from ._version import __version__
from .errors import ModelLoadError, ModelVersionWarning
from .prediction import PredictorViews

DEFAULT_MODEL_NAME = "boundary-default.bnlp"
MODEL_SUFFIX = ".bnlp"
RETRAIN_COMMAND = (
    "boundary-nlp train --train datasets/train.csv --dev datasets/dev.csv --out models/boundary-default.bnlp"
)

__all__ = [
    "BoundaryModel",
    "ModelLoadError",
    "ModelVersionWarning",
    "default_model_path",
    "export_estimator",
    "load_legacy_model",
    "load_model",
    "save_model",
]


def default_model_path() -> Path:
    """The shipped model: inside the installed package, or ``models/`` of a source checkout."""
    packaged = Path(str(resources.files("boundary_nlp").joinpath("resources", DEFAULT_MODEL_NAME)))
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "models" / DEFAULT_MODEL_NAME


def _expected_default_sha256(model_path: Path) -> str | None:
    sidecar = model_path.with_name(model_path.name + ".sha256")
    if not sidecar.is_file():
        return None
    return sidecar.read_text(encoding="ascii").split()[0]


class BoundaryModel(PredictorViews):
    """A loaded (or freshly trained) model: the predictor with its metadata and model card.

    Returned by :func:`load_model`. ``predict``, ``predict_proba`` and ``classify`` go
    through the same :class:`~boundary_nlp._linear.LinearTextModel` as the
    ``BoundaryClassifier`` that was saved, so they give the same numbers. Pickles (for
    process pools, Dask, Spark) and is safe to share across threads.
    """

    def __init__(
        self,
        predictor: LinearTextModel,
        metadata: dict[str, Any] | None = None,
        path: Path | None = None,
        card: str | None = None,
    ) -> None:
        self.predictor = predictor
        self.metadata = dict(metadata or {})
        self.path = path
        self.card = card

    def _predictor(self) -> LinearTextModel:
        return self.predictor

    @property
    def classes_(self) -> Any:
        return self.predictor.classes

    @property
    def max_chars(self) -> int | None:
        return self.predictor.max_chars

    @property
    def uncertainty_threshold(self) -> float | None:
        return self.predictor.threshold

    def with_label_shares(self, shares: dict[str, float] | None) -> BoundaryModel:
        """A copy whose probabilities are adjusted to the label shares of a deployment.

        The model learned its probabilities under its training prior (uniform with balanced
        class weights); where, say, 80% of messages are in scope, pass
        ``{"in_scope": 0.8, "courtesy": 0.1, "prohibited": 0.1}`` and each probability is
        multiplied by the ratio of the new share to the old, then renormalized (Saerens et
        al., 2002). ``None`` removes an adjustment.
        """
        return BoundaryModel(self.predictor.with_label_shares(shares), self.metadata, self.path, self.card)

    @property
    def label_weights(self) -> dict[str, float] | None:
        """The decision's weight per label (``None``: none), see :meth:`with_label_weights`."""
        return self.predictor.label_weights

    def with_label_weights(self, weights: dict[str, float] | None) -> BoundaryModel:
        """A copy whose decision weighs each label's probability by ``weights`` (labels not
        named weigh 1), then renormalizes, for messages and the asks of rule 2. The shipped
        model weighs ``prohibited`` by the smallest weight whose out-of-fold recall reached
        ``training.RECALL_FLOOR``; ``None`` removes the weights."""
        return BoundaryModel(self.predictor.with_label_weights(weights), self.metadata, self.path, self.card)

    def trained_on(self, paths: dict[str, str | Path] | str | Path) -> bool:
        """Whether the data files now hold the bytes this model was trained on (by sha256).

        ``paths`` maps split names to files, e.g. ``{"train": ..., "dev": ...}``: True when
        every one matches the hash in ``metadata["training_data_sha256"]`` (a split the model
        has no hash for is a mismatch). A folder stands for ``{split}.csv`` of every split the
        metadata records. False when the metadata records no hashes; a missing file raises
        ``FileNotFoundError``.
        """
        recorded = self.metadata.get("training_data_sha256") or {}
        if isinstance(paths, dict):
            if not paths:
                raise ValueError("no data files given: pass {split: path} or a folder")
            files = {str(split): Path(path) for split, path in paths.items()}
        else:
            folder = Path(paths)
            if not folder.exists():
                raise FileNotFoundError(f"no data folder at {folder}")
            if not folder.is_dir():
                raise ValueError(
                    f"{folder} is a file: pass a folder of {{split}}.csv files, or {{split: path}}"
                )
            files = {split: folder / f"{split}.csv" for split in recorded}
        if not recorded or not files:
            return False
        for path in files.values():
            if not path.is_file():
                raise FileNotFoundError(f"no data file at {path}")
        return all(recorded.get(split) == file_sha256(path) for split, path in files.items())

    def save(self, path: str | Path, metadata: dict | None = None, card: str | None = None) -> Path:
        """Write this model (metadata merged with ``metadata``) to ``path``; see :func:`save_model`."""
        merged = dict(self.metadata)
        merged.update(metadata or {})
        return _write(self.predictor, path, merged, card if card is not None else self.card)

    def __repr__(self) -> str:
        return f"BoundaryModel(path={str(self.path)!r}, classes={list(self.classes_)!r})"


def _write(predictor: LinearTextModel, path: str | Path, metadata: dict, card: str | None) -> Path:
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder: give a file name such as {path / ('model' + MODEL_SUFFIX)}"
        )
    data = model_file_bytes(predictor, metadata, card)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data)
    if card is not None:
        write_bytes(path.with_suffix(".md"), card.encode("utf-8"))
    return path


def save_model(model: Any, path: str | Path, metadata: dict | None = None, card: str | None = None) -> Path:
    """Write a fitted ``BoundaryClassifier`` (or a loaded model) to ``path`` atomically.

    The file is a zip holding a JSON manifest (format version, feature and head specs, the
    user dictionary's words, labels, threshold, ``metadata``, the sha256 of every member),
    ``.npy`` arrays and the model card ``card`` (also written beside it as ``.md``). It is
    written to a temporary file in the same folder and renamed over ``path``, so a crash
    mid-save leaves any previous file intact.
    """
    if isinstance(model, BoundaryModel):
        return model.save(path, metadata=metadata, card=card)
    predictor = model._predictor()
    info = {
        "library_version": __version__,
        "labels": [str(c) for c in predictor.classes],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "params": {k: _plain(v) for k, v in model.get_params().items()},
    }
    info.update(metadata or {})
    return _write(predictor, path, info, card)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return repr(value)


def load_model(path: str | Path | None = None, label_shares: dict[str, float] | None = None) -> BoundaryModel:
    """Load a model file written by this library; ``None`` loads the shipped default.

    ``label_shares`` adjusts probabilities to a deployment's label shares (see
    :meth:`BoundaryModel.with_label_shares`). Raises ``FileNotFoundError`` when there is no
    file and :class:`ModelLoadError` when the file is not a usable boundary-nlp model
    (truncated, corrupt, tampered with, foreign, or an old pickle-based file). Nothing in
    the file is executed.
    """
    is_default = path is None
    model_path = default_model_path() if is_default else Path(path)
    if not model_path.exists():
        hint = (
            "the package was installed without its default model; reinstall boundary-nlp"
            if is_default
            else "check the path, or call load_model() with no argument for the shipped model"
        )
        raise FileNotFoundError(f"no model file at {model_path}: {hint}")
    if model_path.is_dir():
        raise ModelLoadError(model_path, "is a directory, not a model file")
    try:
        data = model_path.read_bytes()
    except OSError as error:
        raise ModelLoadError(model_path, f"cannot read it ({error.strerror or error})") from None
    if is_default:
        expected = _expected_default_sha256(model_path)
        actual = hashlib.sha256(data).hexdigest()
        if expected is not None and expected != actual:
            raise ModelLoadError(
                model_path,
                f"sha256 {actual} does not match the shipped {expected}; the file was changed "
                "or damaged, reinstall boundary-nlp",
            )
    predictor, metadata, card = read_model_file(model_path, data)
    saved = metadata.get("library_version")
    if saved and _major_minor(saved) != _major_minor(__version__):
        warnings.warn(
            f"{model_path} was saved by boundary-nlp {saved}, this is {__version__}; "
            f"predictions use the saved arrays, but retrain to be safe: {RETRAIN_COMMAND}",
            ModelVersionWarning,
            stacklevel=2,
        )
    model = BoundaryModel(predictor, metadata, model_path, card)
    return model.with_label_shares(label_shares) if label_shares else model


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def load_legacy_model(path: str | Path, trust_pickle: bool = False) -> BoundaryModel:
    """Read an old joblib model file (format 1) as a model of the safe format.

    A joblib file is a pickle, and unpickling can run arbitrary code: pass
    ``trust_pickle=True`` only for a file you made yourself or otherwise trust. Save the
    result with :meth:`BoundaryModel.save` and use the new file from then on.
    """
    predictor, metadata = read_legacy(path, trust_pickle)
    return BoundaryModel(predictor, metadata, Path(path))


def export_estimator(estimator: Any, path: str | Path) -> Path:
    """Opt-in: write the fitted scikit-learn pipeline of a ``BoundaryClassifier`` with joblib,
    for people who want to continue in scikit-learn. That file is a pickle: it is never read
    by :func:`load_model`, and only trusted files should be loaded with ``joblib.load``."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump(estimator.pipeline_, buffer, compress=3)
    return write_bytes(path, buffer.getvalue())


def write_sha256(model_path: str | Path) -> Path:
    """Write ``<model>.sha256`` beside a model; the shipped default is checked against it."""
    model_path = Path(model_path)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    sidecar = model_path.with_name(model_path.name + ".sha256")
    write_bytes(sidecar, f"{digest}  {model_path.name}\n".encode("ascii"))
    return sidecar
