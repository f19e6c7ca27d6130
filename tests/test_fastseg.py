from __future__ import annotations

import marshal
import pickle
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boundary_nlp import fastseg, speedups
from boundary_nlp.fastseg import BucketDictionary, FastSegmenter, encode_dictionary
from boundary_nlp.text import JiebaSegmenter, jieba_tokenizer, normalize

EXTRA_TEXTS = [
    "",
    " ",
    "帮我把UAT环境的v2.3.1版本部署一下",
    "abc123 def_45 x-y 50% c++ c# a&b",
    "sql server 2019 的 tempdb 满了",
    "请把变更单发给驻场工程师，顺便带杯咖啡！！",
    "😀😂👍 帮我取快递",
    "帮我取快递\ufffd\ufffd",
    "サーバー и русский 한국어 العربية 帮我",
    "１２３ａｂｃ",
    "..._%%%---###&&&+++",
]


def test_fast_segmenter_matches_jieba_on_every_dataset_text(all_dataset_texts, implementation):
    fast = FastSegmenter()
    reference = JiebaSegmenter(hmm=False)
    mismatches = []
    for text in all_dataset_texts:
        normalized = normalize(text)
        expected = reference.cut(normalized)
        got = fast.cut(normalized)
        if got != expected:
            mismatches.append((text, expected, got))
    count = len(all_dataset_texts)
    print(f"{implementation}: segmentation parity checked on {count} texts, {len(mismatches)} mismatches")
    assert count >= 3600
    assert not mismatches, f"{len(mismatches)} of {count} texts differ, first: {mismatches[:3]}"


@pytest.mark.parametrize("text", EXTRA_TEXTS)
def test_fast_segmenter_matches_jieba_on_mixed_scripts(text, implementation):
    normalized = normalize(text)
    assert FastSegmenter().cut(normalized) == JiebaSegmenter().cut(normalized)


SEGMENT_ALPHABET = st.sampled_from(
    list("帮我取个快递变更单驻场的验收报告改签字走流程生产库") + list("abcAZ019 .-_%#&+，。！")
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=SEGMENT_ALPHABET | st.characters()))
def test_fast_segmenter_matches_jieba_on_any_normalized_text(text):
    normalized = normalize(text)
    assert FastSegmenter().cut(normalized) == JiebaSegmenter().cut(normalized)


RAW_ALPHABET = SEGMENT_ALPHABET | st.sampled_from(
    list("\t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000\u9fd5\u9fd6\u4e00")
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=RAW_ALPHABET | st.characters()))
def test_c_and_python_cut_agree_on_any_text(text):
    """Also on text that was never normalized: tabs, odd spaces, block-range edges."""
    from boundary_nlp.speedups import SPEEDUPS

    if SPEEDUPS is None:
        pytest.skip("the C module boundary_nlp._speedups is not built here")
    dictionary = fastseg.shipped_dictionary()
    dictionary.ensure(text)
    python = fastseg._cut_python(text, dictionary.entries, dictionary.unknown_score)
    assert fastseg.native_dictionary().cut(text) == python


def test_fast_segmenter_keeps_domain_words():
    assert "变更单" in FastSegmenter().cut("请把变更单发给驻场工程师")


def test_fast_segmenter_pickles_without_its_dictionary():
    segmenter = FastSegmenter()
    segmenter.cut("帮我取快递")
    data = pickle.dumps(segmenter)
    assert len(data) < 1000
    assert pickle.loads(data).cut("请把变更单发给驻场工程师") == segmenter.cut("请把变更单发给驻场工程师")


def decode_dictionary(data: bytes) -> tuple[dict, dict[str, int]]:
    """Header and merged word -> frequency map of a segmenter dictionary file.

    Decoded here from the file layout written by ``encode_dictionary`` (magic, 8-byte header
    length, marshal header with ``index`` char -> (offset, length), zlib'd marshal buckets), so
    the check does not depend on how ``BucketDictionary`` stores what it loads.
    """
    assert data.startswith(fastseg.MAGIC)
    size = int.from_bytes(data[len(fastseg.MAGIC) : len(fastseg.MAGIC) + 8], "little")
    start = len(fastseg.MAGIC) + 8
    header = marshal.loads(data[start : start + size])
    body = data[start + size :]
    freq: dict[str, int] = {}
    for char, (offset, length) in header["index"].items():
        bucket = marshal.loads(zlib.decompress(body[offset : offset + length]))
        assert all(word[0] == char for word in bucket), f"bucket {char!r} holds words of another bucket"
        freq.update(bucket)
    return header, freq


def test_shipped_dictionary_file_matches_jieba_plus_userdict():
    tokenizer = jieba_tokenizer()
    expected_freq = {word: count for word, count in tokenizer.FREQ.items() if word}
    shipped_bytes = resources.files("boundary_nlp").joinpath(fastseg.RESOURCE).read_bytes()
    shipped_header, shipped_freq = decode_dictionary(shipped_bytes)
    rebuilt_bytes = encode_dictionary(dict(tokenizer.FREQ), tokenizer.total, shipped_header["source"])
    rebuilt_header, rebuilt_freq = decode_dictionary(rebuilt_bytes)

    assert shipped_header["total"] == tokenizer.total == rebuilt_header["total"]
    assert len(shipped_freq) == len(expected_freq), "entry count differs: run scripts/build_segmenter_dict.py"
    assert shipped_freq == expected_freq
    assert rebuilt_freq == shipped_freq
    assert set(shipped_header["index"]) == set(rebuilt_header["index"])


def test_bucket_dictionary_rejects_other_files():
    with pytest.raises(ValueError):
        BucketDictionary(b"not a dictionary at all")


def test_fast_segmenter_gives_the_same_tokens_from_eight_threads(all_dataset_texts):
    texts = [normalize(text) for text in all_dataset_texts[::7]]
    reference = JiebaSegmenter()
    expected = [reference.cut(text) for text in texts]

    # a fresh, empty dictionary so the threads also race on loading the buckets
    fastseg.shipped_dictionary.cache_clear()
    fastseg._native_for.cache_clear()
    segmenter = FastSegmenter()
    barrier = threading.Barrier(8)

    def work(offset: int) -> list[list[str]]:
        barrier.wait()
        order = texts[offset:] + texts[:offset]
        cut = [segmenter.cut(text) for text in order]
        return cut[len(texts) - offset :] + cut[: len(texts) - offset]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, [i * len(texts) // 8 for i in range(8)]))
    for result in results:
        assert result == expected


@pytest.mark.skipif(speedups.SPEEDUPS is None, reason="the C module is not built here")
def test_the_c_segmenter_reports_the_characters_it_has_not_taken_yet():
    module = speedups.SPEEDUPS
    capsule = module.seg_new(-20.0)
    assert module.seg_missing(capsule, ["帮我改下", "改下𠀀😀", ""]) == "帮我改下𠀀😀"
    module.seg_mark(capsule, "帮改𠀀")
    assert module.seg_missing(capsule, ["帮我改下", "改下𠀀😀"]) == "我下😀"
    assert module.seg_missing(capsule, []) == ""
    with pytest.raises(TypeError):
        module.seg_missing(capsule, ["帮我", 3])
