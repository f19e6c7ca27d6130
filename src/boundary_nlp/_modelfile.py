"""The model file: a zip of a JSON manifest, ``.npy`` arrays and text, never a pickle.

Layout::

    manifest.json          format, version, specs, settings, metadata, sha256 of every member
    coef.npy, intercept.npy, blocks/<i>/idf.npy     float64 arrays (read with allow_pickle=False)
    blocks/<i>/terms.txt   the block's terms in column order, UTF-8, one per line
    MODEL_CARD.md          the model card

Reading checks the manifest, the member list, every member's size and sha256, dtypes and
shapes before building anything, and raises :class:`ModelLoadError` for whatever is wrong:
nothing in a model file is ever executed.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._linear import FeatureBlock, Head, LinearTextModel
from ._version import __version__
from .errors import ModelLoadError
from .features import analyzer_from_spec

FORMAT = "boundary-nlp-model"
FORMAT_VERSION = 5
# version 3 added the analyzers' "vocative" reading, version 4 their "closing" reading,
# version 5 the decision's label weights; a file is written with the lowest version that
# reads it right (2 without any, 3 with the vocative only, 4 without weights), so older
# libraries still load it and refuse a file they would misread
_WITH_CLOSING = 4
_WITH_VOCATIVE = 3
_WITHOUT_VOCATIVE = 2

MANIFEST = "manifest.json"
CARD = "MODEL_CARD.md"
MAX_MEMBER_BYTES = 1 << 30  # refuse to inflate any member beyond 1 GiB
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # same bytes for the same model


def _format_version(model: LinearTextModel) -> int:
    if getattr(model, "label_weights", None):
        return FORMAT_VERSION
    if getattr(model, "closing", False):
        return _WITH_CLOSING
    return _WITH_VOCATIVE if getattr(model, "vocative", False) else _WITHOUT_VOCATIVE


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float64), allow_pickle=False)
    return buffer.getvalue()


def model_file_bytes(model: LinearTextModel, metadata: dict[str, Any], card: str | None = None) -> bytes:
    """The bytes of a model file for ``model`` (see the module docstring)."""
    members: dict[str, bytes] = {"coef.npy": _npy(model.coef), "intercept.npy": _npy(model.intercept)}
    blocks = []
    for i, block in enumerate(model.blocks):
        members[f"blocks/{i}/terms.txt"] = block.joined.encode("utf-8")  # no term holds a line break
        members[f"blocks/{i}/idf.npy"] = _npy(block.idf)
        blocks.append({"name": block.name, "analyzer": block.analyzer.to_spec(), "size": len(block)})
    if card is not None:
        members[CARD] = card.encode("utf-8")
    manifest = {
        "format": FORMAT,
        "format_version": _format_version(model),
        "library_version": __version__,
        "classes": [str(c) for c in model.classes],
        "blocks": blocks,
        "head": model.head.to_spec(),
        "sublinear_tf": bool(model.sublinear_tf),
        "segmenter": model.segmenter_spec,
        "max_chars": model.max_chars,
        "threshold": model.threshold,
        "base_rates": model.base_rates,
        "escalation": model.escalation,
        **({"label_weights": model.label_weights} if getattr(model, "label_weights", None) else {}),
        "metadata": metadata,
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in members.items()
        },
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [
            (MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")),
            *members.items(),
        ]:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            # arrays are stored as they are (they barely compress, and a cold start reads them
            # straight); text is deflated
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".npy") else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=6)
    return buffer.getvalue()


def _fail(path: Path, reason: str) -> ModelLoadError:
    return ModelLoadError(path, reason)


def _legacy_hint(data: bytes) -> str:
    looks_pickled = data[:1] == b"\x80" or data[:2] in (b"x\x9c", b"x\xda", b"x^", b"x\x01")
    if looks_pickled:
        return (
            "it looks like an old joblib/pickle model, which is not loaded automatically because "
            "unpickling can run code; if you trust it, convert it once: "
            "`boundary-nlp convert-model OLD NEW --trust-pickle`"
        )
    return (
        "it is not a boundary-nlp model file "
        "(save models with BoundaryClassifier.save() or `boundary-nlp train`)"
    )


def read_model_file(path: Path, data: bytes) -> tuple[LinearTextModel, dict[str, Any], str | None]:
    """(predictor, metadata, model card) from a model file's bytes; ``ModelLoadError`` if unusable."""
    if not data:
        raise _fail(path, "the file is empty")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _fail(path, _legacy_hint(data)) from None
    with archive:
        try:
            infos = {info.filename: info for info in archive.infolist()}
            if MANIFEST not in infos or infos[MANIFEST].file_size > MAX_MEMBER_BYTES:
                raise _fail(path, "it has no manifest.json: " + _legacy_hint(data))
            manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
        except ModelLoadError:
            raise
        except (zipfile.BadZipFile, UnicodeDecodeError, ValueError, OSError, EOFError) as error:
            raise _fail(
                path, f"the file is truncated or corrupt ({type(error).__name__}); copy it again"
            ) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _fail(path, _legacy_hint(data))
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise _fail(
                path, f"format version {version!r} is newer than this library reads; upgrade boundary-nlp"
            )
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise _fail(path, "the manifest lists no files")
        extra = set(infos) - set(files) - {MANIFEST}
        missing = set(files) - set(infos)
        if extra or missing:
            raise _fail(
                path,
                f"members differ from the manifest (missing {sorted(missing)}, unexpected {sorted(extra)})",
            )
        members: dict[str, bytes] = {}
        for name, expected in files.items():
            if not isinstance(expected, dict) or infos[name].file_size != expected.get("size"):
                raise _fail(path, f"{name} has the wrong size: the file was changed or damaged")
            if infos[name].file_size > MAX_MEMBER_BYTES:
                raise _fail(path, f"{name} is larger than {MAX_MEMBER_BYTES} bytes")
            try:
                content = archive.read(name)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
                raise _fail(
                    path, f"cannot read {name} ({type(error).__name__}): the file is corrupt"
                ) from None
            if hashlib.sha256(content).hexdigest() != expected.get("sha256"):
                raise _fail(
                    path, f"{name} does not match its sha256 in the manifest: the file was changed or damaged"
                )
            members[name] = content
    try:
        model = _build(manifest, members)
    except ModelLoadError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise _fail(path, f"its contents are inconsistent ({type(error).__name__}: {error})") from None
    metadata = manifest.get("metadata") or {}
    card = members[CARD].decode("utf-8") if CARD in members else None
    return model, metadata, card


def _array(members: dict[str, bytes], name: str, ndim: int) -> np.ndarray:
    array = np.load(io.BytesIO(members[name]), allow_pickle=False)
    if array.dtype != np.float64 or array.ndim != ndim or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be a finite float64 array of {ndim} dimension(s)")
    return array


def _build(manifest: dict[str, Any], members: dict[str, bytes]) -> LinearTextModel:
    blocks = []
    offset = 0
    for i, spec in enumerate(manifest["blocks"]):
        terms = members[f"blocks/{i}/terms.txt"].decode("utf-8")
        size = terms.count("\n") + 1 if terms else 0
        if size != spec["size"]:
            raise ValueError(f"block {i} lists {size} terms, the manifest says {spec['size']}")
        idf = _array(members, f"blocks/{i}/idf.npy", 1)
        blocks.append(
            FeatureBlock(str(spec["name"]), analyzer_from_spec(spec["analyzer"]), terms, idf, offset)
        )
        offset += size
    segmenter = manifest["segmenter"]
    if not isinstance(segmenter, dict):
        raise TypeError("segmenter must be an object")
    max_chars = manifest.get("max_chars")
    threshold = manifest.get("threshold")
    base_rates = manifest.get("base_rates")
    weights = manifest.get("label_weights")
    if weights is not None and not isinstance(weights, dict):
        raise TypeError("label_weights must be an object")
    return LinearTextModel(
        [str(c) for c in manifest["classes"]],
        blocks,
        _array(members, "coef.npy", 2),
        _array(members, "intercept.npy", 1),
        Head.from_spec(manifest["head"]),
        sublinear_tf=bool(manifest["sublinear_tf"]),
        segmenter=segmenter,
        max_chars=None if max_chars is None else int(max_chars),
        threshold=None if threshold is None else float(threshold),
        base_rates=None if base_rates is None else {str(k): float(v) for k, v in base_rates.items()},
        escalation=manifest.get("escalation"),
        label_weights=None if weights is None else {str(k): float(v) for k, v in weights.items()},
    )
