"""The closing pleasantries are not read (``boundary_nlp.closing``).

The closings here are written for these tests; none is taken from the behaviour suite's
PLEASANTRIES/THANKS lists (those measure the model, they must not shape the rule).
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boundary_nlp import load_model, save_model
from boundary_nlp.closing import closing_start, drop_closing, only_closing
from boundary_nlp.features import CharNgrams, WordNgrams, analyzer_from_spec
from boundary_nlp.model import BoundaryClassifier
from boundary_nlp.text import normalize, read_text

ASK = "帮我把验收报告的日期改成上个月的"


def dropped(text: str) -> str:
    return drop_closing(normalize(text))


@pytest.mark.parametrize(
    "closing",
    [
        "，多谢！",
        "，感谢🙏",
        "，感谢感谢",
        "，辛苦辛苦",
        "。拜托了",
        "，拜托拜托🙏🙏",
        "，谢谢老师",
        "～谢啦",
        "谢谢",  # runs into the message
        "，谢谢王工~",
        "，大家辛苦了！",
        "，辛苦您了",
        "麻烦你了",
        "，麻烦啦",
        "，先谢谢了哈",
        "，感谢您的配合！",
        "，thank you!",
        " thx",
        "，谢谢，辛苦了！！",  # several
        "，感激不尽",
        "，打扰了",
    ],
)
def test_a_closing_pleasantry_is_dropped(closing):
    assert dropped(ASK + closing).rstrip("。!") == normalize(ASK)


@pytest.mark.parametrize(
    "text",
    [
        "谢谢你们帮忙把报告改了",  # thanks that is not at the end
        "麻烦把报告发我",  # an ask
        "辛苦费给你转了",
        "这个流程太麻烦了",  # 麻烦了 without a separator is content
        "你们这样也太辛苦了",
        "工作很辛苦",
        "给您添麻烦了",
        "代我谢谢张总",  # asks to thank someone
        "帮我把验收报告改了",
    ],
)
def test_content_is_kept_whole(text):
    assert dropped(text) == normalize(text)
    assert closing_start(normalize(text)) == len(normalize(text))


def test_only_the_thanks_of_a_closing_with_an_ask_is_dropped():
    assert dropped("麻烦尽快，谢谢") == "麻烦尽快"


@pytest.mark.parametrize("text", ["谢谢！", "辛苦了🙏", "多谢多谢", "，麻烦您了！", "thx"])
def test_a_text_that_is_only_a_pleasantry_is_kept_whole(text):
    assert dropped(text) == normalize(text)


def test_a_sentence_end_before_the_closing_is_kept():
    assert dropped("帮我改一下！谢谢！") == normalize("帮我改一下！")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("谢多感辛苦麻烦您了啦拜托老师王工，。! 🙏帮我改日期thx~")))
def test_dropping_leaves_a_prefix_and_keeps_content(text):
    normalized = normalize(text)
    result = drop_closing(normalized)
    assert normalized.startswith(result)
    if any(char.isalpha() for char in normalized):
        assert any(char.isalpha() for char in result)


def test_read_text_drops_the_closing_only_when_asked():
    normalized = normalize("王工，帮我取个快递，辛苦啦！")
    assert read_text(normalized, content=True, vocative=True, closing=True) == "帮我取个快递"
    assert read_text(normalized, content=True, vocative=True) == "帮我取个快递 辛苦啦"
    assert read_text(normalized, content=False, closing=True) == "王工,帮我取个快递"


@pytest.mark.parametrize(
    "analyzer", [WordNgrams((1, 2), content=True, closing=True), CharNgrams((1, 3), closing=True)]
)
def test_analyzers_with_closing_read_the_same_grams_with_or_without_a_closing(analyzer):
    assert analyzer(ASK + "，辛苦您了！") == analyzer(ASK)
    assert analyzer_from_spec(analyzer.to_spec()).closing is True


def test_a_spec_without_closing_reads_pleasantries_as_before():
    analyzer = analyzer_from_spec({"kind": "char", "ngram_range": [1, 2], "content": True, "vocative": True})
    assert analyzer.closing is False
    assert "谢谢" in analyzer(ASK + "，谢谢！")
    assert "closing" not in CharNgrams((1, 2), vocative=True).to_spec()


# -- a fitted model ------------------------------------------------------------------------

CLOSINGS = ("，多谢！", "，辛苦您啦", "。拜托拜托🙏", "，谢谢老师", "，感谢配合！")


def _closed(texts):
    return [text + closing for text in texts for closing in CLOSINGS]


def test_a_fitted_model_gives_the_same_probabilities_with_a_closing_pleasantry(small_model, dev_sample):
    assert small_model.drop_closing and small_model.model_.closing
    texts = dev_sample[:60]
    expected = np.repeat(small_model.predict_proba(texts), len(CLOSINGS), axis=0)
    assert np.array_equal(small_model.predict_proba(_closed(texts)), expected)


def test_without_drop_closing_a_closing_changes_the_probabilities(small_training_set, dev_sample):
    texts, labels = small_training_set
    model = BoundaryClassifier(C=10, drop_closing=False).fit(texts, labels)
    assert not model.model_.closing and model.model_.vocative
    sample = dev_sample[:20]
    expected = np.repeat(model.predict_proba(sample), len(CLOSINGS), axis=0)
    assert not np.allclose(model.predict_proba(_closed(sample)), expected)


def test_a_saved_model_keeps_its_closing_reading(tmp_path, small_model, dev_sample):
    path = save_model(small_model, tmp_path / "closing.bnlp")
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format_version"] == 4
    assert all(block["analyzer"]["closing"] is True for block in manifest["blocks"])
    loaded = load_model(path)
    assert loaded.predictor.closing
    texts = dev_sample[:20]
    assert np.array_equal(loaded.predict_proba(_closed(texts)), small_model.predict_proba(_closed(texts)))


def test_a_model_that_reads_closings_is_saved_in_the_previous_format(tmp_path, small_training_set):
    texts, labels = small_training_set
    model = BoundaryClassifier(C=10, drop_closing=False, escalate_label=None).fit(texts[::3], labels[::3])
    path = save_model(model, tmp_path / "vocative-only.bnlp")
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format_version"] == 3
    assert all("closing" not in block["analyzer"] for block in manifest["blocks"])
    assert not load_model(path).predictor.closing


@pytest.mark.parametrize("text", ["先谢谢了哈", "辛苦了!", "谢谢,辛苦啦~", "thx"])
def test_a_part_that_is_only_a_pleasantry_is_recognized(text):
    assert only_closing(normalize(text))


@pytest.mark.parametrize("text", ["帮我改一下,谢谢", "这个流程太麻烦了", "麻烦尽快", ""])
def test_a_part_with_content_is_no_pleasantry(text):
    assert not only_closing(normalize(text))


def test_a_pleasantry_after_a_sentence_end_is_no_ask_under_rule_2(small_model):
    assert small_model.model_.asks_of(["帮我把报告改一下。先谢谢了哈"]).texts == []


def test_analyze_and_the_ask_rows_leave_out_a_part_that_is_only_a_closing(small_model):
    """analyze shows the asks the model scores; training's ask rows are the same asks."""
    import numpy as np

    from boundary_nlp.analysis import analyze
    from boundary_nlp.asks import split_asks
    from boundary_nlp.model import _with_ask_rows

    message = "把考勤报表发我。另外帮我取个快递。先谢谢了哈！"
    assert len(split_asks(message)) == 3
    assert small_model.asks(message) == ["把考勤报表发我", "另外帮我取个快递"]
    assert [part.text for part in analyze(message, small_model).parts] == small_model.asks(message)
    texts, labels = _with_ask_rows([message], np.asarray(["courtesy"], dtype=object), "prohibited", True)
    assert texts[1:] == ["把考勤报表发我", "另外帮我取个快递"]
    texts, _ = _with_ask_rows([message], np.asarray(["courtesy"], dtype=object), "prohibited", False)
    assert len(texts) == 4


def test_the_quick_stem_check_never_changes_a_result(all_dataset_texts, monkeypatch):
    """``_STEMS`` only skips texts the full pattern cannot match: with it matching everything
    (no skipping), every corpus text and its closing-appended forms give the same answers."""
    import re

    from boundary_nlp import closing
    from boundary_nlp.text import normalize

    texts = [normalize(text) for text in all_dataset_texts[::3]]
    tails = (",谢谢!", "辛苦了", ",多谢王工~", "thx", "拜托拜托")
    texts += [text + tail for text in texts[:300] for tail in tails]
    fast = [(closing.closing_start(text), closing.only_closing(text)) for text in texts]
    monkeypatch.setattr(closing, "_STEMS", re.compile(""))
    assert [(closing.closing_start(text), closing.only_closing(text)) for text in texts] == fast
