"""Saving and loading models (joblib files with metadata inside).

Security: a joblib file is a pickle, and loading a pickle can run arbitrary code. Only load
model files you made yourself or otherwise trust.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
import threading
import warnings
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from importlib import resources
from pathlib import Path
from typing import Any

import joblib

from ._version import __version__
from .compiled import CompiledModel
from .data import file_sha256
from .fastseg import FastSegmenter
from .prediction import PredictorMixin
from .text import DEFAULT_USERDICT, JiebaSegmenter

FORMAT = "boundary-nlp-model"
FORMAT_VERSION = 1
DEFAULT_MODEL_NAME = "boundary-default.joblib"
RETRAIN_COMMAND = (
    "boundary-nlp train --train datasets/train.csv --dev datasets/dev.csv "
    "--test datasets/test.csv --out models/boundary-default.joblib"
)


class ModelLoadError(Exception):
    """A model file exists but cannot be used: truncated, corrupt, or not a boundary-nlp model."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot load model {self.path}: {reason}")


class ModelVersionWarning(UserWarning):
    """The model was saved under another scikit-learn version than the one installed."""


def _installed_version(package: str) -> str | None:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return None


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


def save_model(model: Any, path: str | Path, metadata: dict | None = None) -> Path:
    """Write a fitted ``BoundaryClassifier`` to ``path`` atomically.

    The file holds the estimator, its compiled arrays (for fast loading) and ``metadata``
    (library and scikit-learn versions, labels, creation time, plus what the caller adds:
    training-data hash, metrics...). It is written to a temporary file in the same folder
    and renamed over ``path``, so a crash mid-save leaves any previous file intact.
    """
    path = Path(path)
    compiled = model._compiled_model()
    info = {
        "library_version": __version__,
        "sklearn_version": _installed_version("scikit-learn"),
        "labels": [str(c) for c in model.classes_],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "params": {k: _plain(v) for k, v in model.get_params().items()},
    }
    info.update(metadata or {})
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": info,
        "compiled": compiled.to_dict(),
        "settings": {
            "userdict": model.userdict,
            "hmm": False,
            "max_chars": model.max_chars,
            "uncertainty_threshold": model.uncertainty_threshold,
        },
        "estimator": pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as fh:
            joblib.dump(payload, fh, compress=3)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


class BoundaryModel(PredictorMixin):
    """A loaded model: predicts with numpy alone; ``estimator`` gives the scikit-learn object.

    Returned by :func:`load_model`. ``predict``, ``predict_proba`` and ``classify`` equal
    those of the saved ``BoundaryClassifier`` (probabilities within 1e-9).
    """

    def __init__(
        self, compiled: CompiledModel, settings: dict, metadata: dict, estimator_bytes: bytes, path: Path
    ) -> None:
        self.compiled = compiled
        self.metadata = metadata
        self.path = path
        self.max_chars = settings.get("max_chars")
        self.uncertainty_threshold = settings.get("uncertainty_threshold")
        self._estimator_bytes = estimator_bytes
        self._estimator = None
        self._lock = threading.Lock()

    @property
    def classes_(self):
        return self.compiled.classes

    def predict_proba(self, texts, n_jobs: int | None = None) -> Any:
        """Class probabilities, columns in the order of ``classes_``.

        ``n_jobs`` > 1 (or -1 for every core) scores large batches in worker processes
        forked from this one (Linux and macOS); the result is the same as with one process.
        """
        return parallel_predict_proba(self.compiled, self._clip(texts), n_jobs)

    def _compiled_model(self) -> CompiledModel:
        return self.compiled

    @property
    def estimator(self) -> Any:
        """The fitted ``BoundaryClassifier`` (unpickled on first access; imports scikit-learn)."""
        with self._lock:
            if self._estimator is None:
                self._estimator = pickle.loads(self._estimator_bytes)
            return self._estimator

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

    def save(self, path: str | Path, metadata: dict | None = None) -> Path:
        merged = dict(self.metadata)
        merged.update(metadata or {})
        return save_model(self.estimator, path, metadata=merged)

    def __repr__(self) -> str:
        return f"BoundaryModel(path={str(self.path)!r}, classes={list(self.classes_)!r})"


def load_model(path: str | Path | None = None) -> BoundaryModel:
    """Load a model saved by ``BoundaryClassifier.save``; ``None`` loads the shipped default.

    Raises ``FileNotFoundError`` when there is no file, :class:`ModelLoadError` when the file
    is not a usable boundary-nlp model, and warns with :class:`ModelVersionWarning` when it
    was saved under another scikit-learn version. Loading runs pickle: trusted files only.
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
    data = model_path.read_bytes()
    if is_default:
        expected = _expected_default_sha256(model_path)
        actual = hashlib.sha256(data).hexdigest()
        if expected is not None and expected != actual:
            raise ModelLoadError(
                model_path,
                f"sha256 {actual} does not match the shipped {expected}; the file was changed "
                "or damaged, reinstall boundary-nlp",
            )
    payload = _read_payload(model_path, data)
    metadata = payload.get("metadata") or {}
    saved_sklearn = metadata.get("sklearn_version")
    installed = _installed_version("scikit-learn")
    if saved_sklearn and installed and saved_sklearn != installed:
        warnings.warn(
            f"{model_path} was saved with scikit-learn {saved_sklearn}, this is {installed}; "
            f"predictions use the saved arrays, but retrain to be safe: {RETRAIN_COMMAND}",
            ModelVersionWarning,
            stacklevel=2,
        )
    settings = payload["settings"]
    try:
        compiled = CompiledModel.from_dict(payload["compiled"], prediction_segmenter(settings))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise ModelLoadError(model_path, f"its arrays are incomplete ({error!r})") from error
    return BoundaryModel(compiled, settings, metadata, payload["estimator"], model_path)


def prediction_segmenter(settings: dict) -> Any:
    """The fast segmenter where it reproduces the model's (shipped dictionary, no HMM), else jieba."""
    userdict = settings.get("userdict", DEFAULT_USERDICT)
    if userdict == DEFAULT_USERDICT and not settings.get("hmm", False):
        return FastSegmenter()
    return JiebaSegmenter(userdict, hmm=settings.get("hmm", False))


_WORKER_MODEL: CompiledModel | None = None
PARALLEL_MIN_TEXTS = 2000


def _set_worker_model(compiled: CompiledModel) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = compiled


def _worker_proba(texts: list[str]) -> Any:
    return _WORKER_MODEL.predict_proba(texts)


def parallel_predict_proba(compiled: CompiledModel, texts: list[str], n_jobs: int | None) -> Any:
    """Score in ``n_jobs`` forked processes when it pays (a batch of 2,000 texts or more)."""
    workers = (os.cpu_count() or 1) if n_jobs == -1 else (n_jobs or 1)
    if workers <= 1 or len(texts) < PARALLEL_MIN_TEXTS:
        return compiled.predict_proba(texts)
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return compiled.predict_proba(texts)
    import numpy as np

    compiled._term_index()  # build it once here, so the forked workers inherit it
    size = -(-len(texts) // (workers * 4))
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    # fork: the workers inherit the loaded model instead of unpickling a copy
    with multiprocessing.get_context("fork").Pool(
        workers, initializer=_set_worker_model, initargs=(compiled,)
    ) as pool:
        return np.concatenate(pool.map(_worker_proba, chunks))


def _read_payload(model_path: Path, data: bytes) -> dict:
    if not data:
        raise ModelLoadError(model_path, "the file is empty")
    try:
        payload = joblib.load(io.BytesIO(data))
    except Exception as error:  # unpickling raises almost anything on damaged bytes
        raise ModelLoadError(
            model_path,
            f"the file is truncated, corrupt or not a joblib file ({type(error).__name__}); "
            f"retrain or copy it again (the default model: {RETRAIN_COMMAND})",
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        kind = type(payload).__name__
        raise ModelLoadError(
            model_path,
            f"it holds a {kind}, not a boundary-nlp model; save models with "
            "BoundaryClassifier.save() or `boundary-nlp train`",
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelLoadError(
            model_path, f"format version {version!r} is newer than this library reads; upgrade boundary-nlp"
        )
    for key, kind in (("compiled", dict), ("settings", dict), ("metadata", dict), ("estimator", bytes)):
        if not isinstance(payload.get(key), kind):
            raise ModelLoadError(
                model_path, f"the model's {key!r} section is missing or not a {kind.__name__}"
            )
    return payload


def write_sha256(model_path: str | Path) -> Path:
    """Write ``<model>.sha256`` beside a model; the shipped default is checked against it."""
    model_path = Path(model_path)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    sidecar = model_path.with_name(model_path.name + ".sha256")
    sidecar.write_text(f"{digest}  {model_path.name}\n", encoding="ascii")
    return sidecar
