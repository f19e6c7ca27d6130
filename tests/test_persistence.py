from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from boundary_nlp import (
    LABELS,
    ModelLoadError,
    ModelVersionWarning,
    _files,
    load_model,
    persistence,
    save_model,
)
from boundary_nlp.training import file_sha256

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"


def assert_load_error_names_path(path: Path) -> ModelLoadError:
    with pytest.raises(ModelLoadError) as info:
        load_model(path)
    error = info.value
    assert str(path) in str(error)
    assert error.path == str(path)
    return error


# --- files that are not models -------------------------------------------------------


def test_missing_file_raises_file_not_found_with_a_hint(tmp_path):
    missing = tmp_path / "nope.bnlp"
    with pytest.raises(FileNotFoundError) as info:
        load_model(missing)
    message = str(info.value)
    assert str(missing) in message
    assert "check the path" in message or "load_model()" in message


def test_empty_file_raises_model_load_error(tmp_path):
    path = tmp_path / "empty.bnlp"
    path.write_bytes(b"")
    error = assert_load_error_names_path(path)
    assert "empty" in str(error)


def test_truncated_model_file_raises_model_load_error(tmp_path, saved_small_model_path):
    data = saved_small_model_path.read_bytes()
    path = tmp_path / "half.bnlp"
    path.write_bytes(data[: len(data) // 2])
    error = assert_load_error_names_path(path)
    assert "truncated" in str(error)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes_raise_model_load_error(tmp_path, seed):
    path = tmp_path / f"random-{seed}.bnlp"
    path.write_bytes(np.random.default_rng(seed).bytes(4096))
    assert_load_error_names_path(path)


def _rewrite_member(source: Path, target: Path, name: str, change) -> Path:
    """Copy a model file, replacing one member's bytes by ``change(bytes)``."""
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    members[name] = change(members[name])
    with zipfile.ZipFile(target, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return target


def _manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


class _Boom:
    """Unpickling this runs ``open(MARKER, "w")``: the proof that a pickle executed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["pickle", "joblib"])
def test_crafted_pickle_payload_does_not_execute_and_raises_model_load_error(tmp_path, writer):
    marker = tmp_path / "executed"
    path = tmp_path / "innocent.bnlp"
    if writer == "pickle":
        path.write_bytes(pickle.dumps(_Boom(str(marker))))
    else:
        joblib.dump({"format": persistence_format(), "format_version": 1, "x": _Boom(str(marker))}, path)
    error = assert_load_error_names_path(path)
    assert not marker.exists(), "loading the file ran the pickle"
    assert "--trust-pickle" in str(error)


def test_crafted_pickle_payload_via_the_cli_exits_2_and_does_not_execute(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "model.bnlp"
    path.write_bytes(pickle.dumps(_Boom(str(marker))))
    result = subprocess.run(
        [sys.executable, "-m", "boundary_nlp.cli", "predict", "--model", str(path), "周报呢？"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert not marker.exists()
    assert "cannot load model" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def persistence_format() -> str:
    from boundary_nlp._modelfile import FORMAT

    return FORMAT


def test_legacy_joblib_model_needs_trust_and_then_converts(tmp_path, small_model):
    """A format-1 file (estimator pickle + compiled arrays) loads only with trust_pickle=True."""
    from boundary_nlp import PickleSecurityWarning, load_legacy_model

    predictor = small_model.model_
    blocks = [
        {"name": b.name, "terms": "\n".join(b.terms), "idf": b.idf, "offset": b.offset}
        for b in predictor.blocks
    ]
    legacy = {
        "format": "boundary-nlp-model",
        "format_version": 1,
        "metadata": {"note": "old"},
        "compiled": {
            "classes": list(predictor.classes),
            "blocks": blocks,
            "coef": predictor.coef.T,
            "intercept": predictor.intercept,
            "word_ngram_range": [1, 2],
            "char_ngram_range": [1, 3],
            "sublinear_tf": True,
        },
        "settings": {"userdict": "default", "hmm": False, "max_chars": 5000, "uncertainty_threshold": None},
        "estimator": b"",
    }
    old = tmp_path / "old.bnlp"
    joblib.dump(legacy, old, compress=3)
    with pytest.raises(ModelLoadError, match="trust_pickle"):
        load_legacy_model(old)
    with pytest.warns(PickleSecurityWarning):
        converted = load_legacy_model(old, trust_pickle=True)
    texts = ["帮我取快递", "麻烦把验收报告的日期改成上个月的", "周报呢？"]
    assert np.array_equal(converted.predict_proba(texts), small_model.predict_proba(texts))
    refused = subprocess.run(
        [sys.executable, "-m", "boundary_nlp.cli", "convert-model", str(old), str(tmp_path / "new.bnlp")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "--trust-pickle" in refused.stderr
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "boundary_nlp.cli",
            "convert-model",
            str(old),
            str(tmp_path / "new.bnlp"),
            "--trust-pickle",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert np.array_equal(
        load_model(tmp_path / "new.bnlp").predict_proba(texts), small_model.predict_proba(texts)
    )


def test_flipped_byte_in_an_array_is_refused(tmp_path, saved_small_model_path):
    def flip(data: bytes) -> bytes:
        changed = bytearray(data)
        changed[-3] ^= 0x10
        return bytes(changed)

    path = _rewrite_member(saved_small_model_path, tmp_path / "flipped.bnlp", "coef.npy", flip)
    error = assert_load_error_names_path(path)
    assert "sha256" in str(error) and "coef.npy" in str(error)


def test_tampered_manifest_and_consistent_hash_is_still_checked_for_shapes(tmp_path, saved_small_model_path):
    """An attacker who also fixes the hash cannot make the loader build inconsistent arrays."""

    def shrink(data: bytes) -> bytes:
        return _npy_bytes(np.zeros((3, 3)))

    path = _rewrite_member(saved_small_model_path, tmp_path / "shapes.bnlp", "coef.npy", shrink)
    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["coef.npy"] = {
        "sha256": hashlib.sha256(members["coef.npy"]).hexdigest(),
        "size": len(members["coef.npy"]),
    }
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    error = assert_load_error_names_path(path)
    assert "coef" in str(error)


def test_object_array_member_is_refused_without_unpickling(tmp_path, saved_small_model_path):
    def to_objects(data: bytes) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, np.array([_Boom(str(tmp_path / "executed"))], dtype=object), allow_pickle=True)
        return buffer.getvalue()

    path = _rewrite_member(saved_small_model_path, tmp_path / "objects.bnlp", "intercept.npy", to_objects)
    assert_load_error_names_path(path)
    assert not (tmp_path / "executed").exists()


def test_unexpected_member_is_refused(tmp_path, saved_small_model_path):
    path = tmp_path / "extra.bnlp"
    shutil.copyfile(saved_small_model_path, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("payload.pkl", b"\x80\x04K\x01.")
    error = assert_load_error_names_path(path)
    assert "payload.pkl" in str(error)


def test_foreign_zip_is_refused(tmp_path):
    path = tmp_path / "foreign.bnlp"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": "something-else"}))
    error = assert_load_error_names_path(path)
    assert "not a boundary-nlp model" in str(error)


def test_newer_format_version_raises_model_load_error(tmp_path, saved_small_model_path):
    def future(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["format_version"] = 99
        return json.dumps(manifest).encode()

    path = _rewrite_member(saved_small_model_path, tmp_path / "future.bnlp", "manifest.json", future)
    error = assert_load_error_names_path(path)
    assert "upgrade" in str(error)


def test_model_file_holds_no_pickle_and_the_model_card(tmp_path, small_model):
    path = save_model(small_model, tmp_path / "m.bnlp", card="# card\nhello")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        for name in names:
            if name.endswith(".npy"):
                np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
    assert "MODEL_CARD.md" in names and "manifest.json" in names
    assert load_model(path).card == "# card\nhello"
    assert (tmp_path / "m.md").read_text(encoding="utf-8") == "# card\nhello"


def test_model_with_a_custom_dictionary_predicts_the_same_alone_in_another_folder(
    tmp_path, small_training_set
):
    from boundary_nlp.model import BoundaryClassifier

    userdict = tmp_path / "dict" / "words.txt"
    userdict.parent.mkdir()
    userdict.write_text("验收报告 50000\n考勤记录 50000\n", encoding="utf-8")
    texts, labels = small_training_set
    model = BoundaryClassifier(userdict=str(userdict)).fit(texts, labels)
    saved = save_model(model, tmp_path / "custom.bnlp")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = Path(shutil.move(str(saved), elsewhere / "custom.bnlp"))
    shutil.rmtree(userdict.parent)
    probe = ["麻烦把验收报告的日期改成上个月的", "考勤记录导一份给我", "帮我取快递"]
    loaded = load_model(moved)
    assert np.array_equal(loaded.predict_proba(probe), model.predict_proba(probe))
    assert [p.label for p in loaded.classify(probe)] == list(model.predict(probe))


def test_loaded_model_pickles_and_predicts_the_same(saved_small_model_path):
    model = load_model(saved_small_model_path)
    texts = ["帮我取快递", "麻烦把验收报告的日期改成上个月的"]
    model.classify(texts)  # lazily built state exists before pickling
    clone_ = pickle.loads(pickle.dumps(model))
    assert np.array_equal(clone_.predict_proba(texts), model.predict_proba(texts))
    assert [p.to_dict() for p in clone_.classify(texts)] == [p.to_dict() for p in model.classify(texts)]


def test_default_model_pickles_and_predicts_the_same(default_model):
    texts = ["帮我取快递", "周报呢？"]
    assert np.array_equal(
        pickle.loads(pickle.dumps(default_model)).predict_proba(texts), default_model.predict_proba(texts)
    )


def test_label_shares_shift_probabilities_toward_the_deployment_prior(saved_small_model_path):
    base = load_model(saved_small_model_path)
    shifted = load_model(
        saved_small_model_path, label_shares={"in_scope": 0.8, "courtesy": 0.1, "prohibited": 0.1}
    )
    texts = ["这个报表能不能加一列", "帮我取快递", "考勤记录改一下"]
    p0 = base.predict_proba(texts)
    p1 = shifted.predict_proba(texts)
    column = list(base.classes_).index("in_scope")
    assert np.all(p1[:, column] > p0[:, column])
    np.testing.assert_allclose(p1.sum(axis=1), 1.0)
    expected = p0 * np.array([0.1, 0.8, 0.1]) / (1 / 3)
    np.testing.assert_allclose(p1, expected / expected.sum(axis=1, keepdims=True), rtol=1e-12)
    with pytest.raises(ValueError, match="labels"):
        base.with_label_shares({"in_scope": 1.0})


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def test_directory_raises_model_load_error(tmp_path):
    folder = tmp_path / "a-folder.bnlp"
    folder.mkdir()
    assert_load_error_names_path(folder)


def test_any_truncation_raises_model_load_error(tmp_path, saved_small_model_path):
    data = saved_small_model_path.read_bytes()
    for index, cut in enumerate(
        [1, 7, 100, len(data) // 3, 2 * len(data) // 3, len(data) - 200, len(data) - 1]
    ):
        path = tmp_path / f"cut-{index}.bnlp"
        path.write_bytes(data[:cut])
        with pytest.raises(ModelLoadError):
            load_model(path)


# --- versions, metadata --------------------------------------------------------------


def test_other_library_version_warns_with_the_retrain_command(tmp_path, small_model):
    path = save_model(small_model, tmp_path / "old.bnlp", metadata={"library_version": "0.0.1"})
    with pytest.warns(ModelVersionWarning, match="boundary-nlp train") as record:
        model = load_model(path)
    assert "0.0.1" in str(record[0].message)
    assert model.predict(["帮我取快递"])[0] in LABELS


def test_same_library_version_does_not_warn(saved_small_model_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelVersionWarning)
        load_model(saved_small_model_path)


def test_saved_model_metadata_has_versions_labels_and_creation_time(saved_small_model_path):

    from boundary_nlp import __version__

    metadata = load_model(saved_small_model_path).metadata
    assert metadata["library_version"] == __version__

    assert metadata["labels"] == sorted(LABELS)
    assert isinstance(metadata["created"], str) and metadata["created"][:2] == "20"
    assert metadata["params"]["C"] == 10


def test_caller_metadata_is_stored(tmp_path, small_model):
    path = save_model(small_model, tmp_path / "m.bnlp", metadata={"note": "hello", "run": 3})
    metadata = load_model(path).metadata
    assert metadata["note"] == "hello" and metadata["run"] == 3


def test_default_model_metadata_has_training_provenance_and_metrics(default_model):
    metadata = default_model.metadata
    for key in ("library_version", "labels", "created"):
        assert metadata.get(key), key
    assert metadata["labels"] == sorted(LABELS)
    assert set(metadata["training_data_sha256"]) >= {"train", "dev", "test"}
    for split in ("cv_metrics", "test_metrics"):
        metrics = metadata[split]
        assert 0.0 <= metrics["macro_f1"] <= 1.0
        assert set(metrics["f1"]) == set(LABELS)


def test_default_model_was_trained_on_the_current_datasets(default_model):
    hashes = default_model.metadata["training_data_sha256"]
    for split in ("train", "dev", "test"):
        assert hashes[split] == file_sha256(DATASETS / f"{split}.csv"), f"{split}.csv changed: retrain"


# --- atomic save ---------------------------------------------------------------------


def test_failed_save_leaves_the_old_file_intact_and_no_temporary_file(tmp_path, small_model, monkeypatch):
    path = tmp_path / "model.bnlp"
    save_model(small_model, path)
    original = path.read_bytes()

    real_fsync = os.fsync

    def exploding_fsync(fd):
        real_fsync(fd)  # the temporary file holds the new bytes when the disk "fills"
        raise OSError("disk full")

    monkeypatch.setattr(_files.os, "fsync", exploding_fsync)
    with pytest.raises(OSError, match="disk full"):
        save_model(small_model, path)
    monkeypatch.undo()

    assert path.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["model.bnlp"]
    load_model(path)


def test_save_creates_missing_folders_and_overwrites(tmp_path, small_model):
    path = tmp_path / "a" / "b" / "model.bnlp"
    save_model(small_model, path)
    save_model(small_model, path)
    assert sorted(os.listdir(path.parent)) == ["model.bnlp"]
    assert load_model(path).predict(["帮我取快递"])[0] in LABELS


def test_loaded_model_can_be_saved_again(tmp_path, saved_small_model_path):
    first = load_model(saved_small_model_path)
    second = load_model(first.save(tmp_path / "again.bnlp", metadata={"note": "resaved"}))
    texts = ["帮我取快递", "麻烦把验收报告的日期改成上个月的"]
    assert np.array_equal(first.predict_proba(texts), second.predict_proba(texts))
    assert second.metadata["note"] == "resaved"


# --- the shipped model's checksum ----------------------------------------------------


@pytest.fixture
def default_copy(tmp_path, monkeypatch) -> Path:
    source = persistence.default_model_path()
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    shutil.copyfile(source.with_name(source.name + ".sha256"), target.with_name(target.name + ".sha256"))
    monkeypatch.setattr(persistence, "default_model_path", lambda: target)
    return target


def test_default_model_sidecar_matches_the_shipped_file():
    path = persistence.default_model_path()
    sidecar = path.with_name(path.name + ".sha256")
    assert sidecar.is_file()
    assert sidecar.read_text(encoding="ascii").split()[0] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_intact_copy_of_the_default_model_loads(default_copy):
    assert load_model().path == default_copy


def test_flipped_byte_in_the_default_model_fails_the_sha256_check(default_copy):
    data = bytearray(default_copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    default_copy.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="sha256") as info:
        load_model()
    assert str(default_copy) in str(info.value)


def test_missing_default_model_raises_file_not_found_with_reinstall_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(persistence, "default_model_path", lambda: tmp_path / "gone.bnlp")
    with pytest.raises(FileNotFoundError, match="reinstall"):
        load_model()


def test_loading_and_predicting_never_unpickles_nor_imports_sklearn_or_joblib():
    """numpy imports the pickle module itself; here every way to unpickle is made to fail."""
    code = (
        "import pickle, sys\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('pickle used on the load path')\n"
        "pickle.load = pickle.loads = refuse\n"
        "pickle.Unpickler = refuse\n"
        "import boundary_nlp\n"
        "model = boundary_nlp.load_model()\n"
        "print(model.predict(['周报呢？'])[0], boundary_nlp.classify('帮我取个快递').label)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'joblib', 'scipy'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()
    assert first.split()[0] in LABELS
    assert second == "[]"


def test_label_weights_weigh_the_decision_and_survive_the_model_file(small_model, tmp_path):
    from boundary_nlp import save_model

    texts = ["这个报表能不能加一列", "帮我取快递", "考勤记录改一下"]
    p0 = small_model.predict_proba(texts)
    weighed = small_model.model_.with_label_weights({"prohibited": 1.5})
    column = list(small_model.classes_).index("prohibited")
    factor = np.ones(len(small_model.classes_))
    factor[column] = 1.5
    expected = p0 * factor
    np.testing.assert_allclose(
        weighed.predict_proba(texts), expected / expected.sum(axis=1, keepdims=True), rtol=1e-12
    )
    assert small_model.model_.label_weights is None  # a copy: the estimator's predictor is unchanged

    # the estimator's parameter, fitted or set afterwards, gives the same probabilities
    estimator = clone(small_model).set_params(label_weights={"prohibited": 1.5})
    estimator.model_ = small_model.model_
    np.testing.assert_allclose(estimator.predict_proba(texts), weighed.predict_proba(texts), rtol=1e-12)

    path = save_model(estimator, tmp_path / "weighed.bnlp")
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format_version"] == 5 and manifest["label_weights"] == {"prohibited": 1.5}
    loaded = load_model(path)
    assert np.array_equal(loaded.predict_proba(texts), estimator.predict_proba(texts))
    assert loaded.label_weights == {"prohibited": 1.5}
    np.testing.assert_allclose(loaded.with_label_weights(None).predict_proba(texts), p0, rtol=1e-12)
    # with a deployment's label shares the two adjustments multiply
    shares = {"in_scope": 0.8, "courtesy": 0.1, "prohibited": 0.1}
    both = loaded.with_label_shares(shares).predict_proba(texts)
    prior = np.array([shares[str(c)] for c in loaded.classes_]) * len(shares)
    expected = p0 * factor * prior
    np.testing.assert_allclose(both, expected / expected.sum(axis=1, keepdims=True), rtol=1e-12)

    with pytest.raises(ValueError, match="labels are"):
        small_model.model_.with_label_weights({"urgent": 2.0})
    with pytest.raises(ValueError, match="positive"):
        small_model.model_.with_label_weights({"prohibited": 0.0})


def test_a_model_without_label_weights_keeps_its_format_version(saved_small_model_path):
    with zipfile.ZipFile(saved_small_model_path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert "label_weights" not in manifest and manifest["format_version"] == 4
