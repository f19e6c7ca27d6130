from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest

from boundary_nlp import LABELS, ModelLoadError, ModelVersionWarning, load_model, persistence, save_model
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
    missing = tmp_path / "nope.joblib"
    with pytest.raises(FileNotFoundError) as info:
        load_model(missing)
    message = str(info.value)
    assert str(missing) in message
    assert "check the path" in message or "load_model()" in message


def test_empty_file_raises_model_load_error(tmp_path):
    path = tmp_path / "empty.joblib"
    path.write_bytes(b"")
    error = assert_load_error_names_path(path)
    assert "empty" in str(error)


def test_truncated_model_file_raises_model_load_error(tmp_path, saved_small_model_path):
    data = saved_small_model_path.read_bytes()
    path = tmp_path / "half.joblib"
    path.write_bytes(data[: len(data) // 2])
    error = assert_load_error_names_path(path)
    assert "truncated" in str(error)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes_raise_model_load_error(tmp_path, seed):
    path = tmp_path / f"random-{seed}.joblib"
    path.write_bytes(np.random.default_rng(seed).bytes(4096))
    assert_load_error_names_path(path)


@pytest.mark.parametrize(
    "content",
    [{"weights": [1, 2, 3]}, {"format": "something-else", "format_version": 1}, [1, 2, 3], "a string"],
    ids=["dict-without-format", "dict-other-format", "list", "str"],
)
def test_joblib_file_that_is_not_a_boundary_model_raises_model_load_error(tmp_path, content):
    path = tmp_path / "other.joblib"
    joblib.dump(content, path)
    error = assert_load_error_names_path(path)
    assert "not a boundary-nlp model" in str(error)
    assert type(content).__name__ in str(error)


def test_model_with_incomplete_arrays_raises_model_load_error(tmp_path):
    path = tmp_path / "incomplete.joblib"
    joblib.dump(
        {"format": persistence.FORMAT, "format_version": 1, "metadata": {}, "compiled": {},
         "settings": {}, "estimator": b""},
        path,
    )
    assert_load_error_names_path(path)


@pytest.mark.parametrize(
    ("section", "value"),
    [("metadata", "not a dict"), ("settings", [1]), ("compiled", None)],
)
def test_model_with_a_malformed_section_raises_model_load_error(tmp_path, section, value):
    payload = {"format": persistence.FORMAT, "format_version": 1, "metadata": {}, "compiled": {},
               "settings": {}, "estimator": b""}
    payload[section] = value
    path = tmp_path / "malformed.joblib"
    joblib.dump(payload, path)
    assert_load_error_names_path(path)


def test_newer_format_version_raises_model_load_error(tmp_path):
    path = tmp_path / "future.joblib"
    joblib.dump({"format": persistence.FORMAT, "format_version": 99}, path)
    error = assert_load_error_names_path(path)
    assert "upgrade" in str(error)


def test_directory_raises_model_load_error(tmp_path):
    folder = tmp_path / "a-folder.joblib"
    folder.mkdir()
    assert_load_error_names_path(folder)


def test_load_errors_never_leak_raw_unpickling_errors(tmp_path, saved_small_model_path):
    data = saved_small_model_path.read_bytes()
    # (the last 4 bytes are zlib's checksum, which the decompressor does not insist on: a file
    # missing only those still holds the whole model and loads; that is joblib's behaviour)
    for index, cut in enumerate([1, 7, 100, len(data) // 3, 2 * len(data) // 3, len(data) - 200]):
        path = tmp_path / f"cut-{index}.joblib"
        path.write_bytes(data[:cut])
        with pytest.raises(ModelLoadError):
            load_model(path)


# --- versions, metadata --------------------------------------------------------------


def test_other_sklearn_version_warns_with_the_retrain_command(tmp_path, small_model):
    path = save_model(small_model, tmp_path / "old.joblib", metadata={"sklearn_version": "0.0.1"})
    with pytest.warns(ModelVersionWarning, match="boundary-nlp train") as record:
        model = load_model(path)
    assert "0.0.1" in str(record[0].message)
    assert model.predict(["帮我取快递"])[0] in LABELS


def test_same_sklearn_version_does_not_warn(saved_small_model_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelVersionWarning)
        load_model(saved_small_model_path)


def test_saved_model_metadata_has_versions_labels_and_creation_time(saved_small_model_path):
    import sklearn

    from boundary_nlp import __version__

    metadata = load_model(saved_small_model_path).metadata
    assert metadata["library_version"] == __version__
    assert metadata["sklearn_version"] == sklearn.__version__
    assert metadata["labels"] == sorted(LABELS)
    assert isinstance(metadata["created"], str) and metadata["created"][:2] == "20"
    assert metadata["params"]["C"] == 10


def test_caller_metadata_is_stored(tmp_path, small_model):
    path = save_model(small_model, tmp_path / "m.joblib", metadata={"note": "hello", "run": 3})
    metadata = load_model(path).metadata
    assert metadata["note"] == "hello" and metadata["run"] == 3


def test_default_model_metadata_has_training_provenance_and_metrics(default_model):
    metadata = default_model.metadata
    for key in ("library_version", "sklearn_version", "labels", "created"):
        assert metadata.get(key), key
    assert metadata["labels"] == sorted(LABELS)
    assert set(metadata["training_data_sha256"]) >= {"train", "dev", "test"}
    for split in ("dev_metrics", "test_metrics"):
        metrics = metadata[split]
        assert 0.0 <= metrics["macro_f1"] <= 1.0
        assert set(metrics["f1"]) == set(LABELS)


def test_default_model_was_trained_on_the_current_datasets(default_model):
    hashes = default_model.metadata["training_data_sha256"]
    for split in ("train", "dev", "test"):
        assert hashes[split] == file_sha256(DATASETS / f"{split}.csv"), f"{split}.csv changed: retrain"


# --- atomic save ---------------------------------------------------------------------


def test_failed_save_leaves_the_old_file_intact_and_no_temporary_file(tmp_path, small_model, monkeypatch):
    path = tmp_path / "model.joblib"
    save_model(small_model, path)
    original = path.read_bytes()

    def exploding_dump(value, target, *args, **kwargs):
        target.write(b"half a model")  # something reached the disk before the crash
        raise OSError("disk full")

    monkeypatch.setattr(persistence.joblib, "dump", exploding_dump)
    with pytest.raises(OSError, match="disk full"):
        save_model(small_model, path)
    monkeypatch.undo()

    assert path.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["model.joblib"]
    load_model(path)


def test_save_creates_missing_folders_and_overwrites(tmp_path, small_model):
    path = tmp_path / "a" / "b" / "model.joblib"
    save_model(small_model, path)
    save_model(small_model, path)
    assert sorted(os.listdir(path.parent)) == ["model.joblib"]
    assert load_model(path).predict(["帮我取快递"])[0] in LABELS


def test_loaded_model_can_be_saved_again(tmp_path, saved_small_model_path):
    first = load_model(saved_small_model_path)
    second = load_model(first.save(tmp_path / "again.joblib", metadata={"note": "resaved"}))
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
    monkeypatch.setattr(persistence, "default_model_path", lambda: tmp_path / "gone.joblib")
    with pytest.raises(FileNotFoundError, match="reinstall"):
        load_model()
