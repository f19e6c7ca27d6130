from __future__ import annotations

import pickle
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boundary_nlp.features import WordNgrams
from boundary_nlp.text import JiebaSegmenter, normalize, read_userdict, to_simplified

# --- normalize -------------------------------------------------------------------------


def test_normalize_maps_full_width_latin_and_digits_to_half_width():
    assert normalize("ＡＢＣｄｅｆ１２３") == "abcdef123"
    assert normalize("ＵＡＴ环境") == "uat环境"


def test_normalize_maps_full_width_punctuation_and_ideographic_space():
    assert normalize("ok！\u3000ok？") == "ok! ok?"


def test_normalize_converts_traditional_to_simplified():
    assert normalize("驗收報告") == "验收报告"
    assert to_simplified("麻煩幫我把驗收報告的日期改一下") == "麻烦帮我把验收报告的日期改一下"


def test_normalize_leaves_simplified_chinese_unchanged():
    text = "开完会顺便帮我取个快递"
    assert normalize(text) == text


def test_normalize_lower_cases_latin():
    assert normalize("Deploy the UAT Server") == "deploy the uat server"


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e"])
def test_normalize_removes_zero_width_and_format_characters(invisible):
    assert normalize(f"帮{invisible}我取{invisible}快递") == "帮我取快递"


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\x9f"])
def test_normalize_removes_control_characters(control):
    result = normalize(f"帮我{control}取快递{control}")
    assert control not in result
    assert result.replace(" ", "") == "帮我取快递"


@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "\udc80abc", "x\ud83d"])
def test_normalize_does_not_raise_on_lone_surrogates(surrogate):
    result = normalize(f"帮我{surrogate}取快递")
    result.encode("utf-8")  # no surrogate is left over
    assert "帮我" in result


def test_normalize_collapses_and_strips_whitespace():
    assert normalize("  帮我 \t\n  取  快递\r\n ") == "帮我 取 快递"


def test_normalize_of_empty_and_whitespace_only_text_is_empty():
    assert normalize("") == ""
    assert normalize(" \t\n\u3000\u200b ") == ""


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, categories=None, exclude_categories=())))
def test_normalize_output_is_clean_for_any_text(text):
    result = normalize(text)
    assert isinstance(result, str)
    result.encode("utf-8")
    assert result == result.strip()
    assert "  " not in result
    assert not any(unicodedata.category(ch) == "Cc" for ch in result)
    assert "\u200b" not in result and "\ufeff" not in result


# --- JiebaSegmenter --------------------------------------------------------------------


def test_jieba_segmenter_keeps_single_character_words():
    tokens = JiebaSegmenter().cut("帮我取个快递")
    assert "帮" in tokens and "我" in tokens
    assert "".join(tokens) == "帮我取个快递"


def test_word_ngrams_keep_single_character_unigrams():
    grams = WordNgrams((1, 2))("帮我改")
    assert "帮" in grams and "我" in grams


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("驻场的同事把变更单签一下", "变更单"),
        ("请把变更单发给驻场工程师", "变更单"),
        ("请把变更单发给驻场工程师", "驻场"),
        ("别走流程了直接改生产库", "生产库"),
    ],
)
def test_jieba_segmenter_uses_the_domain_dictionary(text, word):
    assert word in JiebaSegmenter().cut(text)


def test_domain_dictionary_contains_the_words_tested():
    words = {word for word, _ in read_userdict()}
    assert {"变更单", "驻场", "生产库"} <= words


def test_jieba_segmenter_drops_whitespace_tokens():
    tokens = JiebaSegmenter().cut("帮我 取个\t快递")
    assert tokens and not any(token.isspace() for token in tokens)


def test_jieba_segmenter_pickles_without_the_tokenizer():
    segmenter = JiebaSegmenter(hmm=False)
    before = segmenter.cut("请把变更单发给驻场工程师")
    data = pickle.dumps(segmenter)
    assert len(data) < 1000  # jieba's dictionary is not inside
    copy = pickle.loads(data)
    assert copy == segmenter
    assert hash(copy) == hash(segmenter)
    assert copy.cut("请把变更单发给驻场工程师") == before


def test_jieba_segmenter_equality_depends_on_parameters():
    assert JiebaSegmenter() == JiebaSegmenter("default", False)
    assert JiebaSegmenter(hmm=True) != JiebaSegmenter(hmm=False)
