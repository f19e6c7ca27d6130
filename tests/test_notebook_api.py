"""The library functions the notebooks call instead of computing in cells.

``distinctive_terms`` (notebook 01), ``threshold_tradeoff`` (``plot_threshold_tradeoff``),
``Evaluation.from_dict`` and ``BoundaryModel.trained_on`` (notebooks 02 and 03), what
``train()`` returns and a saved model keeps (the search and rule-2 tables of notebooks 02
and 03), ``file_sha256`` living where persistence can use it, and no notebook calling an API
that was removed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from _tiny import TINY_DATA, tiny_model

from boundary_nlp import Evaluation, load_model, save_model
from boundary_nlp._files import file_sha256
from boundary_nlp.evaluation import distinctive_terms, evaluate_predictions, threshold_tradeoff

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"
TEXTS = [text for text, _ in TINY_DATA]
LABELS = [label for _, label in TINY_DATA]


class CharSegmenter:
    """One token per character: makes the counts easy to check by hand."""

    def cut(self, text: str) -> list[str]:
        return list(text)


def reference_log_odds(texts, labels, segmenter, prior):
    """The computation notebook 01 used to do in a cell (Monroe, Colaresi & Quinn 2008)."""
    from boundary_nlp.text import normalize

    counts = {label: Counter() for label in sorted(set(labels))}
    for text, label in zip(texts, labels):
        counts[label].update(t for t in segmenter.cut(normalize(text)) if any(ch.isalnum() for ch in t))
    total = sum(counts.values(), Counter())
    n = sum(total.values())
    alpha = {word: prior * count / n for word, count in total.items()}
    scores = {}
    for label, inside in counts.items():
        n_in = sum(inside.values())
        n_out = n - n_in
        scores[label] = {}
        for word, a in alpha.items():
            y_in, y_out = inside[word], total[word] - inside[word]
            delta = math.log((y_in + a) / (n_in + prior - y_in - a)) - math.log(
                (y_out + a) / (n_out + prior - y_out - a)
            )
            scores[label][word] = delta / math.sqrt(1 / (y_in + a) + 1 / (y_out + a))
    return scores, counts


# --- distinctive_terms -----------------------------------------------------------------


@pytest.mark.parametrize("prior", [500.0, 10.0])
def test_distinctive_terms_equal_the_weighted_log_odds(prior):
    result = distinctive_terms(TEXTS, LABELS, prior=prior)
    from boundary_nlp.text import JiebaSegmenter

    expected, counts = reference_log_odds(TEXTS, LABELS, JiebaSegmenter(), prior)
    assert list(result) == ["courtesy", "in_scope", "prohibited"]
    for label, terms in result.items():
        assert {term for term, _, _ in terms} == set(expected[label])
        for term, z, count in terms:
            assert z == pytest.approx(expected[label][term], rel=1e-9, abs=1e-12)
            assert count == counts[label][term]
            assert isinstance(z, float) and isinstance(count, int)
        zs = [z for _, z, _ in terms]
        assert zs == sorted(zs, reverse=True)


def test_distinctive_terms_find_each_labels_own_words():
    result = distinctive_terms(TEXTS, LABELS, segmenter=CharSegmenter(), prior=10.0)
    assert result["courtesy"][0][0] == "帮"  # 帮 is in most favors and in few other rows
    assert "帮" in [term for term, _, _ in result["courtesy"][:3]]
    # a term in one label only scores above zero there and below zero elsewhere
    scores = {label: {term: z for term, z, _ in terms} for label, terms in result.items()}
    assert scores["courtesy"]["快"] > 0 > scores["in_scope"]["快"]


def test_distinctive_terms_normalize_and_drop_punctuation():
    texts = ["幫我，取快遞！", "ＡＢＣ 報表。", "帮我取快递", "abc 报表"]
    labels = ["courtesy", "in_scope", "courtesy", "in_scope"]
    result = distinctive_terms(texts, labels, segmenter=CharSegmenter(), prior=1.0)
    terms = {term for term, _, _ in result["courtesy"]}
    assert terms == set("帮我取快递报表abc")  # traditional -> simplified, full-width -> lower ASCII
    counts = {term: count for term, _, count in result["courtesy"]}
    assert counts["帮"] == 2 and counts["报"] == 0
    assert counts["a"] == 0 and {term: c for term, _, c in result["in_scope"]}["a"] == 2


def test_min_chars_filters_terms_but_not_their_scores():
    all_terms = distinctive_terms(TEXTS, LABELS)
    long_terms = distinctive_terms(TEXTS, LABELS, min_chars=2)
    for label in all_terms:
        expected = [term for term in all_terms[label] if len(term[0]) >= 2]
        assert long_terms[label] == expected
        assert all(len(term) >= 2 for term, _, _ in long_terms[label])
        assert len(long_terms[label]) < len(all_terms[label])


def test_distinctive_terms_reject_bad_input():
    with pytest.raises(ValueError, match="labels"):
        distinctive_terms(TEXTS, LABELS[:-1])
    with pytest.raises(ValueError, match="two labels"):
        distinctive_terms(TEXTS[:5], LABELS[:5])
    with pytest.raises(ValueError, match="prior"):
        distinctive_terms(TEXTS, LABELS, prior=0)
    with pytest.raises(ValueError, match="no words"):
        distinctive_terms(["。", "！"], ["a", "b"])


# --- threshold_tradeoff ------------------------------------------------------------------

GOLD = ["prohibited"] * 4 + ["in_scope", "in_scope", "courtesy", "in_scope"]
SCORES = [0.9, 0.6, 0.3, 0.05, 0.7, 0.2, 0.1, 0.3]


def test_threshold_tradeoff_on_a_hand_computed_example():
    rows = threshold_tradeoff(GOLD, SCORES, "prohibited", [0.5, 0.3, 0.0, 0.95])
    assert [row["threshold"] for row in rows] == [0.5, 0.3, 0.0, 0.95]
    assert set(rows[0]) == {"threshold", "recall", "false_alarm_rate", "flagged"}
    # at 0.5: flags 0.9, 0.6 (prohibited) and 0.7 (in_scope)
    assert rows[0] == {"threshold": 0.5, "recall": 0.5, "false_alarm_rate": 0.25, "flagged": 3}
    # at 0.3 (score equal to the threshold is flagged): adds 0.3 prohibited and 0.3 in_scope
    assert rows[1] == {"threshold": 0.3, "recall": 0.75, "false_alarm_rate": 0.5, "flagged": 5}
    assert rows[2] == {"threshold": 0.0, "recall": 1.0, "false_alarm_rate": 1.0, "flagged": 8}
    assert rows[3] == {"threshold": 0.95, "recall": 0.0, "false_alarm_rate": 0.0, "flagged": 0}
    assert all(type(row["flagged"]) is int and type(row["recall"]) is float for row in rows)


def test_threshold_tradeoff_other_positive_label_and_numpy_input():
    import numpy as np

    rows = threshold_tradeoff(np.array(GOLD), np.array(SCORES), "in_scope", np.array([0.25]))
    assert rows == [{"threshold": 0.25, "recall": 2 / 3, "false_alarm_rate": 0.6, "flagged": 5}]


def test_threshold_tradeoff_rejects_bad_input():
    with pytest.raises(ValueError, match="scores"):
        threshold_tradeoff(GOLD, SCORES[:-1], "prohibited", [0.5])
    with pytest.raises(ValueError, match="with and without"):
        threshold_tradeoff(["in_scope"] * 3, [0.1, 0.2, 0.3], "prohibited", [0.5])
    with pytest.raises(ValueError, match="with and without"):
        threshold_tradeoff(["prohibited"] * 2, [0.1, 0.2], "prohibited", [0.5])


def test_plot_threshold_tradeoff_draws_threshold_tradeoff(monkeypatch, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    from boundary_nlp import evaluation
    from boundary_nlp.plotting import plot_threshold_tradeoff

    calls = []
    original = evaluation.threshold_tradeoff

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation, "threshold_tradeoff", spy)
    with matplotlib.rc_context():
        ax = plot_threshold_tradeoff(GOLD, SCORES, "prohibited", path=tmp_path / "t.png")
    assert len(calls) == 1
    rows = original(GOLD, SCORES, "prohibited", calls[0][3])
    recall, false_alarm, precision = (line.get_ydata() for line in ax.lines[:3])
    assert list(ax.lines[0].get_xdata()) == [row["threshold"] for row in rows]
    assert list(recall) == [row["recall"] for row in rows]
    assert list(false_alarm) == [row["false_alarm_rate"] for row in rows]
    at_half = [row["threshold"] for row in rows].index(0.5)
    assert precision[at_half] == pytest.approx(2 / 3)  # 2 of the 3 flags at 0.5 are prohibited


# --- Evaluation.from_dict ----------------------------------------------------------------


def test_evaluation_from_dict_inverts_to_dict():
    evaluation = evaluate_predictions(["a", "a", "b", "c"], ["a", "b", "b", "a"])
    assert Evaluation.from_dict(evaluation.to_dict()) == evaluation
    through_json = Evaluation.from_dict(json.loads(json.dumps(evaluation.to_dict())))
    assert through_json == evaluation
    assert through_json.format() == evaluation.format()
    extra = dict(evaluation.to_dict(), note="ignored")
    assert Evaluation.from_dict(extra) == evaluation


def test_evaluation_from_dict_names_missing_keys():
    d = evaluate_predictions(["a", "b"], ["a", "a"]).to_dict()
    del d["confusion"], d["macro_f1"]
    with pytest.raises(ValueError, match="macro_f1, confusion"):
        Evaluation.from_dict(d)


@pytest.mark.parametrize("key", ["cv_metrics", "test_metrics"])
def test_evaluation_from_dict_reads_the_shipped_model_metadata(default_model, key):
    reference = Evaluation.from_dict(default_model.metadata[key])
    assert reference.labels == [str(label) for label in default_model.classes_]
    assert sum(reference.support.values()) == sum(map(sum, reference.confusion))
    assert 0.0 < reference.macro_f1 <= 1.0


# --- what train() returns and a saved model keeps (notebooks 02 and 03) ----------------------


def test_train_result_and_saved_metadata_hold_the_tables_the_notebooks_print(tmp_path):
    from _tiny import write_csv

    from boundary_nlp.training import model_card, model_metadata, train

    data = write_csv(tmp_path / "mine.csv", ["text", "label"], [[t, y] for t, y in TINY_DATA])
    candidate = {"word_ngram_range": None, "classifier": "logreg", "C": 1.0}
    result = train(data, candidates=[candidate], folds=2, repeats=1, n_jobs=1)
    assert [row["params"] for row in result.search] == [candidate]
    for row in result.search:
        assert {"params", "mean", "se", "scores"} <= set(row) and len(row["scores"]) == 2
    thresholds = [row["threshold"] for row in result.escalation_search]
    assert None in thresholds and result.params["escalate_threshold"] in thresholds
    for row in result.escalation_search:
        assert {"threshold", "mean", "se", "directional"} <= set(row)
    assert set(result.counts) == {"train"} and result.test is None

    path = save_model(
        result.model,
        tmp_path / "mine.bnlp",
        metadata=model_metadata(result),
        card=model_card(result, tmp_path / "mine.bnlp", "train(mine.csv)"),
    )
    model = load_model(path)
    assert model.metadata["chosen_params"] == {
        "word_ngram_range": None,
        "classifier": "logreg",
        "C": 1.0,
        "escalate_threshold": result.params["escalate_threshold"],
        "label_weights": result.params["label_weights"],
    }
    assert [row["mean"] for row in model.metadata["search"]] == [row["mean"] for row in result.search]
    assert Evaluation.from_dict(model.metadata["cv_metrics"]) == result.cv
    assert model.uncertainty_threshold == result.threshold
    assert model.card.startswith("# Model card: mine.bnlp")


def test_notebooks_call_no_removed_api():
    removed = ("refit_on_dev", "grid=", ".estimator", "dev_metrics", ".joblib", "result.dev")
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
        assert not [name for name in removed if name in code], notebook.name


# --- BoundaryModel.trained_on -------------------------------------------------------------


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    for split in ("train", "dev", "test"):
        (folder / f"{split}.csv").write_text(f"id,text,label\n{split}1,测试,in_scope\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def saved_with_hashes(data_folder, tmp_path_factory) -> Path:
    hashes = {split: file_sha256(data_folder / f"{split}.csv") for split in ("train", "dev")}
    path = tmp_path_factory.mktemp("model") / "tiny.bnlp"
    save_model(tiny_model(), path, metadata={"training_data_sha256": hashes})
    return path


def test_trained_on_a_folder_checks_the_recorded_splits(saved_with_hashes, data_folder, tmp_path):
    model = load_model(saved_with_hashes)
    assert model.trained_on(data_folder) is True
    assert model.trained_on(str(data_folder)) is True  # test.csv is there but was not recorded
    copy = tmp_path / "copy"
    copy.mkdir()
    for split in ("train", "dev"):
        (copy / f"{split}.csv").write_bytes((data_folder / f"{split}.csv").read_bytes())
    assert model.trained_on(copy) is True
    (copy / "dev.csv").write_bytes((data_folder / "dev.csv").read_bytes() + b"dev2,another,courtesy\n")
    assert model.trained_on(copy) is False
    (copy / "dev.csv").unlink()
    with pytest.raises(FileNotFoundError, match="dev.csv"):
        model.trained_on(copy)
    with pytest.raises(FileNotFoundError):
        model.trained_on(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="is a file"):
        model.trained_on(data_folder / "train.csv")


def test_trained_on_a_dict_checks_the_splits_given(saved_with_hashes, data_folder):
    model = load_model(saved_with_hashes)
    assert model.trained_on({"train": data_folder / "train.csv"}) is True
    assert model.trained_on({"train": data_folder / "train.csv", "dev": str(data_folder / "dev.csv")}) is True
    # the wrong file for a split, or a split without a recorded hash
    assert model.trained_on({"train": data_folder / "dev.csv"}) is False
    assert model.trained_on({"test": data_folder / "test.csv"}) is False
    with pytest.raises(FileNotFoundError):
        model.trained_on({"train": data_folder / "missing.csv"})
    with pytest.raises(ValueError, match="no data files"):
        model.trained_on({})


def test_trained_on_is_false_without_recorded_hashes(saved_small_model_path, data_folder):
    model = load_model(saved_small_model_path)
    assert "training_data_sha256" not in model.metadata
    assert model.trained_on(data_folder) is False
    assert model.trained_on({"train": data_folder / "train.csv"}) is False


def test_shipped_model_was_trained_on_the_current_datasets(default_model):
    assert default_model.trained_on(DATASETS), "datasets/*.csv changed since the shipped model: retrain"


# --- file_sha256 and imports ----------------------------------------------------------------


def test_file_sha256_is_shared_by_data_and_training(tmp_path):
    import hashlib

    from boundary_nlp import training

    assert training.file_sha256 is file_sha256
    path = tmp_path / "blob.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # several read chunks
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(path)) == file_sha256(path)


def test_persistence_and_evaluation_do_not_import_scikit_learn():
    code = (
        "import sys\n"
        "import boundary_nlp.persistence, boundary_nlp.evaluation\n"
        "m = boundary_nlp.persistence.load_model()\n"
        f"m.trained_on({str(DATASETS)!r})\n"
        "boundary_nlp.evaluation.threshold_tradeoff(['a', 'b'], [0.1, 0.9], 'a', [0.5])\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'sklearn'))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
