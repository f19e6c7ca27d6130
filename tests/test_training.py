from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from boundary_nlp import load_model
from boundary_nlp.training import _one_standard_error_choice, cv_splits, near_twin_groups, train

try:
    from ._tiny import TINY_DATA, write_csv
except ImportError:
    from _tiny import TINY_DATA, write_csv

SMALL_CANDIDATES = (
    {"word_ngram_range": None, "classifier": "logreg", "C": 1.0},
    {"word_ngram_range": (1, 2), "classifier": "logreg", "C": 10.0},
)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-data")
    rows = [[text, label] for text, label in TINY_DATA]
    train_path = write_csv(folder / "train.csv", ["text", "label"], rows)
    test_path = write_csv(folder / "test.csv", ["text", "label"], [["帮我把考勤改一下", "prohibited"]])
    return train_path, test_path


def test_one_standard_error_rule_takes_the_simplest_near_tie():
    rows = [{"mean": 0.90, "se": 0.01}, {"mean": 0.905, "se": 0.01}, {"mean": 0.93, "se": 0.01}]
    assert _one_standard_error_choice(rows) == 2
    rows[0]["mean"] = 0.925  # within one standard error of 0.93: the simplest wins
    assert _one_standard_error_choice(rows) == 0


def test_near_twins_share_a_group_and_a_fold():
    texts = ["帮我把周报发到群里谢谢", "帮我把周报发到群里谢谢啦", "完全不同的一句话", "再来一句别的话题"] * 1
    labels = ["in_scope", "in_scope", "courtesy", "courtesy"]
    groups = near_twin_groups(texts)
    assert groups[0] == groups[1] and len({groups[0], groups[2], groups[3]}) == 3
    for _, valid in cv_splits(labels, groups, folds=2, repeats=2):
        assert (0 in valid) == (1 in valid)


def test_train_with_one_file_chooses_by_cross_validation_and_scores_test_once(tiny_files):
    train_path, test_path = tiny_files
    result = train(train_path, None, test_path, candidates=SMALL_CANDIDATES, folds=2, repeats=1, n_jobs=1)
    assert len(result.search) == 2 and all(len(row["scores"]) == 2 for row in result.search)
    chosen = {k: v for k, v in result.params.items() if k not in ("escalate_threshold", "label_weights")}
    assert chosen in list(SMALL_CANDIDATES)
    # the red-line weight: the smallest whose out-of-fold recall reaches the floor, on the model
    weights = [row["weight"] for row in result.weight_search]
    assert weights == sorted(weights) and len(weights) > 1
    chosen_weight = (result.params["label_weights"] or {}).get("prohibited", 1.0)
    assert chosen_weight in weights and result.model.label_weights == result.params["label_weights"]
    assert result.model.model_.label_weights == result.params["label_weights"]
    assert result.test is not None and sum(result.test.support.values()) == 1
    assert set(result.counts) == {"train", "test"}
    # test rows never reach selection: the same choice without the test file
    again = train(train_path, None, None, candidates=SMALL_CANDIDATES, folds=2, repeats=1, n_jobs=1)
    assert again.params == result.params and again.threshold == result.threshold
    np.testing.assert_allclose(
        again.model.predict_proba(["帮我取快递"]), result.model.predict_proba(["帮我取快递"]), rtol=0, atol=0
    )


def test_cli_train_works_with_the_training_file_alone(tiny_files, tmp_path):
    train_path, _ = tiny_files
    out = tmp_path / "m.bnlp"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "boundary_nlp.cli",
            "train",
            "--train",
            str(train_path),
            "--out",
            str(out),
            "--folds",
            "2",
            "--repeats",
            "1",
            "--n-jobs",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    model = load_model(out)
    assert model.predict(["帮我取个快递"])[0] in {"courtesy", "in_scope", "prohibited"}
    assert "simplest" in model.card and out.with_suffix(".md").read_text(encoding="utf-8") == model.card


def test_label_sets_without_prohibited_get_no_rule_two_threshold(tmp_path):
    rows = [[text, "yes" if label == "courtesy" else "no"] for text, label in TINY_DATA]
    path = write_csv(tmp_path / "binary.csv", ["text", "label"], rows)
    result = train(path, None, None, candidates=SMALL_CANDIDATES[:1], folds=2, repeats=1, n_jobs=1)
    assert result.params["escalate_threshold"] is None
    assert [row["threshold"] for row in result.escalation_search] == [None]
    assert result.params["label_weights"] is None and [row["weight"] for row in result.weight_search] == [1.0]
    # nor the guide's readings: a closing 谢谢 may be the signal of another label set
    assert not result.model.drop_vocative and not result.model.drop_closing
    assert not result.model.model_.vocative and not result.model.model_.closing
    assert all(not row["params"]["drop_closing"] for row in result.search)


def test_the_guides_labels_keep_the_greeting_and_closing_readings(tiny_files):
    train_path, _ = tiny_files
    result = train(train_path, None, None, candidates=SMALL_CANDIDATES[:1], folds=2, repeats=1, n_jobs=1)
    assert result.model.model_.vocative and result.model.model_.closing
    assert "drop_closing" not in result.params


def test_weight_choice_takes_the_smallest_that_reaches_the_recall_floor():
    from boundary_nlp.training import RECALL_FLOOR, _choose_weight

    rows = [{"weight": w, "recall": r} for w, r in ((1.0, 0.95), (1.1, RECALL_FLOOR), (1.2, 0.99))]
    assert _choose_weight(rows) == 1.1
    rows[0]["recall"] = 0.98
    assert _choose_weight(rows) == 1.0
    # none reaches it: the one that comes closest
    assert _choose_weight([{"weight": 1.0, "recall": 0.90}, {"weight": 2.0, "recall": 0.95}]) == 2.0
    assert _choose_weight([{"weight": 1.0, "recall": None}]) == 1.0


def test_weighing_out_of_fold_probabilities_is_what_a_weighed_model_gives(small_model):
    from boundary_nlp._linear import escalate
    from boundary_nlp.training import TIE_BREAK_LABEL, _weighed

    texts = [
        "帮我取快递。另外把考勤记录改一下",
        "这个报表能不能加一列",
        "顺便帮我买杯咖啡，还有把验收日期改成上个月",
    ]
    plain = small_model.model_
    weighed = plain.with_label_weights({TIE_BREAK_LABEL: 1.3})
    whole = plain.score(texts, whole_only=True).proba
    proba, asks = _weighed(plain.classes, whole, plain.asks_of(texts), 1.3)
    column = plain.column(TIE_BREAK_LABEL)
    simulated, _ = escalate(proba, asks, column, plain.escalation["threshold"])
    np.testing.assert_allclose(simulated, weighed.score(texts).proba, rtol=1e-12)
    assert not np.allclose(simulated, plain.score(texts).proba)


def test_recall_floor_zero_trains_without_a_weight(tiny_files):
    train_path, _ = tiny_files
    result = train(
        train_path, None, None, candidates=SMALL_CANDIDATES[:1], folds=2, repeats=1, n_jobs=1, recall_floor=0
    )
    assert result.params["label_weights"] is None and result.model.model_.label_weights is None
    assert [row["weight"] for row in result.weight_search] == [1.0] and result.recall_floor is None
    with pytest.raises(ValueError, match="recall_floor"):
        train(
            train_path,
            None,
            None,
            candidates=SMALL_CANDIDATES[:1],
            folds=2,
            repeats=1,
            n_jobs=1,
            recall_floor=1.5,
        )


def test_the_card_says_when_no_weight_reached_the_recall_floor(tiny_files, tmp_path):
    import dataclasses

    from boundary_nlp.training import model_card

    train_path, _ = tiny_files
    result = train(train_path, None, None, candidates=SMALL_CANDIDATES[:1], folds=2, repeats=1, n_jobs=1)
    assert len(result.weight_search) > 1

    def with_recall(recall: float):
        rows = [{**row, "recall": recall} for row in result.weight_search]
        return dataclasses.replace(result, weight_search=rows)

    reached, missed = with_recall(1.0), with_recall(0.5)
    assert "No weight reached" not in model_card(reached, tmp_path / "m.bnlp", "train")
    card = model_card(missed, tmp_path / "m.bnlp", "train")
    assert "No weight reached the recall floor (97%)" in card and "--recall-floor" in card
