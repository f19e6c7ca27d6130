"""Bulk scoring: the C batch kernel behind ``decide_proba``, threads, bounded memory, pickling.

The kernel must give the numpy path's probabilities bit for bit (``speedups.SPEEDUPS = None``
turns every C path off), on every dataset row and on generated text, for the shipped model
and for freshly fitted ones (content-only features and rule 2; a custom user dictionary,
which the kernel declines).
"""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boundary_nlp import speedups
from boundary_nlp.model import BoundaryClassifier
from boundary_nlp.text import normalize

needs_c = pytest.mark.skipif(speedups.SPEEDUPS is None, reason="the C module is not built here")


def _numpy_proba(model, texts, monkeypatch, **kwargs):
    with monkeypatch.context() as patch:
        patch.setattr(speedups, "SPEEDUPS", None)
        return model.predict_proba(texts, **kwargs)


@needs_c
@pytest.mark.parametrize("n_threads", [1, 2])
def test_batch_kernel_equals_numpy_bit_for_bit_on_every_dataset_row(
    default_model, all_dataset_texts, monkeypatch, n_threads
):
    predictor = default_model.predictor
    assert predictor.batch_kernel() is not None
    kernel = default_model.predict_proba(all_dataset_texts, n_threads=n_threads)
    reference = _numpy_proba(default_model, all_dataset_texts, monkeypatch)
    differing = int((kernel != reference).any(axis=1).sum())
    assert differing == 0, f"{differing} of {len(all_dataset_texts)} rows differ"


@needs_c
def test_batch_kernel_equals_numpy_for_a_fitted_content_model_with_rule_two(
    small_model, all_dataset_texts, monkeypatch
):
    predictor = small_model.model_
    assert predictor.content and predictor.escalation is not None
    assert predictor.batch_kernel() is not None
    texts = all_dataset_texts[::3]
    assert np.array_equal(
        small_model.predict_proba(texts, n_threads=2), _numpy_proba(small_model, texts, monkeypatch)
    )
    # the kernel reads what numpy reads: content_text is applied before both
    normalized = [normalize(text) for text in texts[:500]]
    with monkeypatch.context() as patch:
        patch.setattr(speedups, "SPEEDUPS", None)
        reference = predictor.decide_proba(normalized)
    assert np.array_equal(predictor.decide_proba(normalized), reference)


TEXT = st.text(
    alphabet=st.characters(codec=None, categories=None, exclude_categories=())
    | st.sampled_from(list("帮我取快递改验收报告日期签字的了吗abc123 .-_%#&+，。！？😀\u200b\ud800")),
    max_size=60,
)


@needs_c
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXT, min_size=1, max_size=40))
def test_batch_kernel_equals_numpy_on_generated_text(default_model, small_model, monkeypatch, texts):
    for model in (default_model, small_model):
        normalized = [normalize(text) for text in texts]
        predictor = model._predictor()
        expected = predictor.decide_proba(normalized)
        with monkeypatch.context() as patch:
            patch.setattr(speedups, "SPEEDUPS", None)
            reference = predictor.decide_proba(normalized)
        assert np.array_equal(expected, reference)


@needs_c
def test_a_count_beyond_the_tf_table_in_a_batch_is_scored_by_numpy(default_model, monkeypatch):
    from boundary_nlp._linear import TF_TABLE_SIZE

    predictor = default_model.predictor
    texts = ["帮我取个快递", "好" * (TF_TABLE_SIZE + 10), "麻烦把验收报告的日期改成上个月的"]
    normalized = [normalize(text) for text in texts]
    with monkeypatch.context() as patch:
        patch.setattr(speedups, "SPEEDUPS", None)
        reference = predictor.decide_proba(normalized)
    assert np.array_equal(predictor.decide_proba(normalized), reference)


def test_a_custom_user_dictionary_model_falls_back_to_numpy_with_the_same_results(
    tmp_path, small_training_set, dev_rows, monkeypatch
):
    userdict = tmp_path / "words.txt"
    userdict.write_text("验收报告 50\n取快递 30\n", encoding="utf-8")
    texts, labels = small_training_set
    model = BoundaryClassifier(C=10, userdict=str(userdict), escalate_label=None).fit(texts, labels)
    predictor = model.model_
    assert predictor.batch_kernel() is None  # jieba with the user's words: the kernel declines
    assert predictor.threads_for(100_000) == 1  # and no threads that would only take turns
    sample = [row["text"] for row in dev_rows[:1200]]
    proba = model.predict_proba(sample)
    assert np.array_equal(proba, _numpy_proba(model, sample, monkeypatch))
    assert np.abs(proba - model.pipeline_.predict_proba(sample)).max() <= 1e-9


@needs_c
def test_large_batches_use_every_core_by_default_and_small_ones_one_thread(default_model):
    import os

    predictor = default_model.predictor
    assert predictor.threads_for(10) == 1
    assert predictor.threads_for(100_000) == (os.cpu_count() or 1)
    assert predictor.threads_for(100_000, n_threads=1) == 1
    assert predictor.threads_for(5, n_threads=-1) == (os.cpu_count() or 1)


def test_results_do_not_depend_on_the_thread_count_or_the_chunking(
    default_model, all_dataset_texts, monkeypatch
):
    from boundary_nlp import _linear

    texts = all_dataset_texts[:5000]
    one = default_model.predict_proba(texts, n_threads=1)
    assert np.array_equal(default_model.predict_proba(texts, n_threads=3), one)
    # fewer texts than one chunk still go to threads when asked
    assert np.array_equal(default_model.predict_proba(texts[:1500], n_threads=2), one[:1500])
    monkeypatch.setattr(_linear, "CHUNK_TEXTS", 300)
    assert np.array_equal(default_model.predict_proba(texts, n_threads=2), one)
    scores = default_model.predictor.score(texts, n_threads=2)
    assert len(scores.reasons) == len(scores.truncated) == len(texts)


def test_predict_proba_memory_beyond_the_results_does_not_grow_with_the_batch(default_model, dev_rows):
    base = [row["text"] for row in dev_rows]
    default_model.predict_proba(base)  # dictionary buckets and lookup tables built outside the count

    def peak(count: int) -> int:
        texts = [f"{base[i % len(base)]}{i}" for i in range(count)]
        tracemalloc.start()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        default_model.predict_proba(texts)
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        return peak

    small, large = peak(10_000), peak(40_000)
    # per text the results take 3 floats, a flag and a reason (about 50 bytes); anything
    # holding whole-batch features would be kilobytes per text
    assert large - small < 30_000 * 200, (small, large)


def test_models_pickle_small_and_score_the_same_after(default_model, dev_rows):
    from boundary_nlp.persistence import default_model_path

    texts = [row["text"] for row in dev_rows[:3000]]
    expected = default_model.predict_proba(texts)  # builds the kernel and lookup tables
    data = pickle.dumps(default_model)
    # only the model's own data travels, not the kernel, the dictionary or lookup tables
    assert len(data) < 3 * default_model_path().stat().st_size
    assert np.array_equal(pickle.loads(data).predict_proba(texts), expected)


@needs_c
def test_a_loaded_model_scores_and_explains_with_c_without_building_python_vocabularies():
    """The cold-start path: the kernel reads the joined terms, so a fresh model predicts (and
    classify gives evidence) without a term -> column dictionary per block."""
    from boundary_nlp import load_model

    predictor = load_model().predictor
    predictor.predict_proba(["帮我把合同金额改一下，另外周末能请你吃饭吗"])
    prediction = predictor.classify("请把周报发我")
    assert prediction.evidence
    assert all(block._vocabulary is None for block in predictor.blocks)


@needs_c
def test_the_kernel_refuses_terms_that_repeat_or_miscount(default_model):
    predictor = default_model.predictor
    module = speedups.SPEEDUPS
    idf = np.ones(3)
    coef = np.zeros((3, 2))
    intercept = np.zeros(2)
    tf = predictor.tf_table()
    with pytest.raises(ValueError, match="repeats"):
        module.kernel_new(((False, 1, 2, 0, 3, "帮\n改\n帮"),), tf, idf, coef, intercept, None)
    with pytest.raises(ValueError, match="not 3 lines"):
        module.kernel_new(((False, 1, 2, 0, 3, "帮\n改"),), tf, idf, coef, intercept, None)
    with pytest.raises(ValueError, match="not 3 lines"):
        module.kernel_new(((False, 1, 2, 0, 3, "帮\n改\n签\n删"),), tf, idf, coef, intercept, None)
    capsule = module.kernel_new(((False, 1, 2, 0, 3, "帮\n改\n签"),), tf, idf, coef, intercept, None)
    assert capsule is not None


def test_feature_blocks_from_joined_terms_equal_blocks_from_a_list(default_model):
    from boundary_nlp._linear import FeatureBlock

    block = default_model.predictor.blocks[0]
    joined = FeatureBlock(block.name, block.analyzer, block.joined, block.idf, block.offset)
    listed = FeatureBlock(block.name, block.analyzer, list(block.terms), block.idf, block.offset)
    assert joined.terms == listed.terms and joined.vocabulary == listed.vocabulary
    assert pickle.loads(pickle.dumps(listed)).terms == block.terms
    with pytest.raises(ValueError, match="terms are not unique"):
        _ = FeatureBlock("x", block.analyzer, "帮\n帮", np.ones(2), 0).vocabulary
    with pytest.raises(ValueError, match="line break"):
        FeatureBlock("x", block.analyzer, ["帮\n改"], np.ones(1), 0)


def test_concurrent_n_jobs_calls_on_two_models_each_get_their_own_model(
    default_model, small_model, all_dataset_texts
):
    """Forked workers find their call's model by key: two calls at once cannot swap models."""
    from concurrent.futures import ThreadPoolExecutor

    texts = all_dataset_texts[:2500]
    models = [default_model, small_model.model_]
    expected = [model.predict_proba(texts) for model in models]
    assert not np.array_equal(expected[0], expected[1])
    with ThreadPoolExecutor(max_workers=2) as pool:
        got = list(pool.map(lambda model: model.predict_proba(texts, n_jobs=2), models))
    for mine, reference in zip(got, expected):
        assert np.array_equal(mine, reference)


@needs_c
def test_n_threads_one_scores_on_the_calling_thread_only(default_model, all_dataset_texts, monkeypatch):
    """``n_threads=1`` holds for the asks of rule 2 too: no thread pool anywhere."""
    from boundary_nlp import _linear

    pools = []

    class Counting(_linear.ThreadPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(kwargs.get("max_workers"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_linear, "ThreadPoolExecutor", Counting)
    texts = all_dataset_texts[:5000]
    one = default_model.predict_proba(texts, n_threads=1)
    assert pools == []
    assert np.array_equal(default_model.predict_proba(texts, n_threads=2), one) and pools


@needs_c
def test_the_kernels_content_reading_equals_content_text(all_dataset_texts):
    """The kernel applies text.content_text itself (``kernel_score(..., content=True)``): its C
    copy must give the same text for every character and for real messages."""
    from boundary_nlp.text import content_text

    copy = speedups.SPEEDUPS.content_text
    # every code point, in runs mixed with separators, digits and underscores
    step = 4096
    for start in range(0, 0x110000, step):
        chars = "".join(chr(code) for code in range(start, min(start + step, 0x110000)))
        for text in (chars, " ".join(chars), "_1".join(chars[::7]), "a" + chars[::-1] + "9"):
            assert copy(text) == content_text(text), hex(start)
    for text in all_dataset_texts:
        normalized = normalize(text)
        assert copy(normalized) == content_text(normalized), text


@needs_c
@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_the_kernels_content_reading_equals_content_text_on_generated_text(text):
    from boundary_nlp.text import content_text

    assert speedups.SPEEDUPS.content_text(text) == content_text(text)
