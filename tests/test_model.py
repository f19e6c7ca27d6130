from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import boundary_nlp
from boundary_nlp import DEFAULT_MAX_CHARS, LABELS, BoundaryModel, Prediction, load_model, save_model
from boundary_nlp.model import BoundaryClassifier
from boundary_nlp.text import normalize

ROOT = Path(__file__).resolve().parents[1]

GUIDE_EXAMPLES = [
    "开完会顺便帮我取个快递",
    "麻烦把验收报告的日期改成上个月的",
    "这个报表能不能加一列？",
    "帮我把测试数据调一下，让指标好看点",
    "下个版本能否支持导出Excel？",
    "帮我看看我家电脑为什么这么卡",
    "給我家電腦裝個破解版Office",
]

WEIRD_TEXTS = [
    "😀😂👍🏽👨‍👩‍👧",
    "\x00\x01\x02\x1b\x7f\x85",
    "\u200b\u200c\u200d\u2060\ufeff",
    "\ud800",
    "帮我\udfff取\ud83d快递",
    "ＨＥＬＬＯ　ｗｏｒｌｄ　１２３",
    "帮我deploy一下サーバー и русский 한국어 العربية",
    "\u202e帮我取快递\u202c",
    "e\u0301\u0301\u0301",
    "\n\n\t\r\n",
    "？？？！！！",
    "a" * 20,
    "帮" * 6000,
]


@pytest.fixture(params=["small_model", "default_model"])
def any_model(request):
    """Both kinds of model: a fitted BoundaryClassifier and a loaded BoundaryModel."""
    return request.getfixturevalue(request.param)


# --- fit / predict / predict_proba -----------------------------------------------------


def test_classes_are_the_sorted_training_labels(small_model):
    assert list(small_model.classes_) == sorted(LABELS)


def test_predict_proba_has_one_row_per_text_and_one_column_per_class(any_model, dev_sample):
    proba = any_model.predict_proba(dev_sample[:25])
    assert isinstance(proba, np.ndarray)
    assert proba.shape == (25, len(any_model.classes_))
    assert np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


def test_predict_returns_a_numpy_array_of_label_strings(any_model, dev_sample):
    labels = any_model.predict(dev_sample[:25])
    assert isinstance(labels, np.ndarray)
    assert labels.shape == (25,)
    assert all(type(label) is str for label in labels)
    assert set(labels) <= set(LABELS)


def test_predict_is_the_argmax_of_predict_proba(any_model, dev_sample):
    proba = any_model.predict_proba(dev_sample)
    labels = any_model.predict(dev_sample)
    assert list(labels) == [str(any_model.classes_[i]) for i in proba.argmax(axis=1)]


def test_a_single_string_is_one_text(any_model):
    proba = any_model.predict_proba("开完会顺便帮我取个快递")
    assert proba.shape == (1, 3)
    labels = any_model.predict("开完会顺便帮我取个快递")
    assert labels.shape == (1,)
    assert labels[0] == any_model.predict(["开完会顺便帮我取个快递"])[0]


def test_fit_returns_self_and_sets_fitted_attributes():
    model = BoundaryClassifier()
    texts = ["帮我取快递", "部署测试环境", "帮我带杯咖啡", "把会议纪要发群里"]
    labels = ["courtesy", "in_scope", "courtesy", "in_scope"]
    assert model.fit(texts, labels) is model
    assert list(model.classes_) == ["courtesy", "in_scope"]
    assert hasattr(model, "pipeline_")


def test_fit_rejects_mismatched_lengths_and_a_single_label():
    with pytest.raises(ValueError, match="labels"):
        BoundaryClassifier().fit(["帮我取快递", "部署测试环境"], ["courtesy"])
    with pytest.raises(ValueError, match="two different labels"):
        BoundaryClassifier().fit(["帮我取快递", "部署测试环境"], ["courtesy", "courtesy"])


def test_binary_model_compiled_path_equals_pipeline_and_labels_are_users_own():
    texts = ["帮我取快递", "帮我带咖啡", "部署测试环境", "会议纪要发群里", "顺路捎我", "数据库调优"]
    labels = ["favor", "favor", "work", "work", "favor", "work"]
    model = BoundaryClassifier().fit(texts, labels)
    queries = ["帮我取个快递吧", "把测试环境部署一下", "", "zzz"]
    compiled = np.vstack([list(model.classify(q).probabilities.values()) for q in queries])
    np.testing.assert_allclose(compiled, model.predict_proba(queries), rtol=0, atol=1e-9)
    prediction = model.classify("帮我取个快递吧")
    assert prediction.label in ("favor", "work")
    assert prediction.label_zh == prediction.label


# --- scikit-learn conventions ---------------------------------------------------------


def test_init_stores_parameters_unchanged():
    word_range = [1, 3]
    weights = {"in_scope": 1.0, "courtesy": 2.0, "prohibited": 3.0}
    model = BoundaryClassifier(
        C=0.5,
        word_ngram_range=word_range,
        class_weight=weights,
        max_chars=None,
        uncertainty_threshold=0.7,
        random_state=7,
    )
    assert model.word_ngram_range is word_range
    assert model.class_weight is weights
    assert model.C == 0.5 and model.max_chars is None
    assert model.uncertainty_threshold == 0.7 and model.random_state == 7
    assert not any(name.endswith("_") for name in vars(model))


def test_get_params_returns_every_init_parameter():
    params = BoundaryClassifier(C=3.0, min_df=2).get_params()
    assert params["C"] == 3.0 and params["min_df"] == 2
    assert set(params) == {
        "C",
        "word_ngram_range",
        "char_ngram_range",
        "content_only",
        "drop_vocative",
        "drop_closing",
        "classifier",
        "escalate_label",
        "escalate_threshold",
        "label_weights",
        "ask_rows",
        "min_df",
        "sublinear_tf",
        "class_weight",
        "userdict",
        "max_chars",
        "uncertainty_threshold",
        "max_iter",
        "random_state",
    }


def test_set_params_changes_parameters_and_returns_self():
    model = BoundaryClassifier()
    assert model.set_params(C=0.1, char_ngram_range=(1, 4)) is model
    assert model.C == 0.1 and model.char_ngram_range == (1, 4)
    with pytest.raises(ValueError):
        model.set_params(not_a_parameter=1)


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(small_model):
    copy = clone(small_model)
    assert copy is not small_model
    assert copy.get_params() == small_model.get_params()
    assert not hasattr(copy, "pipeline_")
    with pytest.raises(NotFittedError):
        copy.predict(["帮我取快递"])


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "classify"])
def test_not_fitted_error_before_fit(method):
    model = BoundaryClassifier()
    argument = "帮我取快递" if method == "classify" else ["帮我取快递"]
    with pytest.raises(NotFittedError):
        getattr(model, method)(argument)


# --- pickling and determinism ---------------------------------------------------------


def test_pickle_round_trip_gives_identical_probabilities(small_model, dev_sample):
    copy = pickle.loads(pickle.dumps(small_model))
    assert np.array_equal(copy.predict_proba(dev_sample), small_model.predict_proba(dev_sample))
    assert copy.classify(dev_sample[0]) == small_model.classify(dev_sample[0])


def test_pickling_does_not_modify_the_fitted_model(small_model):
    small_model.classify("帮我取快递")  # the compiled arrays exist
    before = set(vars(small_model))
    pickle.dumps(small_model)
    lost = before - set(vars(small_model))
    assert not lost, f"pickle.dumps removed {sorted(lost)} from the live estimator"


def test_two_fits_on_the_same_data_give_identical_probabilities(train_rows, dev_sample):
    from conftest import first_rows_per_label

    texts, labels = first_rows_per_label(train_rows, 60)
    first = BoundaryClassifier(C=10).fit(texts, labels)
    second = BoundaryClassifier(C=10).fit(texts, labels)
    assert np.array_equal(first.predict_proba(dev_sample), second.predict_proba(dev_sample))
    assert first.classify(dev_sample[1]) == second.classify(dev_sample[1])


# --- saved, loaded, compiled: the same numbers ----------------------------------------


def test_saved_and_reloaded_small_model_predicts_the_same(small_model, saved_small_model_path, dev_rows):
    texts = [row["text"] for row in dev_rows]
    loaded = load_model(saved_small_model_path)
    assert isinstance(loaded, BoundaryModel)
    assert list(loaded.classes_) == list(small_model.classes_)
    assert list(loaded.predict(texts)) == list(small_model.predict(texts))
    diff = np.abs(loaded.predict_proba(texts) - small_model.predict_proba(texts)).max()
    assert diff <= 1e-9
    for text in texts[:20]:
        a, b = loaded.classify(text), small_model.classify(text)
        assert a.label == b.label
        assert abs(a.confidence - b.confidence) <= 1e-9


def test_classify_equals_predict_proba_for_the_estimator(small_model, dev_sample):
    proba = small_model.predict_proba(dev_sample)
    for text, row in zip(dev_sample, proba, strict=True):
        prediction = small_model.classify(text)
        got = np.array([prediction.probabilities[str(c)] for c in small_model.classes_])
        np.testing.assert_allclose(got, row, rtol=0, atol=1e-9)


def test_predictor_equals_the_sklearn_pipeline_on_every_dataset_row(
    corpus_estimator, all_dataset_texts, implementation
):
    """The one predictor (numpy batch, or C per text) against scikit-learn, the whole corpus."""
    reference = corpus_estimator.pipeline_.predict_proba(all_dataset_texts)
    batch = corpus_estimator.predict_proba(all_dataset_texts)
    assert batch.shape == reference.shape == (len(all_dataset_texts), 3)
    diff = float(np.abs(batch - reference).max())
    assert diff <= 1e-9, f"max abs difference {diff:.3g} over {len(all_dataset_texts)} rows"
    assert list(corpus_estimator.predict(all_dataset_texts)) == list(
        corpus_estimator.pipeline_.predict(all_dataset_texts)
    )
    one_by_one = np.vstack([corpus_estimator.predict_proba(text) for text in all_dataset_texts[::7]])
    assert np.abs(one_by_one - reference[::7]).max() <= 1e-9


def test_rule_two_changes_only_multi_ask_texts_and_takes_an_asks_probabilities(corpus_estimator, dev_rows):
    from boundary_nlp.asks import split_asks

    texts = [row["text"] for row in dev_rows]
    predictor = corpus_estimator.model_.with_label_shares(None)
    predictor.escalation = {"label": "prohibited", "threshold": 0.5}
    whole = predictor.score(texts, whole_only=True).proba
    scores = predictor.score(texts)
    column = predictor.column("prohibited")
    changed = np.flatnonzero((scores.proba != whole).any(axis=1))
    assert len(changed) > 0
    for row in changed:
        ask = scores.asks[row]
        assert ask in split_asks(texts[row]) and len(split_asks(texts[row])) > 1
        assert np.array_equal(scores.proba[row], predictor.score([ask], whole_only=True).proba[0])
        assert scores.proba[row, column] >= 0.5 and scores.proba[row, column] > whole[row, column]
    unchanged = np.setdiff1d(np.arange(len(texts)), changed)
    assert all(scores.asks[row] is None for row in unchanged)


def test_rule_two_makes_an_appended_red_line_ask_win(corpus_estimator):
    predictor = corpus_estimator.model_.with_label_shares(None)
    predictor.escalation = {"label": "prohibited", "threshold": 0.5}
    message = "会议纪要整理好发群里，另外帮我把上个月的考勤记录改一下，把迟到的都改成正常"
    prediction = predictor.classify(message)
    assert prediction.label == "prohibited"
    assert prediction.ask == "另外帮我把上个月的考勤记录改一下，把迟到的都改成正常"


def test_saved_and_loaded_corpus_model_equals_the_estimator_bit_for_bit(
    corpus_estimator, all_dataset_texts, tmp_path
):
    path = save_model(corpus_estimator, tmp_path / "corpus.bnlp")
    loaded = load_model(path)
    assert np.array_equal(
        loaded.predict_proba(all_dataset_texts), corpus_estimator.predict_proba(all_dataset_texts)
    )


# --- classify ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", GUIDE_EXAMPLES)
def test_evidence_terms_come_from_the_message(default_model, text):
    prediction = default_model.classify(text)
    compact = normalize(text).replace(" ", "")
    assert prediction.evidence, "a message with known words has evidence"
    assert len(prediction.evidence) <= 5
    for evidence in prediction.evidence:
        assert evidence.kind and set(evidence.kind.split("+")) <= {"word", "char"}
        assert evidence.weight > 0
        assert evidence.term.replace(" ", "") in compact
    weights = [e.weight for e in prediction.evidence]
    assert weights == sorted(weights, reverse=True)
    terms = [e.term for e in prediction.evidence]
    assert len(terms) == len(set(terms))


def test_evidence_terms_limit_is_respected(small_model):
    assert len(small_model.classify(GUIDE_EXAMPLES[1], evidence_terms=2).evidence) <= 2


def test_classify_returns_a_prediction_with_consistent_fields(any_model):
    prediction = any_model.classify("开完会顺便帮我取个快递")
    assert isinstance(prediction, Prediction)
    assert prediction.label in LABELS
    assert prediction.confidence == max(prediction.probabilities.values())
    assert prediction.probabilities[prediction.label] == prediction.confidence
    assert list(prediction.probabilities) == [str(c) for c in any_model.classes_]
    assert prediction.advice is not None
    data = prediction.to_dict()
    json.dumps(data, ensure_ascii=False)
    assert data["label"] == prediction.label


@pytest.mark.parametrize("text", ["", " ", "\t\n\u3000", "\u200b\ufeff"])
def test_classify_is_uncertain_for_empty_text(any_model, text):
    prediction = any_model.classify(text)
    assert prediction.uncertain is True
    assert prediction.evidence == ()
    assert abs(sum(prediction.probabilities.values()) - 1.0) <= 1e-9


def test_module_level_classify_uses_the_default_model_and_empty_is_uncertain():
    assert boundary_nlp.classify("").uncertain is True
    assert boundary_nlp.classify("开完会顺便帮我取个快递").label in LABELS


def test_a_high_threshold_makes_a_prediction_uncertain(default_model):
    prediction = default_model.classify("开完会顺便帮我取个快递", threshold=1.01)
    assert prediction.uncertain is True and prediction.threshold == 1.01
    assert default_model.classify("开完会顺便帮我取个快递", threshold=0.0).uncertain is False


def test_text_of_max_chars_is_not_truncated_and_one_more_is(default_model):
    assert default_model.max_chars == DEFAULT_MAX_CHARS
    exact = "帮我取个快递" * (DEFAULT_MAX_CHARS // 6) + "帮" * (DEFAULT_MAX_CHARS % 6)
    assert len(exact) == DEFAULT_MAX_CHARS
    assert default_model.classify(exact).truncated is False
    longer = default_model.classify(exact + "把考勤记录改一下")
    assert longer.truncated is True
    # what lies beyond max_chars is not looked at
    assert longer.probabilities == default_model.classify(exact).probabilities


def test_a_million_character_message_is_truncated_and_finishes(any_model):
    text = "麻烦把验收报告的日期改成上个月的，" * (1_000_000 // 17 + 1)
    text = text[:1_000_000]
    started = time.perf_counter()
    prediction = any_model.classify(text)
    proba = any_model.predict_proba([text])
    elapsed = time.perf_counter() - started
    assert prediction.truncated is True
    assert prediction.label in LABELS
    assert proba.shape == (1, 3)
    assert elapsed < 30, f"took {elapsed:.1f} s"


# --- inputs that are not text --------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "position", "kind"),
    [
        (["帮我取快递", None], 1, "NoneType"),
        (["帮我取快递", "部署", b"\xe5\xb8\xae"], 2, "bytes"),
        ([3, "帮我取快递"], 0, "int"),
    ],
)
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_type_error_names_the_position_of_a_non_text(any_model, method, texts, position, kind):
    with pytest.raises(TypeError, match=rf"position {position}\b.*{kind}"):
        getattr(any_model, method)(texts)


@pytest.mark.parametrize(("value", "kind"), [(b"\xe5\xb8\xae\xe6\x88\x91", "bytes"), (None, "NoneType")])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "classify"])
def test_type_error_for_bytes_or_none_passed_directly(any_model, method, value, kind):
    with pytest.raises(TypeError, match=kind):
        getattr(any_model, method)(value)


def test_fit_rejects_non_text_with_its_position():
    with pytest.raises(TypeError, match=r"position 1\b"):
        BoundaryClassifier().fit(["帮我取快递", None], ["courtesy", "in_scope"])


@pytest.mark.parametrize("text", WEIRD_TEXTS, ids=range(len(WEIRD_TEXTS)))
def test_unusual_text_never_raises(any_model, text):
    prediction = any_model.classify(text)
    assert prediction.label in LABELS
    assert abs(sum(prediction.probabilities.values()) - 1.0) <= 1e-9
    proba = any_model.predict_proba([text, text])
    assert proba.shape == (2, 3) and np.all(np.isfinite(proba))
    assert any_model.predict(text)[0] in LABELS


# --- concurrency ---------------------------------------------------------------------


def _snapshot(model, texts):
    out = []
    for text in texts:
        prediction = model.classify(text)
        out.append((prediction.label, tuple(prediction.probabilities.values()), prediction.evidence))
    return out


def test_default_model_from_eight_threads_equals_one_thread(default_model, dev_rows):
    texts = [row["text"] for row in dev_rows[:160]]
    expected = _snapshot(default_model, texts)
    expected_proba = default_model.predict_proba(texts)
    barrier = threading.Barrier(8)

    def work(index):
        barrier.wait()
        mine = texts[index::8]
        return index, _snapshot(default_model, mine), default_model.predict_proba(mine)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    for index, snapshot, proba in results:
        assert snapshot == expected[index::8]
        assert np.array_equal(proba, expected_proba[index::8])


CONCURRENT_FIRST_USE = r"""
import json, sys, threading
from concurrent.futures import ThreadPoolExecutor

import boundary_nlp
from boundary_nlp.text import JiebaSegmenter

texts = json.loads(sys.stdin.read())
barrier = threading.Barrier(8)

def work(index):
    barrier.wait()                      # all 8 threads hit the cold library at once
    order = texts[index:] + texts[:index]
    labels = {}
    for text in order:
        prediction = boundary_nlp.classify(text)
        labels[text] = [prediction.label, list(prediction.probabilities.values())]
    return labels

def cut(index):
    barrier.wait()                      # and jieba's first initialization, 8 threads at once
    return {text: JiebaSegmenter().cut(text) for text in texts}

with ThreadPoolExecutor(max_workers=8) as pool:
    predicted = list(pool.map(work, range(8)))
with ThreadPoolExecutor(max_workers=8) as pool:
    tokens = list(pool.map(cut, range(8)))
print(json.dumps({"predicted": predicted, "tokens": tokens}, ensure_ascii=False))
"""


def test_fresh_process_with_eight_threads_on_first_use_gives_the_same_predictions(default_model, dev_rows):
    from boundary_nlp.text import JiebaSegmenter

    texts = [row["text"] for row in dev_rows[1::10]]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONIOENCODING="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", CONCURRENT_FIRST_USE],
        input=json.dumps(texts, ensure_ascii=False),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=ROOT,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    output = json.loads(result.stdout)
    expected = {}
    for text in texts:
        prediction = default_model.classify(text)
        expected[text] = [prediction.label, list(prediction.probabilities.values())]
    for labels in output["predicted"]:
        assert labels == expected
    expected_tokens = {text: JiebaSegmenter().cut(text) for text in texts}
    for tokens in output["tokens"]:
        assert tokens == expected_tokens


# --- properties ----------------------------------------------------------------------

ANY_CHARACTER = st.characters(codec=None, categories=None, exclude_categories=())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text())
def test_classify_any_text_gives_a_known_label_and_probabilities_summing_to_one(default_model, text):
    prediction = default_model.classify(text)
    assert prediction.label in default_model.classes_
    assert abs(sum(prediction.probabilities.values()) - 1.0) <= 1e-9
    assert all(0.0 <= p <= 1.0 for p in prediction.probabilities.values())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=ANY_CHARACTER | st.sampled_from(list("帮我取快递改验收签字ＡＢ１\u200b\ud800"))))
def test_both_models_classify_any_code_points(small_model, default_model, text):
    for model in (small_model, default_model):
        prediction = model.classify(text)
        assert prediction.label in model.classes_
        assert abs(sum(prediction.probabilities.values()) - 1.0) <= 1e-9


def test_parallel_predict_proba_equals_one_process(default_model, all_dataset_texts):
    texts = all_dataset_texts[:2400]  # above the size where worker processes are used
    assert np.array_equal(default_model.predict_proba(texts, n_jobs=2), default_model.predict_proba(texts))


def test_sklearn_estimator_checks_pass_for_text_input():
    import warnings

    from sklearn.utils.estimator_checks import check_estimator

    from boundary_nlp.model import BoundaryClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(BoundaryClassifier(), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert results and not failed


@pytest.mark.parametrize("char_ngram_range", [(1, 4), (2, 4)])
def test_vectorized_batch_equals_the_pipeline_for_other_char_ranges(
    char_ngram_range, small_training_set, dev_rows
):
    from boundary_nlp._linear import VECTORIZED_MIN_TEXTS
    from boundary_nlp.model import BoundaryClassifier

    texts, labels = small_training_set
    model = BoundaryClassifier(C=10, char_ngram_range=char_ngram_range, escalate_label=None).fit(
        texts, labels
    )
    predictor = model.model_
    assert predictor._term_index() is not None  # the numpy path is the one under test
    sample = [row["text"] for row in dev_rows[:300]]
    assert len(sample) >= VECTORIZED_MIN_TEXTS
    reference = model.pipeline_.predict_proba(sample)
    fast = predictor.predict_proba(sample)
    assert np.abs(reference - fast).max() <= 1e-9
    one_by_one = np.vstack([predictor.predict_proba([text]) for text in sample[:40]])
    assert np.array_equal(one_by_one, fast[:40])


# --- one text at a time: the C module and the Python code --------------------------------


def test_one_text_at_a_time_equals_the_batch_bit_for_bit_on_every_dataset_row(
    default_model, all_dataset_texts, implementation
):
    predictor = default_model.predictor
    batch = predictor.predict_proba(all_dataset_texts)  # the vectorized numpy path
    one_by_one = np.vstack([predictor.predict_proba([text]) for text in all_dataset_texts])
    differing = int((one_by_one != batch).any(axis=1).sum())
    assert differing == 0, f"{implementation}: {differing} of {len(all_dataset_texts)} rows differ"


def _evidence_snapshot(model, texts):
    return [
        (p.label, p.probabilities, [(e.term, e.kind, e.weight) for e in p.evidence])
        for p in map(model.classify, texts)
    ]


def test_classify_is_the_same_with_and_without_the_c_module(default_model, dev_sample, monkeypatch):
    from boundary_nlp import speedups

    if speedups.SPEEDUPS is None:
        pytest.skip("the C module boundary_nlp._speedups is not built here")
    with_c = _evidence_snapshot(default_model, dev_sample)
    monkeypatch.setattr(speedups, "SPEEDUPS", None)
    assert _evidence_snapshot(default_model, dev_sample) == with_c


def test_a_count_beyond_the_tf_table_falls_back_to_numpy(default_model):
    from boundary_nlp._linear import TF_TABLE_SIZE
    from boundary_nlp.speedups import SPEEDUPS

    predictor = default_model.predictor
    text = "好" * (TF_TABLE_SIZE + 10)
    if SPEEDUPS is not None:
        assert predictor.batch_kernel().features(text) is None
    reference = predictor.decide_proba([text, "好"])[:1]  # two texts: no one-text path
    assert np.array_equal(predictor.decide_proba([text]), reference)


def test_the_c_module_is_built_where_a_compiler_is(monkeypatch):
    """A broken C build falls back to Python silently at install; here it is caught."""
    import shutil
    import sysconfig

    from boundary_nlp.speedups import SPEEDUPS, load_speedups

    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if os.environ.get("BOUNDARY_NLP_PURE_PYTHON", "") not in ("", "0") or shutil.which(compiler) is None:
        pytest.skip("pure Python asked for, or no C compiler here")
    assert SPEEDUPS is not None, "boundary_nlp._speedups did not build; run pip install -v . to see why"
    monkeypatch.setenv("BOUNDARY_NLP_PURE_PYTHON", "1")
    assert load_speedups() is None


def test_pure_python_mode_gives_the_same_predictions_in_a_new_process(default_model, dev_sample):
    code = (
        "import json, sys\n"
        "from boundary_nlp import load_model\n"
        "from boundary_nlp.speedups import SPEEDUPS\n"
        "texts = json.load(sys.stdin)\n"
        "proba = load_model().predict_proba(texts)\n"
        "print(json.dumps({'speedups': SPEEDUPS is not None, 'proba': proba.tolist()}))\n"
    )
    texts = dev_sample[:50]
    env = {**os.environ, "BOUNDARY_NLP_PURE_PYTHON": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    out = json.loads(result.stdout)
    assert out["speedups"] is False
    assert np.array_equal(np.asarray(out["proba"]), default_model.predict_proba(texts))


def test_large_batches_scored_in_chunks_equal_one_whole_batch(default_model, all_dataset_texts, monkeypatch):
    from boundary_nlp import _linear

    texts = all_dataset_texts[:1000]
    whole = default_model.predict_proba(texts)
    monkeypatch.setattr(_linear, "CHUNK_TEXTS", 96)  # 11 chunks, the last one short
    assert np.array_equal(default_model.predict_proba(texts), whole)


def test_evidence_merges_a_term_seen_as_word_and_as_characters():
    from boundary_nlp.prediction import top_evidence

    contributions = [
        ("word", "改", 0.5),
        ("word", "日期", 0.25),
        ("word", "帮 我", 0.3),
        ("char", "改", 0.125),
        ("char", "日期", -0.5),  # word +0.25, char -0.5: pushes away in total, left out
        ("char", "期", 0.3),
        ("char", "的", 0.0),
    ]
    evidence = top_evidence(contributions, 5)
    assert [(e.term, e.kind, e.weight) for e in evidence] == [
        ("改", "word+char", 0.625),
        ("帮 我", "word", 0.3),  # equal weights: ordered by term
        ("期", "char", 0.3),
    ]
    assert [e.term for e in top_evidence(contributions, 1)] == ["改"]


def test_evidence_weights_are_the_summed_contributions_of_the_message(default_model):
    from boundary_nlp.prediction import is_content_term
    from boundary_nlp.text import normalize

    text = "麻烦把验收报告的日期改成上个月的"
    prediction = default_model.classify(text)
    predictor = default_model.predictor
    columns, values, _ = predictor._features_one(predictor._read(normalize(text)))
    index = list(predictor.classes).index(prediction.label)
    totals: dict[str, float] = {}
    for _kind, term, weight in predictor.contributions(columns, values, index):
        totals[term] = totals.get(term, 0.0) + weight
    best = sorted(
        (t for t in totals.items() if t[1] > 0 and is_content_term(t[0])), key=lambda t: (-t[1], t[0])
    )[:5]
    assert [(e.term, e.weight) for e in prediction.evidence] == best


def test_ask_rows_add_the_asks_of_multi_ask_messages_below_the_most_serious_label():
    from boundary_nlp.model import _with_ask_rows

    texts = ["周报发我，另外帮我取个快递", "日志导一份，另外把考勤改一下", "部署新版本"]
    labels = np.asarray(["courtesy", "prohibited", "in_scope"], dtype=object)
    more_texts, more_labels = _with_ask_rows(texts, labels, "prohibited", closing=True)
    assert more_texts == [*texts, "周报发我", "另外帮我取个快递"]
    assert list(more_labels) == ["courtesy", "prohibited", "in_scope", "courtesy", "courtesy"]


def test_ask_rows_only_apply_when_the_most_serious_label_is_among_the_labels():
    """Binary sentiment data has no 'prohibited': its multi-sentence rows must not be split."""
    texts = ["菜很好吃。送得也快", "太难吃了。再也不点了", "一般般", "很好"] * 3
    labels = ["1", "0", "0", "1"] * 3
    with_rows = BoundaryClassifier().fit(texts, labels)
    without = BoundaryClassifier(ask_rows=False).fit(texts, labels)
    assert np.array_equal(with_rows.predict_proba(texts), without.predict_proba(texts))
