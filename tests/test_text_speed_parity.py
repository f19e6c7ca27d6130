"""The fast per-text preprocessing returns exactly what the code it replaced returned.

``_reference_text`` is a frozen copy of ``split_asks``, ``normalize``, ``content_text``,
``uncertain_reason`` and ``to_simplified`` as they were before they were made fast;
``_reference_vocative`` and ``_reference_asks`` freeze ``vocative_end`` and
``normalized_asks`` the same way. Every text of the corpus, every text with each behaviour
edit applied or a greeting put in front, and random strings built from the characters the code
treats specially must give the same result, list for list and string for string.
"""

from __future__ import annotations

import random
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boundary_nlp import asks, vocative
from boundary_nlp.asks import normalized_asks, split_asks
from boundary_nlp.behaviour import INVARIANCE_EDITS
from boundary_nlp.text import (
    _UNUSUAL,
    _maybe_traditional,
    _nfkc,
    _t2s_table,
    _wide_to_narrow_table,
    content_text,
    normalize,
    to_simplified,
    uncertain_reason,
)
from boundary_nlp.vocative import vocative_end

try:
    from . import _reference_asks as reference_asks
    from . import _reference_text as reference
    from . import _reference_vocative as reference_vocative
except ImportError:
    import _reference_asks as reference_asks
    import _reference_text as reference
    import _reference_vocative as reference_vocative

# openings put in front of every corpus text: vocative_end then has something to find
GREETINGS = ("王工，", "您好，", "hi tom，", "@张总 ", "在吗")


def assert_same_results(texts: list[str]) -> None:
    for text in dict.fromkeys(texts):  # each distinct text once, in order
        assert split_asks(text) == reference.split_asks(text), text
        for closing in (False, True):
            assert normalized_asks(text, closing) == reference_asks.normalized_asks(text, closing), text
        assert to_simplified(text) == reference.to_simplified(text), text
        assert _nfkc(text) == unicodedata.normalize("NFKC", text), text
        normalized = normalize(text)
        assert normalized == reference.normalize(text), text
        for normalized_or_not in (normalized, text):
            assert content_text(normalized_or_not) == reference.content_text(normalized_or_not), text
            assert uncertain_reason(normalized_or_not) == reference.uncertain_reason(normalized_or_not), text
            assert vocative_end(normalized_or_not) == reference_vocative.vocative_end(normalized_or_not), text


def random_texts(count: int) -> list[str]:
    rng = random.Random(0)
    alphabet = [
        *"帮我把报告发群里改一下考勤记录取个快递密码借用开会部署测试日志",  # simplified Chinese
        *"麻煩幫驗收報表發順便還對會議紀裡號碼個類",  # traditional (順便, 還有, 對了 once simplified)
        *asks._HARD,
        *asks._SOFT,
        *"：:…~～-_()（）【】《》“”\"'/\\#@%&*+=",
        *asks._CONNECTIVES,
        "另一",
        "另个",
        "另类",
        "另外",
        *asks._PARTICLES,
        *asks._PLEASANTRIES,
        *"嗯啊哦噢喔呃额唔哈呀嘛呢吧哎唉嘿嗨咦哇噫嗷哼呵嘻",  # text._FILLER
        *"😂🙏👍😀🤝❤️",
        " ",
        "\t",
        "\u3000",
        "\n",
        "\r\n",
        "\x0b",
        "\x0c",
        "\x85",
        "\xa0",
        "\u2003",
        "\u2028",
        *"abcXYZ OK Thanks THX İ ß",
        *"0123456789",
        *"０１２３ＡＢＣｏｋ！？，；：（）～",  # full-width forms
        *"①½²ﬁ㈱㍿",  # compatibility characters NFKC changes
        *"\uf900\uf901\ufa0c",  # compatibility ideographs
        *"e\u0301\u0308\u20dd",  # combining marks
        *"\u4e00\u9fa5\u9fa6\u9fff\u3400\U00020000\U0002a6d6",  # edges of the Han blocks
        *"\u200b\u200c\u200d\u200e\u2060\ufeff\u00ad",  # zero-width and format
        *"\x00\x01\x07\x1b\x1f\x7f\x9f",  # control characters
        "\ud800",
        "\udfff",
        "\udc80",
        "\ud83d",  # lone surrogates
        "\ufffd",
        "\U000e0001",
        "\U0010ffff",
    ]
    texts = []
    for _ in range(count):
        length = rng.choice((0, 1, 2, 3, 4, 5, 8, 12, 20, 40))
        texts.append("".join(rng.choice(alphabet) for _ in range(length)))
    return texts


def test_same_results_on_the_corpus(all_dataset_texts):
    assert len(all_dataset_texts) > 10_000
    assert_same_results(all_dataset_texts)


@pytest.mark.parametrize("name, edit", [(name, edit) for name, _, edit in INVARIANCE_EDITS])
def test_same_results_on_the_corpus_with_behaviour_edits(all_dataset_texts, name, edit):
    edited = [edit(text, random.Random(f"{name}:{index}")) for index, text in enumerate(all_dataset_texts)]
    assert_same_results([text for text in edited if text is not None])


@pytest.mark.parametrize("greeting", GREETINGS)
def test_same_results_on_the_corpus_with_a_greeting_in_front(all_dataset_texts, greeting):
    greeted = [greeting + text for text in all_dataset_texts]
    assert sum(vocative_end(normalize(text)) > 0 for text in greeted) > len(greeted) // 2
    assert_same_results(greeted)


def test_same_results_on_random_strings():
    assert_same_results(random_texts(5000))


# what vocative_end and split_asks treat specially: openings, names, separators, connectives
_OPENING_ALPHABET = [
    *vocative._GREETINGS,
    *vocative._BARE,
    *vocative._ROLE_QUALIFIERS,
    *vocative._TITLES,
    *vocative._COMPOUND_SURNAMES,
    *vocative._NOT_ADDRESSES,
    *"王李张刘陈明和时小老阿@好像呀啊哈啦吖",
    *"帮我改下日期tomlisa",
    *GREETINGS,
    *asks._HARD,
    *asks._SOFT,
    *asks._EDGE[:12],
    *asks._CONNECTIVES,
    *asks._PLEASANTRIES,
    *"：:…~～，？！ＨＩ張經 😂\u3000\u200b",
]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_OPENING_ALPHABET), max_size=12).map("".join))
def test_same_results_on_generated_openings(text):
    assert_same_results([text])


def test_same_results_when_the_character_tables_overflow(monkeypatch):
    """The lazily filled tables are emptied when full: results stay the same and the table small."""
    monkeypatch.setattr(asks._LazyTable, "LIMIT", 8)
    for table in (asks._DROP_WITH_PARTICLES, asks._DROP_WITHOUT_PARTICLES):
        table.clear()  # a cache: emptying it changes nothing but the time
    texts = random_texts(300)
    assert_same_results(texts)
    assert len(asks._DROP_WITH_PARTICLES) <= 8 and len(asks._DROP_WITHOUT_PARTICLES) <= 8


def test_what_the_fast_paths_rely_on():
    # split points are found on the simplified text: it has the message's separators, in place
    separators = set(asks._HARD + asks._SOFT)
    for traditional, simplified in _t2s_table().items():
        assert len(simplified) == 1
        assert chr(traditional) not in separators and simplified not in separators
    # a common Chinese character is one character of the core whatever surrounds it
    for code in range(0x4E00, 0x9FA6):
        char = chr(code)
        assert unicodedata.category(char) == "Lo"
        assert unicodedata.normalize("NFKC", f"a{char}\u0301") == f"a{char}\u0301"
        assert char.lower() == char
    # mapping characters to their compatibility decomposition first leaves the text's NFKC as is
    for code, mapped in _wide_to_narrow_table().items():
        mapped = chr(mapped) if isinstance(mapped, int) else mapped
        assert mapped == chr(code) or unicodedata.normalize("NFKD", chr(code)) == mapped
    assert _wide_to_narrow_table()[ord("，")] == ","  # _nfkc maps the comma alone first
    # split_asks strips the ends of an ask with str.strip: its whitespace is re's, all of it
    for code in range(0x110000):
        char = chr(code)
        assert char.isspace() == bool(re.match(r"\s", char)) == (char.isspace() and char in asks._EDGE)
    # a split point followed by these only cuts nothing off: they have no core, and NFKC does
    # not join them to what comes before
    for char in asks._EDGE:
        assert asks._core(char) == "" and unicodedata.combining(char) == 0
        assert unicodedata.normalize("NFKC", "a" + char) == "a" + unicodedata.normalize("NFKC", char)
    # to_simplified returns a text without these as it is: it maps none of its characters
    assert all(_maybe_traditional().match(chr(code)) for code in _t2s_table())
    # normalize skips its substitutions for a text without unusual characters: NFKC brings none in
    for code in range(0x110000):
        char = chr(code)
        if not _UNUSUAL.match(char):
            assert not _UNUSUAL.search(unicodedata.normalize("NFKC", char)), hex(code)
