"""A fast-starting copy of jieba's precise mode without HMM, for prediction.

jieba spends 1-2 s building its 500,000-entry prefix dictionary before the first cut. Here
the same dictionary (jieba's, plus the domain words) is stored by first character, each
bucket compressed, and a bucket is loaded the first time a text contains its character. The
algorithm is jieba's own (DAG of dictionary words, maximum log-frequency route, runs of
single Latin letters and digits merged), so the tokens are the same; the tests check this
over the whole corpus. The file is built by ``scripts/build_segmenter_dict.py``.

When the optional C module is built, the loaded words live in its segmenter only
(:class:`NativeDictionary`, one per process) and the route runs there, with the same tokens;
the batch kernel cuts with that same segmenter, so the dictionary is in memory once.
"""

from __future__ import annotations

import marshal
import re
import threading
import zlib
from collections.abc import Callable
from functools import cache, lru_cache
from importlib import resources
from math import log
from types import ModuleType

from . import speedups

MAGIC = b"BNLPSEG1"
RESOURCE = "resources/segmenter-dict.bin"

# jieba 0.42.1's block patterns (jieba/__init__.py: re_han_default, re_skip_default); its
# re_eng ([a-zA-Z0-9]) is _LATIN_OR_DIGIT below
_RE_HAN = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)")
_RE_SKIP = re.compile("(\r\n|\\s)")


def encode_dictionary(freq: dict[str, int], total: int, source: str) -> bytes:
    """Serialize a jieba prefix dictionary (``Tokenizer.FREQ``) bucketed by first character."""
    buckets: dict[str, dict[str, int]] = {}
    for word, count in freq.items():
        if word:
            buckets.setdefault(word[0], {})[word] = count
    blobs = []
    index: dict[str, tuple[int, int]] = {}
    offset = 0
    for char in sorted(buckets):
        blob = zlib.compress(marshal.dumps(buckets[char]), 6)
        index[char] = (offset, len(blob))
        blobs.append(blob)
        offset += len(blob)
    header = marshal.dumps({"total": total, "source": source, "index": index})
    return MAGIC + len(header).to_bytes(8, "little") + header + b"".join(blobs)


class BucketDictionary:
    """The prefix dictionary, loaded one first-character bucket at a time (thread-safe).

    ``entries`` maps each loaded dictionary word to ``log(freq) - log(total)`` and each
    word prefix that is not itself a word to ``None``; that is all jieba's route needs, and
    the subtraction is done once here, in jieba's order, so the scores are the same floats.
    """

    def __init__(self, data: bytes) -> None:
        if not data.startswith(MAGIC):
            raise ValueError("not a boundary-nlp segmenter dictionary")
        size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 8], "little")
        start = len(MAGIC) + 8
        header = marshal.loads(data[start : start + size])
        self.total: int = header["total"]
        self.source: str = header["source"]
        self.log_total = log(self.total)
        self.unknown_score = log(1) - self.log_total
        self._index: dict[str, tuple[int, int]] = header["index"]
        self._data = memoryview(data)[start + size :]
        self.entries: dict[str, float | None] = {}
        self._loaded = _Taken()

    def bucket(self, char: str) -> dict[str, float | None] | None:
        """The words starting with ``char`` (word -> score, prefix -> None), or None."""
        where = self._index.get(char)
        if where is None:
            return None
        offset, length = where
        log_total = self.log_total
        words = marshal.loads(zlib.decompress(self._data[offset : offset + length]))
        return {word: (log(freq) - log_total if freq else None) for word, freq in words.items()}

    def ensure(self, text: str) -> None:
        """Load the buckets of the characters of ``text`` into ``entries``."""
        self._loaded.take(text, self, self.entries.update)


class _Taken:
    """The first characters whose buckets a holder has taken in; thread-safe."""

    def __init__(self) -> None:
        self.chars: set[str] = set()
        self._lock = threading.Lock()

    def take(self, text: str, dictionary: BucketDictionary, add: Callable[[dict], object]) -> None:
        """``add`` the bucket of every character of ``text`` not taken yet."""
        missing = set(text) - self.chars
        if not missing:
            return
        with self._lock:
            for char in missing - self.chars:
                words = dictionary.bucket(char)
                if words is not None:
                    add(words)
                self.chars.add(char)


class NativeDictionary:
    """The shipped dictionary inside the C module's segmenter, loaded by first character as
    texts need it (thread-safe); ``capsule`` is what ``seg_cut`` and the batch kernel read."""

    def __init__(self, module: ModuleType, dictionary: BucketDictionary) -> None:
        self.module = module
        self.dictionary = dictionary
        self.capsule = module.seg_new(dictionary.unknown_score)
        self._taken = _Taken()

    def ensure(self, text: str) -> None:
        self.ensure_all([text])

    def ensure_all(self, texts: list[str]) -> None:
        """Load the buckets of every character of ``texts`` not loaded yet. The C segmenter
        keeps a bit per character taken (``seg_missing``): a chunk of texts is checked without
        building a Python set of its characters."""
        missing = self.module.seg_missing(self.capsule, texts)
        if missing:
            self._taken.take(missing, self.dictionary, lambda words: self.module.seg_add(self.capsule, words))
            self.module.seg_mark(self.capsule, missing)

    def cut(self, text: str) -> list[str]:
        self.ensure(text)
        return self.module.seg_cut(self.capsule, text)


@lru_cache(maxsize=1)
def shipped_dictionary() -> BucketDictionary:
    data = resources.files("boundary_nlp").joinpath(RESOURCE).read_bytes()
    return BucketDictionary(data)


def native_dictionary() -> NativeDictionary | None:
    """The process's C segmenter over the shipped dictionary, or None without the C module."""
    module = speedups.SPEEDUPS
    return None if module is None else _native_for(module)


@cache
def _native_for(module: ModuleType) -> NativeDictionary:
    return NativeDictionary(module, shipped_dictionary())


_ABSENT = object()


_LATIN_OR_DIGIT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _cut_block_python(sentence: str, entries: dict[str, float | None], unknown: float) -> list[str]:
    """jieba's get_DAG + calc + __cut_DAG_NO_HMM in one pass from the right.

    jieba takes ``max((score, end))`` over the DAG; ends are visited in increasing order
    here, so ``>=`` keeps the same winner on equal scores (the larger end).
    """
    n = len(sentence)
    get = entries.get
    score = [0.0] * (n + 1)
    best_end = [0] * (n + 1)
    for k in range(n - 1, -1, -1):
        best = unknown + score[k + 1]
        found = False
        end = k
        i = k
        entry = get(sentence[k], _ABSENT)
        while entry is not _ABSENT:
            if entry is not None:
                candidate = entry + score[i + 1]
                if not found or candidate >= best:
                    best = candidate
                    end = i
                    found = True
            i += 1
            if i == n:
                break
            entry = get(sentence[k : i + 1], _ABSENT)
        score[k] = best
        best_end[k] = end
    words: list[str] = []
    x = 0
    buf = ""
    while x < n:
        y = best_end[x] + 1
        word = sentence[x:y]
        if y - x == 1 and word in _LATIN_OR_DIGIT:
            buf += word
        else:
            if buf:
                words.append(buf)
                buf = ""
            words.append(word)
        x = y
    if buf:
        words.append(buf)
    return words


def _cut_python(text: str, entries: dict[str, float | None], unknown: float) -> list[str]:
    """jieba's ``cut(text, HMM=False)`` minus whitespace tokens, over loaded entries."""
    words: list[str] = []
    for block in _RE_HAN.split(text):
        if not block:
            continue
        if _RE_HAN.match(block):
            words.extend(_cut_block_python(block, entries, unknown))
        else:
            for piece in _RE_SKIP.split(block):
                if _RE_SKIP.match(piece):
                    continue  # whitespace tokens are dropped, as JiebaSegmenter does
                words.extend(piece)
    return words


class FastSegmenter:
    """Same tokens as ``JiebaSegmenter(userdict="default", hmm=False)``, fast to start."""

    def __init__(self) -> None:
        self._dictionary: BucketDictionary | None = None

    def cut(self, text: str) -> list[str]:
        native = native_dictionary()
        if native is not None:  # the same tokens; the tests compare the two
            return native.cut(text)
        dictionary = self._dictionary
        if dictionary is None:
            dictionary = self._dictionary = shipped_dictionary()
        dictionary.ensure(text)
        return _cut_python(text, dictionary.entries, dictionary.unknown_score)

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self._dictionary = None

    def __repr__(self) -> str:
        return "FastSegmenter()"
