"""benchmarks/screen_defaults.py: its 'default' candidate is the library default, and its rule."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "screen_defaults.py"


@pytest.fixture(scope="module")
def screen():
    spec = importlib.util.spec_from_file_location("screen_defaults", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["screen_defaults"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("screen_defaults", None)


def _slice(rows: list[dict], step: int) -> tuple[list[str], list[str]]:
    taken = rows[::step]
    return [row["text"] for row in taken], [row["label"] for row in taken]


def test_default_candidate_is_boundary_classifier_and_reference_is_run_py_s(screen, train_rows, dev_rows):
    train, y_train = _slice(train_rows, 25)
    dev, y_dev = _slice(dev_rows, 10)
    names = ["reference", "default", "union_svc1", "nb_lr4", "reference_plus_words"]
    segmenter = screen.CachingSegmenter("default")
    # check_default=True raises if the precomputed features disagree with BoundaryClassifier()
    scores = screen.score_split(
        train, np.asarray(y_train, dtype=object), dev, np.asarray(y_dev, dtype=object), names, segmenter, True
    )
    reference = screen.reference_char_svc().fit(train, y_train).predict(dev)
    assert scores["reference"]["accuracy"] == pytest.approx(np.mean(reference == np.asarray(y_dev)))
    for name in names:
        assert 0.0 <= scores[name]["accuracy"] <= 1.0
        assert 0 <= scores[name]["prohibited_hits"] <= y_dev.count("prohibited")


def _result(margins: dict[str, float], splits: int = 5) -> dict:
    return {
        "splits": [{}] * splits,
        "rows": 100,
        "summary": {
            name: {"margin": m, "accuracy": 90.0, "prohibited_hits": 30} for name, m in margins.items()
        },
    }


def test_rule_needs_a_margin_on_both_public_sets_and_no_corpus_loss(screen):
    results = {
        "waimai": _result({"reference": 0.0, "default": -0.2, "good": 0.3, "one_sided": 0.5}),
        "thucnews": _result({"reference": 0.0, "default": -0.8, "good": 0.2, "one_sided": 0.1}),
        "corpus": _result({"reference": 0.0, "default": 0.0, "good": 0.0, "one_sided": 0.0}, splits=1),
    }
    verdicts = screen.verdicts(results, ["reference", "default", "good", "one_sided"])
    assert verdicts["good"] == "qualifies"
    assert "thucnews margin +0.10" in verdicts["one_sided"]
    assert "waimai margin -0.20" in verdicts["default"]
    results["corpus"]["summary"]["good"]["prohibited_hits"] = 26
    assert "4 fewer prohibited" in screen.verdicts(results, ["reference", "default", "good"])["good"]
    del results["thucnews"]
    assert "needs both public sets" in screen.verdicts(results, ["reference", "default", "good"])["good"]
