"""The opening greeting or form of address is not read (``boundary_nlp.vocative``).

The forms here are written for these tests; none is the behaviour suite's GREETINGS list
(that list measures the model, it must not shape the rule).
"""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boundary_nlp import load_model, save_model, vocative
from boundary_nlp._regex import first_characters
from boundary_nlp.features import CharNgrams, WordNgrams, analyzer_from_spec
from boundary_nlp.model import BoundaryClassifier
from boundary_nlp.text import normalize, read_text
from boundary_nlp.vocative import drop_vocative, vocative_end

ASK = "帮我把验收报告的日期改成上个月的"


def dropped(text: str) -> str:
    return drop_vocative(normalize(text))


@pytest.mark.parametrize(
    "opening",
    [
        "赵工，",  # surname + title
        "孙老师：",
        "欧阳总，",  # compound surname
        "覃经理 ",  # a space is a separator too
        "黄生，",  # Cantonese 黄先生
        "陈sir，",
        "小何，",  # 小/老 + surname
        "老马：",
        "阿强，",  # 阿 + a name
        "阿ken，",
        "项目经理，",  # a role without a name
        "各位领导好，",
        "各参建单位：",
        "吴主任您好，",  # address + greeting
        "郑工早，",
        "小刘啊，",  # address + particle
        "您好，",  # greetings
        "早上好！",
        "在不在？",
        "打扰一下，",
        "冒昧打扰一下，",
        "Hi 王工，",  # greeting + address
        "晚上好杨工，",  # ... without a separator between them
        "hello Tom, ",
        "Dear 李总，",
        "lisa你好，",
        "@周经理 ",
        "宋总，早上好，在吗？",  # several
        "您好",  # run-on greetings
        "在吗",
    ],
)
def test_an_opening_greeting_or_address_is_dropped(opening):
    assert dropped(opening + ASK) == normalize(ASK)


@pytest.mark.parametrize(
    "text",
    [
        "张总的报价单发我一份",  # about 张总, not to him: no separator
        "王工帮我看下日志",  # an address without a separator is kept
        "施工，注意安全帽",  # surname + title that is an ordinary word
        "卫生，每天下班前搞一下",
        "马上，帮我改一下",
        "周末，帮我搬个家",
        "好，那就按这个方案来",
        "小心，别删库",
        "您好像忘了发周报",
        "你好像没提交代码",
        "早点把周报发我",
        "帮我问下王工，他的电脑密码是多少",  # a name inside the message
        "老是出错，帮我看看",
    ],
)
def test_text_that_does_not_open_with_a_vocative_is_kept_whole(text):
    assert dropped(text) == normalize(text)


@pytest.mark.parametrize("text", ["王工，在吗？", "您好！", "在吗", "各位领导：", "刘姐，"])
def test_a_message_that_is_only_a_greeting_is_kept_whole(text):
    assert vocative_end(normalize(text)) == 0
    assert dropped(text) == normalize(text)


def test_traditional_and_full_width_forms_are_dropped_after_normalize():
    assert dropped("張經理您好：" + ASK) == normalize(ASK)
    assert dropped("ＨＩ 王工，" + ASK) == normalize(ASK)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("王工小李总经理您好在吗，：, 帮我改日期hi阿强?！各位@")))
def test_dropping_leaves_a_suffix_and_keeps_content(text):
    normalized = normalize(text)
    result = drop_vocative(normalized)
    assert normalized.endswith(result)
    if any(char.isalpha() for char in normalized):
        assert any(char.isalpha() for char in result)


# -- the pre-check on the first character ---------------------------------------------------


def _alternatives_first_characters() -> set[str]:
    """The first character of every alternative the vocative pattern is built from."""
    words = (
        *vocative._GREETINGS,
        *vocative._BARE,
        *vocative._ROLE_QUALIFIERS,
        *vocative._ROLE_TITLES,
        *vocative._COMPOUND_SURNAMES,
        *vocative._SURNAMES,
        "在吗",
        "在么",
        "在不在",
        "您好",
        "小",
        "老",
        "阿",
        "@",
        "hi",
        "hello",
        "hey",
        "dear",
    )
    return {word[0] for word in words} | set("abcdefghijklmnopqrstuvwxyz")  # Latin name before 你好


def test_the_pre_check_admits_the_first_character_of_every_alternative():
    assert vocative._OPENERS is not None
    assert _alternatives_first_characters() <= vocative._OPENERS
    assert not {"帮", "我", "请", "这", "【", "1", " ", ","} & vocative._OPENERS


@pytest.mark.parametrize(
    "text",
    [
        "@张总 帮我看下",
        "tom你好,帮我看下",
        "lisa您好,帮我看下",
        "hi tom,帮我看下",
        "hello lisa 帮我看下",
        "hey 王工,帮我看下",
        "dear 李总,帮我看下",
        "在吗帮我看下",
        "在么帮我看下",
        "在不在帮我看下",
        "您好请问一下",
        "欧阳总,帮我看下",
        "阿ken,帮我看下",
        "各位领导好,帮我看下",
        "早,帮我看下",
    ],
)
def test_the_pre_check_admits_what_the_pattern_matches(text):
    assert vocative._LEADING.match(text)
    assert text[0] in vocative._OPENERS
    assert vocative_end(text) > 0


@pytest.mark.parametrize(
    "suffix", ["工,帮我", "总您好,帮我", "好,帮我", " tom,帮我", "吗帮我", "经理,帮我", "ken,帮我"]
)
def test_no_basic_plane_character_outside_the_pre_check_starts_a_match(suffix):
    outside = [chr(code) for code in range(0xD800) if chr(code) not in vocative._OPENERS]
    assert not [char for char in outside if vocative._LEADING.match(char + suffix)]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("王工小李总经理您好在吗不，：, 帮我hi tom阿强?！各位@欧阳项目副")))
def test_a_text_the_pattern_matches_passes_the_pre_check(text):
    if vocative._LEADING.match(text):
        assert text[:1] in vocative._OPENERS


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("abc|d", "ad"),
        ("@?(?!x)[a-c]y", "@abc"),
        ("(?:hi|hello)+ |你(?=好)", "h你"),
        ("(?=q)x*y", "xy"),
        ("\\bx", "x"),
    ],
)
def test_first_characters_of_a_pattern(pattern, expected):
    assert first_characters(re.compile(pattern)) == frozenset(expected)


@pytest.mark.parametrize(
    "pattern", ["a?", "x|", ".a", "[^a]b", r"\sa", "(?i)a", "(?i:a)b", r"[\x00-\U0010ffff]"]
)
def test_first_characters_is_none_when_it_cannot_be_told(pattern):
    assert first_characters(re.compile(pattern)) is None


def test_read_text_drops_the_vocative_only_when_asked():
    normalized = normalize("王工，帮我取个快递！")
    assert read_text(normalized, content=True, vocative=True) == "帮我取个快递"
    assert read_text(normalized, content=True) == "王工 帮我取个快递"
    assert read_text(normalized, content=False, vocative=True) == "帮我取个快递!"


@pytest.mark.parametrize(
    "analyzer", [WordNgrams((1, 2), content=True, vocative=True), CharNgrams((1, 3), vocative=True)]
)
def test_analyzers_with_vocative_read_the_same_grams_with_or_without_a_greeting(analyzer):
    assert analyzer("张经理您好：" + ASK) == analyzer(ASK)
    assert analyzer_from_spec(analyzer.to_spec()).vocative is True


def test_a_spec_without_vocative_reads_greetings_as_before():
    analyzer = analyzer_from_spec({"kind": "char", "ngram_range": [1, 2], "content": True})
    assert analyzer.vocative is False
    assert "王" in analyzer("王工，" + ASK)
    assert "vocative" not in CharNgrams((1, 2)).to_spec()


# -- a fitted model ------------------------------------------------------------------------

OPENINGS = ("覃工，", "孙老师您好：", "Hi 周经理，", "早上好，", "老马，")


def _greeted(texts):
    return [opening + text for text in texts for opening in OPENINGS]


def test_a_fitted_model_gives_the_same_probabilities_with_a_greeting_in_front(small_model, dev_sample):
    assert small_model.drop_vocative and small_model.model_.vocative
    texts = dev_sample[:60]
    expected = np.repeat(small_model.predict_proba(texts), len(OPENINGS), axis=0)
    assert np.array_equal(small_model.predict_proba(_greeted(texts)), expected)


def test_without_drop_vocative_a_greeting_changes_the_probabilities(small_training_set, dev_sample):
    texts, labels = small_training_set
    model = BoundaryClassifier(C=10, drop_vocative=False).fit(texts, labels)
    assert not model.model_.vocative
    sample = dev_sample[:20]
    expected = np.repeat(model.predict_proba(sample), len(OPENINGS), axis=0)
    assert not np.allclose(model.predict_proba(_greeted(sample)), expected)


def test_a_saved_model_keeps_its_vocative_reading(tmp_path, small_model, dev_sample):
    path = save_model(small_model, tmp_path / "vocative.bnlp")
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format_version"] == 4  # the default model drops closings too
    assert all(block["analyzer"]["vocative"] is True for block in manifest["blocks"])
    loaded = load_model(path)
    assert loaded.predictor.vocative
    texts = dev_sample[:20]
    assert np.array_equal(loaded.predict_proba(_greeted(texts)), small_model.predict_proba(_greeted(texts)))


def test_a_model_that_reads_greetings_is_saved_in_the_previous_format(tmp_path, small_training_set):
    texts, labels = small_training_set
    model = BoundaryClassifier(C=10, drop_vocative=False, drop_closing=False, escalate_label=None)
    model.fit(texts[::3], labels[::3])
    path = save_model(model, tmp_path / "plain.bnlp")
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format_version"] == 2
    assert all("vocative" not in block["analyzer"] for block in manifest["blocks"])
    assert not load_model(path).predictor.vocative
