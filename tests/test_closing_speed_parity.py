"""The bounded search for closings finds exactly what the full scan found.

``_reference_closing`` is a frozen copy of ``closing_start`` and ``only_closing`` as they were
when ``_CLOSING`` was tried at every position of the last ``_WINDOW`` characters. The corpus,
the corpus with each behaviour edit or a closing appended, texts ending in every closing form,
closings that start far before their stem (long addressees, Latin names), texts at the bounds
of the quick checks (``_NEAR_STEM``, ``_NEAR_XINKU``, ``_window_start``) and random mixes of
stems, particles, punctuation and letters must give the same answers.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boundary_nlp import closing
from boundary_nlp.behaviour import INVARIANCE_EDITS
from boundary_nlp.closing import closing_start, only_closing
from boundary_nlp.text import normalize
from boundary_nlp.vocative import _BARE, _ROLE_QUALIFIERS, _ROLE_TITLES, _SURNAMES, _TITLES

try:
    from . import _reference_closing as reference
except ImportError:
    import _reference_closing as reference


def assert_same_results(texts) -> None:
    for text in dict.fromkeys(texts):
        normalized = normalize(text)
        for each in (normalized, text):  # the functions expect normalized text; check raw too
            assert closing_start(each) == reference.closing_start(each), each
            assert only_closing(each) == reference.only_closing(each), each


# every closing form the module docstring names, and their parts
CLOSINGS = (
    *closing._THANK_WORDS,
    *(adverb + word for adverb in closing._THANK_ADVERBS for word in ("谢谢", "多谢", "感谢", "感恩")),
    *("感谢" + addressee for addressee in closing._ADDRESSEES),
    *("谢谢您的" + what for what in closing._THANK_FOR),
    "感激不尽", "thanks", "thank you", "thank u", "thx", "tks", "3q", "谢谢谢谢谢谢",
    "拜托", "拜托了", "拜托拜托", "拜托您啦", "拜托王工",
    "辛苦", "辛苦了", "辛苦啦", "辛苦辛苦", "辛苦辛苦了", "大家辛苦了", "辛苦王工了", "辛苦您了",
    "麻烦了", "麻烦你了", "麻烦大家了", "打扰了", "打扰您了", "有劳", "有劳了", "劳烦", "劳烦您",
    "费心了", "受累了", "蟹蟹",
)  # fmt: skip
# the longest addressees before 辛苦, and Latin names of any length
LONG_ADDRESSEES = (
    *(
        a + b + q + t
        for a in _BARE[-6:]
        for b in _BARE[-6:]
        for q in _ROLE_QUALIFIERS[:4]
        for t in _ROLE_TITLES[:4]
    ),
    *(s + t for s in ("欧阳", "司马", "王", "谢") for t in _TITLES),
    *("阿" + "k" * n for n in (1, 5, 20, 40, 60)),
    *(g + " " + "tom" * n for g in ("hi", "hello", "hey", "dear") for n in (1, 5, 12, 20)),
    "hi thanksgiving",
    "hello thxtks",
    "阿thank",
    "hi tomthank",
)


def closing_texts() -> list[str]:
    texts = []
    for ask in ("", "帮我把报告改一下", "麻烦把考勤改一下", "a" * 30, "辛苦" * 30, "帮我看下" * 20):
        for form in CLOSINGS:
            for before in ("", "，", " ", "!", "。", "🙏"):
                for after in ("", "!", "了哈", "~~", "🙏🙏", " 。"):
                    texts.append(ask + before + form + after)
        for addressee in LONG_ADDRESSEES:
            for before in ("", "，", "太", "a"):
                texts.append(ask + before + addressee + "辛苦了!")
                texts.append(ask + before + addressee + "辛苦辛苦")
                texts.append(ask + before + "谢谢" + addressee)
        for stacked in range(1, 7):
            texts.append(ask + "，" + "，".join(random.Random(stacked).choices(CLOSINGS, k=stacked)) + "!")
    return texts


def random_texts(count: int) -> list[str]:
    rng = random.Random(0)
    alphabet = [
        *closing._STEMS.pattern.split("|"),
        *CLOSINGS,
        *closing._ADDRESSEES,
        *closing._PARTICLES,
        *closing._CONTENT_BEFORE,
        *closing._CLAUSE_MARKS,
        *"，。！？!?.:;()😂🙏_-0123",
        *"abcdefghijklmnopqrstuvwxyz",
        "hi ", "hello ", "dear ", "阿", "小", "各位", "项目经理", "各相关单位",
        *_SURNAMES[:20],
        *"帮我把报告发群里改一下考勤记录",
    ]  # fmt: skip
    texts = []
    for _ in range(count):
        length = rng.randint(0, 200) if rng.random() < 0.3 else rng.randint(0, 30)
        texts.append("".join(rng.choice(alphabet) for _ in range(length)))
    return texts


def test_same_results_on_the_corpus(all_dataset_texts):
    assert_same_results(all_dataset_texts)


ENDINGS = ("，谢谢", "，辛苦了", " thx", "，麻烦了！", "谢谢王工", "，感谢您的配合～")


@pytest.mark.parametrize("ending", ENDINGS)
def test_same_results_on_the_corpus_with_a_closing_appended(all_dataset_texts, ending):
    assert_same_results(text + ending for text in all_dataset_texts)


@pytest.mark.parametrize("name, edit", [(name, edit) for name, _, edit in INVARIANCE_EDITS])
def test_same_results_on_the_corpus_with_behaviour_edits(all_dataset_texts, name, edit):
    edited = [edit(text, random.Random(f"{name}:{index}")) for index, text in enumerate(all_dataset_texts)]
    assert_same_results([text for text in edited if text is not None])


def test_same_results_on_every_closing_form_and_long_addressees():
    assert_same_results(closing_texts())


def test_same_results_on_random_mixes():
    assert_same_results(random_texts(20_000))


# addressees before 辛苦 of every length up to past _BEFORE_XINKU, Han (the last code points of
# the block too), Latin after 阿 and greetings, role titles and 'sir'
BOUND_ADDRESSEES = (
    *((_BARE[-1] * 6)[:n] for n in range(1, closing._BEFORE_XINKU + 2)),
    *(("各" + "各相关单位各参建单位项目工程师")[-n:] for n in range(1, closing._BEFORE_XINKU + 2)),
    *("阿" + chr(code) for code in (0x4E00, 0x9FA5, 0x9FFC, 0x9FFD, 0x9FFF, 0x3400)),
    *(g + " " + "k" * n for g in ("hi", "hello", "hey", "dear", "helo", "hello ") for n in (1, 9, 11, 50)),
    *("阿" + "x" * n for n in (1, 14, 15, 16, 47, 48)),
    "王sir", "欧阳sir", "小王", "老谢", "谢工", "麻工", "费总", "阿谢", "阿辛",
)  # fmt: skip


def bound_texts() -> list[str]:
    """Texts whose closing starts exactly at, or one character beyond, what the quick checks
    allow, around the 48-character window, and with four chained closings."""
    texts = []
    prefixes = ("", *closing._BEFORE_STEM_CHARS, *closing._THANK_ADVERBS, "提前多", "多多", "真是多")
    for ask in ("", "帮我改一下", "改一下，", "a", "x" * 44, "帮" * 47, "帮" * 48, "帮" * 60, "报告" * 30):
        for before in ("", "，", " ", "一下", "下，", "了", "不", "很多", "a", "hi ", "阿"):
            for prefix in prefixes:
                for word in ("谢谢", "多谢", "感谢", "感恩", "谢了", "蟹蟹"):
                    texts.append(ask + before + prefix + word)
                    texts.append(ask + before + prefix + word + "王工了哈🙏" * 2)
            for addressee in BOUND_ADDRESSEES:
                for xinku in ("辛苦了", "辛苦辛苦!", "辛苦啦~~"):
                    texts.append(ask + before + addressee + xinku)
                    texts.append(ask + before + addressee + "，" + xinku)
                texts.append(ask + before + "谢谢" + addressee)
                texts.append(ask + before + "谢谢谢谢谢谢" + addressee + addressee + "的支持")
                texts.append(ask + before + "拜托拜托拜托" + addressee)
        for run in (0, 1, 2, 3, 47, 48, 49, 60):
            for tail in ("!", "了", "🙏", " ", "啦哈"):
                texts.append(ask + "，谢谢" + tail * run)
                texts.append(ask + "大家辛苦" + tail * run)
        texts.append(ask + "，谢谢，辛苦了，拜托拜托，麻烦您了!")
        texts.append(ask + "谢谢，辛苦了，thx 3q~感恩🙏")
        texts.append(ask + "，谢谢，辛苦了，拜托拜托，麻烦您了，感谢!")
    return texts


def test_same_results_at_the_bounds_of_the_quick_checks():
    assert_same_results(bound_texts())


# pieces of closings, the characters allowed before a stem and a few others
MIX = st.sampled_from([*CLOSINGS, *BOUND_ADDRESSEES, *closing._BEFORE_STEM_CHARS, *"，!🙏了哈 帮改a阿"])


@settings(max_examples=500, deadline=None)
@given(st.lists(MIX, max_size=40).map("".join))
def test_same_results_on_generated_texts(text):
    assert_same_results([text])


@pytest.mark.parametrize(
    "bound, text",
    [
        ("_BEFORE_STEM", "帮我改一下，提前多谢"),
        ("_BEFORE_XINKU", "帮我改一下，各相关单位各参建单位项目工程师辛苦了"),
    ],
)
def test_the_bounds_are_needed(monkeypatch, bound, text):
    """The longest closings start exactly the bound before their stem: with a smaller bound
    they are missed (so the checks above can fail)."""
    text = normalize(text)
    assert closing_start(text) == reference.closing_start(text) == 5
    monkeypatch.setattr(closing, bound, getattr(closing, bound) - 1)
    assert closing_start(text) != reference.closing_start(text)
    assert only_closing(text[6:]) != reference.only_closing(text[6:])


def test_the_quick_check_near_a_stem_is_needed(monkeypatch):
    text = normalize("帮我改一下，提前多谢")
    assert closing_start(text) == reference.closing_start(text) == 5
    nearer = closing._CLOSING_NEAR_STEM.pattern.replace("{0,3}", "{0,2}", 1)
    assert nearer != closing._CLOSING_NEAR_STEM.pattern
    monkeypatch.setattr(closing, "_CLOSING_NEAR_STEM", re.compile(nearer))
    assert closing_start(text) != reference.closing_start(text)


@pytest.mark.parametrize(
    "name, old, new, text",
    [
        ("_CLOSING_NEAR_STEM", "多", "", "帮我改一下，提前多谢"),
        ("_CLOSING_NEAR_STEM", "提", "", "帮我改一下，提前多谢"),
        ("_CLOSING_NEAR_XINKU", "{0,15}", "{0,14}", "帮我改一下，各相关单位各参建单位项目工程师辛苦了"),
        ("_CLOSING_NEAR_XINKU", "[a-z]*", "", "帮我改一下，hi " + "tom" * 10 + "辛苦了"),
        ("_CLOSING_NEAR_XINKU", " ", "", "帮我改一下，hi tom辛苦了"),
    ],
)
def test_each_part_of_the_quick_checks_is_needed(monkeypatch, name, old, new, text):
    """Without the characters before a stem, the addressee's length, its Latin letters or its
    space, the quick checks would skip a closing (so the checks above can fail)."""
    text = normalize(text)
    assert closing_start(text) == reference.closing_start(text) == 5
    pattern = getattr(closing, name).pattern
    guard = pattern[: pattern.index(closing._CLOSING.pattern)]
    assert old in guard
    monkeypatch.setattr(closing, name, re.compile(guard.replace(old, new, 1) + closing._CLOSING.pattern))
    assert closing_start(text) != reference.closing_start(text)


def test_latin_letters_before_the_stem_are_skipped(monkeypatch):
    text = normalize("帮我改一下，hi " + "tom" * 10 + "辛苦了")
    assert closing_start(text) == reference.closing_start(text) == 5
    monkeypatch.setattr(closing, "_LATIN", "")
    assert closing_start(text) != reference.closing_start(text)
