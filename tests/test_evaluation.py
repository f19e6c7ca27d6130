from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from boundary_nlp.evaluation import error_rows, evaluate, evaluate_predictions

GOLD = ["a", "a", "a", "b", "b", "c"]
PRED = ["a", "a", "b", "b", "c", "c"]


def test_evaluate_predictions_on_a_hand_computed_example():
    result = evaluate_predictions(GOLD, PRED)
    assert result.labels == ["a", "b", "c"]
    # rows: gold a, b, c; columns: predicted a, b, c
    assert result.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert result.support == {"a": 3, "b": 2, "c": 1}
    assert result.precision == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.5}, abs=1e-12)
    assert result.recall == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 1.0}, abs=1e-12)
    assert result.f1 == pytest.approx({"a": 0.8, "b": 0.5, "c": 2 / 3}, abs=1e-12)
    assert result.macro_f1 == pytest.approx(59 / 90, abs=1e-12)
    assert result.accuracy == pytest.approx(4 / 6, abs=1e-12)


def test_label_order_is_the_one_given():
    result = evaluate_predictions(GOLD, PRED, labels=["c", "b", "a"])
    assert result.labels == ["c", "b", "a"]
    assert result.confusion == [[1, 0, 0], [1, 1, 0], [0, 1, 2]]
    assert result.f1["a"] == pytest.approx(0.8)


def test_a_label_never_predicted_has_zero_precision_and_f1_not_nan():
    result = evaluate_predictions(["a", "b"], ["a", "a"])
    assert result.precision["b"] == 0.0 and result.recall["b"] == 0.0 and result.f1["b"] == 0.0
    assert result.precision["a"] == 0.5 and result.recall["a"] == 1.0
    assert result.macro_f1 == pytest.approx((2 / 3 + 0.0) / 2)


def test_perfect_predictions():
    result = evaluate_predictions(GOLD, GOLD)
    assert result.macro_f1 == 1.0 and result.accuracy == 1.0
    assert result.confusion == [[3, 0, 0], [0, 2, 0], [0, 0, 1]]


def test_evaluate_predictions_rejects_bad_input():
    with pytest.raises(ValueError):
        evaluate_predictions(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        evaluate_predictions([], [])


def test_to_dict_and_format_contain_the_numbers():
    result = evaluate_predictions(GOLD, PRED)
    data = result.to_dict()
    assert data["macro_f1"] == result.macro_f1 and data["confusion"] == result.confusion
    text = result.format()
    assert "0.6556" in text and "macro avg" in text and "confusion matrix" in text


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=1, max_size=60))
def test_evaluate_predictions_agrees_with_scikit_learn_when_every_label_is_in_gold(pairs):
    pairs = pairs + [("a", "a"), ("b", "c"), ("c", "b")]  # every label has gold support
    gold = [g for g, _ in pairs]
    predicted = [p for _, p in pairs]
    result = evaluate_predictions(gold, predicted, labels=["a", "b", "c"])
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=["a", "b", "c"], zero_division=0
    )
    assert result.confusion == confusion_matrix(gold, predicted, labels=["a", "b", "c"]).tolist()
    assert [result.precision[x] for x in "abc"] == pytest.approx(list(precision), abs=1e-12)
    assert [result.recall[x] for x in "abc"] == pytest.approx(list(recall), abs=1e-12)
    assert [result.f1[x] for x in "abc"] == pytest.approx(list(f1), abs=1e-12)
    assert result.macro_f1 == pytest.approx(float(np.mean(f1)), abs=1e-12)


class FixedModel:
    classes_ = np.array(["courtesy", "in_scope", "prohibited"], dtype=object)

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def predict(self, texts):
        return np.array([self.answers[t] for t in texts], dtype=object)


def test_evaluate_orders_labels_as_the_model_classes_plus_unknown_gold_labels():
    model = FixedModel({"x": "courtesy", "y": "prohibited", "z": "in_scope"})
    result = evaluate(model, ["x", "y", "z"], ["courtesy", "in_scope", "other"])
    assert result.labels == ["courtesy", "in_scope", "prohibited", "other"]
    assert result.support["other"] == 1
    assert result.accuracy == pytest.approx(1 / 3)


def test_error_rows_writes_only_the_mistakes(small_model, tmp_path):
    texts = ["开完会顺便帮我取个快递", "麻烦把验收报告的日期改成上个月的"]
    predicted = [small_model.classify(t).label for t in texts]
    gold = [predicted[0], "in_scope" if predicted[1] != "in_scope" else "courtesy"]
    path = tmp_path / "errors.csv"
    assert error_rows(small_model, texts, gold, path) == 1
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    assert rows[0]["row"] == "2" and rows[0]["text"] == texts[1] and rows[0]["predicted"] == predicted[1]
