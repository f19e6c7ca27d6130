"""The bounded search for closings finds exactly what the full scan found.

``_reference_closing`` is a frozen copy of ``closing_start`` and ``only_closing`` as they were
when ``_CLOSING`` was tried at every position of the last ``_WINDOW`` characters. The corpus,
the corpus with each behaviour edit, texts ending in every closing form, closings that start
far before their stem (long addressees, Latin names) and random mixes of stems, particles,
punctuation and letters must give the same answers.
"""

from __future__ import annotations

import random
import re

import pytest

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


@pytest.mark.parametrize("name, edit", [(name, edit) for name, _, edit in INVARIANCE_EDITS])
def test_same_results_on_the_corpus_with_behaviour_edits(all_dataset_texts, name, edit):
    edited = [edit(text, random.Random(f"{name}:{index}")) for index, text in enumerate(all_dataset_texts)]
    assert_same_results([text for text in edited if text is not None])


def test_same_results_on_every_closing_form_and_long_addressees():
    assert_same_results(closing_texts())


def test_same_results_on_random_mixes():
    assert_same_results(random_texts(20_000))


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


def test_latin_letters_before_the_stem_are_skipped(monkeypatch):
    text = normalize("帮我改一下，hi " + "tom" * 10 + "辛苦了")
    assert closing_start(text) == reference.closing_start(text) == 5
    monkeypatch.setattr(closing, "_LATIN", "")
    assert closing_start(text) != reference.closing_start(text)
