"""Session fixtures shared by the core test modules.

``small_model`` is trained once per session on a fixed, deterministic slice of
``datasets/train.csv`` (the first ``SMALL_PER_LABEL`` rows of each label, in file order).
``datasets/test.csv`` is never used for training or tuning: only the regression guard scores
the shipped model on it.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
DATASETS = ROOT / "datasets"
SPLIT_FILES = {split: DATASETS / f"{split}.csv" for split in ("train", "dev", "test")}
SMALL_PER_LABEL = 300


def read_csv_rows(path: Path) -> list[dict]:
    """Rows of a dataset CSV read with the standard library only (independent of boundary_nlp.data)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def first_rows_per_label(rows: list[dict], per_label: int) -> tuple[list[str], list[str]]:
    taken: dict[str, int] = {}
    texts: list[str] = []
    labels: list[str] = []
    for row in rows:
        label = row["label"]
        if taken.get(label, 0) < per_label:
            taken[label] = taken.get(label, 0) + 1
            texts.append(row["text"])
            labels.append(label)
    return texts, labels


def run_cli(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m boundary_nlp.cli ARGS`` from the project root with PYTHONPATH=src."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC)
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "boundary_nlp.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def train_rows() -> list[dict]:
    return read_csv_rows(SPLIT_FILES["train"])


@pytest.fixture(scope="session")
def dev_rows() -> list[dict]:
    return read_csv_rows(SPLIT_FILES["dev"])


@pytest.fixture(scope="session")
def all_dataset_texts() -> list[str]:
    """Every text of train.csv, dev.csv and test.csv (for parity checks, never for training)."""
    texts: list[str] = []
    for path in SPLIT_FILES.values():
        texts.extend(row["text"] for row in read_csv_rows(path))
    return texts


@pytest.fixture(scope="session")
def small_training_set(train_rows) -> tuple[list[str], list[str]]:
    texts, labels = first_rows_per_label(train_rows, SMALL_PER_LABEL)
    assert len(set(labels)) == 3 and len(texts) == 3 * SMALL_PER_LABEL
    return texts, labels


@pytest.fixture(scope="session")
def small_model(small_training_set):
    from boundary_nlp.model import BoundaryClassifier

    texts, labels = small_training_set
    return BoundaryClassifier(C=10).fit(texts, labels)


@pytest.fixture(scope="session")
def saved_small_model_path(small_model, tmp_path_factory) -> Path:
    from boundary_nlp import save_model

    path = tmp_path_factory.mktemp("small-model") / "small.bnlp"
    save_model(small_model, path)
    return path


@pytest.fixture(scope="session")
def corpus_estimator(train_rows):
    """``BoundaryClassifier()`` with its defaults but whole-message scores only (what the
    scikit-learn pipeline computes), fitted on train.csv: the parity oracle."""
    from boundary_nlp.model import BoundaryClassifier

    return BoundaryClassifier(escalate_label=None).fit(
        [r["text"] for r in train_rows], [r["label"] for r in train_rows]
    )


@pytest.fixture(scope="session")
def default_model():
    from boundary_nlp import load_model

    return load_model()


@pytest.fixture(scope="session")
def dev_sample(dev_rows) -> list[str]:
    """A fixed sample of dev texts (every 5th row) for quick comparisons."""
    return [row["text"] for row in dev_rows[::5]]


@pytest.fixture(scope="session")
def cli():
    """Run ``python -m boundary_nlp.cli ...``; returns the CompletedProcess."""
    return run_cli


@pytest.fixture(params=["python", "c"])
def implementation(request, monkeypatch) -> str:
    """Run a test once on the pure-Python hot loops and once on the C module ``_speedups``."""
    from boundary_nlp import speedups

    if request.param == "python":
        monkeypatch.setattr(speedups, "SPEEDUPS", None)
    elif speedups.SPEEDUPS is None:
        pytest.skip("the C module boundary_nlp._speedups is not built here")
    return request.param
