"""Behavioural tests of a model, in the spirit of CheckList (Ribeiro et al., ACL 2020).

A test-set score hides how a classifier fails; these tests ask what it does with edits whose
effect on the label is known:

- **MFT** (minimum functionality): short hand-written red-line asks, one or more per
  prohibited type of ``datasets/inventory/prohibited.csv``, must be ``prohibited``; their
  harmless twins about the same object must not be.
- **INV** (invariance): label-preserving edits of real messages (thanks, 您, a greeting, a
  particle, emoji, punctuation removed, other numbers, traditional characters, spacing) must
  not change the model's own label of the message.
- **DIR** (directional): a red-line ask added after or before an ordinary message must make
  it ``prohibited`` (guide rule 2); the ordinary messages alone must not be (``removal``).

The seeds ship in ``resources/behaviour/*.json``; the messages that get edited come from dev
and test (never train). :func:`run_behaviour` runs everything and returns a
:class:`BehaviourReport`; ``boundary-nlp evaluate --behaviour`` prints it.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from .labels import Label

# targets of issue 14: an edit that keeps the label may flip at most this share of messages
MAX_INVARIANCE_FLIP = 0.01
# and at least this share of messages with an added red-line ask must be prohibited
MIN_DIRECTIONAL = 0.97
# cases per generated test: enough to resolve 1% while the whole suite runs in seconds
DEFAULT_MAX_CASES = 600
EXAMPLES_PER_TEST = 3
# base messages for the directional tests: short ones are under SHORT_CHARS characters,
# long ones at least LONG_CHARS (a red-line clause weighs less in a long message)
SHORT_CHARS = 20
LONG_CHARS = 40

PROHIBITED = Label.PROHIBITED.value
MFT, INV, DIR = "MFT", "INV", "DIR"

THANKS = "谢谢！"
PLEASANTRIES = ("辛苦了！", "麻烦了。", "麻烦您了！", "辛苦啦")
GREETINGS = ("王工，", "小李：", "在吗，", "张经理您好，", "刘姐，", "李工你好，", "哈喽，", "陈总：")
PARTICLES = ("哈", "呗", "啊")
EMOJI = ("😂", "🙏", "👍")
CONNECTIVES = ("另外，", "另外", "对了，", "还有，", "还有就是", "顺便", "顺便说下，")
BEFORE_JOINER = "，还有"
# clause starts a connective without a comma runs into naturally ("顺便把…", "另外帮我…")
_VERB_STARTS = frozenset("把帮给替用再找借拿调偷")

_SENTENCE_END = "。！？!?…~～"
_CLAUSE_PUNCT = "，,、；;：:"
# final particles and interjections: a text already ending in one gets no second particle
_FINAL_PARTICLES = frozenset("啊阿吧呢吗嘛呀哦噢喔哈啦了的嗯哎唉诶呗么哟呦咯嘞呐")
# endings that take no final particle
_CLOSINGS = ("谢", "你好", "您好", "在吗", "辛苦")
_OPEN_QUOTES = '「『“‘《〈"'
_CLOSE_QUOTES = '」』”’》〉"'
_WEEKDAY = re.compile(r"(?<![一二两三四五六七八九十几每0-9])(周|星期|礼拜)([一二三四五六日天])")
_DIGITS = re.compile(r"[0-9０-９]+")
_HAN = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
_ALNUM = re.compile("[A-Za-z0-9]")


class Predictor(Protocol):
    def predict(self, texts: list[str]) -> Sequence[Any]: ...


# -- the edits -----------------------------------------------------------------------------
# Each returns the edited text, or None where it does not apply (no change) or could change
# the label; the callers skip None. Edits that choose (which greeting, which number) take
# a random.Random so a run is reproducible from its seed.


def _split_tail(text: str) -> tuple[str, str]:
    """(body, tail): the tail is the trailing run of punctuation, symbols (emoji) and spaces."""
    end = len(text)
    while end > 0 and unicodedata.category(text[end - 1])[0] in "PSZ":
        end -= 1
    return text[:end], text[end:]


def _last_content_char(text: str) -> str:
    body, _ = _split_tail(text.rstrip())
    return body[-1:] if body else ""


def add_pleasantry(text: str, phrase: str = THANKS) -> str | None:
    """Append a thanks or pleasantry ("，谢谢！", "辛苦了！"): it asks for nothing (guide rule 1).

    After a sentence end the phrase follows directly; after a clause mark (，、；：) that mark
    becomes "，"; otherwise "，" is put in between. Skipped when the text already ends with it.
    """
    core = phrase.rstrip(_SENTENCE_END + _CLAUSE_PUNCT)
    stripped = text.rstrip()
    body, _ = _split_tail(stripped)
    if not body or body.endswith(core):
        return None
    if stripped[-1] in _SENTENCE_END:
        return stripped + phrase
    if stripped[-1] in _CLAUSE_PUNCT:
        return stripped[:-1] + "，" + phrase
    return stripped + "，" + phrase


def polite_you(text: str) -> str | None:
    """你 -> 您, the polite form; the ask is the same (guide rule 1).

    Kept: 你们 (您们 is not standard written Chinese) and anything inside quotes or title marks
    (「…」, “…”, 《…》), which may be a name or a quotation. None when nothing changes.
    """
    out = []
    depth = 0
    for index, char in enumerate(text):
        if char in _OPEN_QUOTES and not (char in _CLOSE_QUOTES and depth > 0):
            depth += 1
        elif char in _CLOSE_QUOTES and depth > 0:
            depth -= 1
        if char == "你" and depth == 0 and text[index + 1 : index + 2] != "们":
            out.append("您")
        else:
            out.append(char)
    edited = "".join(out)
    return edited if edited != text else None


def add_greeting(text: str, greeting: str = GREETINGS[0]) -> str | None:
    """Put a name or greeting in front ("王工，", "在吗，"); skipped when the text already starts
    with that greeting's words."""
    words = greeting.rstrip(_CLAUSE_PUNCT)
    if not text.strip() or text.lstrip().startswith(words):
        return None
    return greeting + text.lstrip()


def add_particle(text: str, particle: str = PARTICLES[0]) -> str | None:
    """Put a final particle (哈, 呗, 啊) after the last word, before the closing punctuation.

    A question takes 啊 whatever is asked for (呗 and 哈 read as statements). Skipped when the
    text ends in a particle or interjection already, in thanks or a greeting ("谢谢呗" is not
    something people write), or has no content.
    """
    stripped = text.rstrip()
    body, tail = _split_tail(stripped)
    last = body[-1:]
    if not last or last in _FINAL_PARTICLES or not (_HAN.match(last) or _ALNUM.match(last)):
        return None
    if body.endswith(_CLOSINGS):
        return None
    if any(mark in tail for mark in "？?"):
        particle = "啊"
    return body + particle + tail


def add_emoji(text: str, emoji: str = EMOJI[0]) -> str | None:
    """Append an emoji (😂, 🙏, 👍); skipped when the text already ends with it."""
    stripped = text.rstrip()
    if not stripped or stripped.endswith(emoji):
        return None
    return stripped + emoji


def remove_punctuation(text: str) -> str | None:
    """Voice-to-text style: every punctuation mark removed.

    Marks between two digits stay ("3.5", "10:30", "5-6"); one between two Latin letters or
    digits becomes a space so words do not merge ("ok,thanks"). None when nothing changes.
    """
    out = []
    for index, char in enumerate(text):
        if unicodedata.category(char)[0] != "P":
            out.append(char)
            continue
        before = text[index - 1 : index]
        after = text[index + 1 : index + 2]
        if before.isdigit() and after.isdigit():
            out.append(char)
        elif before and after and _ALNUM.match(before) and _ALNUM.match(after):
            out.append(" ")
    edited = re.sub(r" {2,}", " ", "".join(out)).strip()
    return edited if edited != text else None


def _other_number(digits: str, after: str, before: str, rng: random.Random) -> str:
    """Another number of the same width, plausible where it reads as a date or time."""
    value = int(digits)
    width = len(digits)
    if after == "月" and 1 <= value <= 12:
        choices = [m for m in range(1, 13) if m != value]
    elif after in "日号" and after and 1 <= value <= 31:
        choices = [d for d in range(1, 29) if d != value]
    elif after in "点时" and after and value <= 24:
        choices = [h for h in range(1, 12) if h != value]
    elif after == "年" and width == 4 and 1990 <= value <= 2099:
        choices = [y for y in range(2018, 2031) if y != value]
    elif before in ":：" and before and width == 2:
        return f"{rng.choice([m for m in range(0, 60, 5) if m != value]):02d}"
    elif width == 1:
        choices = [d for d in range(1, 10) if d != value]
    else:
        low = 10 ** (width - 1)
        new = value
        while new == value:
            new = rng.randrange(low, 10**width)
        return str(new).zfill(width) if digits.startswith("0") else str(new)
    new = rng.choice(choices)
    return str(new).zfill(width) if digits.startswith("0") and len(str(new)) < width else str(new)


def change_numbers(text: str, rng: random.Random | None = None) -> str | None:
    """Every run of digits becomes another number, and a weekday (周三, 星期五) another day.

    Amounts, counts, dates and times are not what makes an ask prohibited. Months stay 1-12,
    days 1-28, hours 1-11, minutes after ":" multiples of 5, years near today; other numbers
    keep their width. A weekday after a numeral or 每 (一周一次, 每周二) is a count, not a day,
    and is left alone. None when the text has neither.
    """
    rng = rng or random.Random(0)

    def number(match: re.Match) -> str:
        digits = unicodedata.normalize("NFKC", match.group())
        start, end = match.span()
        return _other_number(digits, text[end : end + 1], text[start - 1 : start] if start else "", rng)

    def weekday(match: re.Match) -> str:
        day = match.group(2)
        days = [d for d in "一二三四五六日" if d != day and not (day == "天" and d == "日")]
        return match.group(1) + rng.choice(days)

    edited = _WEEKDAY.sub(weekday, _DIGITS.sub(number, text))
    return edited if edited != text else None


@lru_cache(maxsize=1)
def _s2t_table() -> dict[int, str]:
    """Simplified -> traditional: the inverse of the package's t2s table, first traditional
    form per character, for characters that ``to_simplified`` leaves as they are (so that
    ``to_simplified(to_traditional(t)) == to_simplified(t)``)."""
    from .text import _t2s_table

    t2s = _t2s_table()
    table: dict[int, str] = {}
    for traditional, simplified in t2s.items():
        if len(simplified) != 1 or ord(simplified) == traditional:
            continue
        if ord(simplified) in t2s or ord(simplified) in table:
            continue
        table[ord(simplified)] = chr(traditional)
    return table


def to_traditional(text: str) -> str:
    """Simplified characters written in a traditional form, character by character.

    The first traditional form in the table is taken, which is sometimes the rarer one
    (出 -> 齣, 台 -> 檯): the edit tests that the model reads any traditional form as the
    simplified character, which is what ``normalize`` promises.
    """
    return text.translate(_s2t_table())


def traditional(text: str) -> str | None:
    """The message in traditional characters (a Hong Kong or Taiwan colleague); None when no
    character has a traditional form."""
    edited = to_traditional(text)
    return edited if edited != text else None


def add_spacing(text: str) -> str | None:
    """Spaces between clauses and words, as some people type: a space after each clause or
    sentence mark followed by more text, and around runs of Latin letters or digits inside
    Chinese ("用Excel导出" -> "用 Excel 导出"). None when nothing changes."""
    marks = re.escape(_SENTENCE_END + _CLAUSE_PUNCT)
    edited = re.sub(rf"([{marks}])(?=[^\s{marks}])", r"\1 ", text)
    edited = re.sub(r"([\u3400-\u9fff])([A-Za-z0-9])", r"\1 \2", edited)
    edited = re.sub(r"([A-Za-z0-9])([\u3400-\u9fff])", r"\1 \2", edited)
    return edited if edited != text else None


def add_redline_after(base: str, clause: str, connective: str = CONNECTIVES[0]) -> str:
    """``base`` then a connective and the red-line ``clause`` ("…发我一份。另外把…改一下").

    After a sentence end the connective follows directly; a trailing clause mark or emoji is
    replaced by "，" (or "。" when ``connective`` ends in a comma, to vary the join). A
    connective without a comma (顺便, 另外) runs into the clause only when the clause starts
    with a verb or 把 ("顺便把…"); otherwise it gets a comma, so that "顺便" + "报警先屏蔽掉"
    cannot read as "顺便报警" (call the police while you are at it).
    """
    if not connective.endswith("，") and clause[:1] not in _VERB_STARTS:
        connective += "，"
    body, tail = _split_tail(base.rstrip())
    if any(mark in tail for mark in _SENTENCE_END):
        return base.rstrip() + connective + clause
    joiner = "。" if connective.endswith("，") else "，"
    return body + joiner + connective + clause


def add_redline_before(base: str, clause: str) -> str:
    """The red-line ``clause`` first, then "，还有" and ``base`` ("把…改一下，还有…")."""
    return clause + BEFORE_JOINER + base.strip()


# -- seeds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MftSeed:
    """A short red-line ask of one prohibited type and a harmless twin about the same object."""

    type: str
    ask: str
    twin: str
    twin_label: str


@dataclass(frozen=True)
class RedlineClause:
    """One prohibited ask to add to an ordinary message (its type id in the inventory)."""

    type: str
    text: str


def _resource(name: str) -> dict:
    text = resources.files("boundary_nlp").joinpath(f"resources/behaviour/{name}").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def mft_seeds() -> tuple[MftSeed, ...]:
    """The shipped minimum-functionality seeds (``resources/behaviour/mft.json``)."""
    labels = {label.value for label in Label} - {PROHIBITED}
    seeds = tuple(MftSeed(**row) for row in _resource("mft.json")["seeds"])
    for seed in seeds:
        if seed.twin_label not in labels:
            raise ValueError(f"MFT seed {seed.type}: twin_label {seed.twin_label!r} is not one of {labels}")
    return seeds


@lru_cache(maxsize=1)
def redline_clauses() -> tuple[RedlineClause, ...]:
    """The shipped red-line clauses for the directional tests (``resources/behaviour/redline.json``)."""
    return tuple(RedlineClause(**row) for row in _resource("redline.json")["clauses"])


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """A failed case: the text before and after the edit (``original`` is None for an MFT seed,
    which has no original), the model's labels of both, and what was expected."""

    original: str | None
    edited: str
    original_label: str | None
    edited_label: str
    expected: str

    def to_dict(self) -> dict:
        return {
            "original": self.original,
            "edited": self.edited,
            "original_label": self.original_label,
            "edited_label": self.edited_label,
            "expected": self.expected,
        }


@dataclass
class BehaviourResult:
    """One test: how many cases, how many failed, a few failures, and its target.

    ``max_failure_rate`` is the target (None: reported, no target): MAX_INVARIANCE_FLIP for
    INV tests, 1 - MIN_DIRECTIONAL for the red-line DIR tests.
    """

    name: str
    kind: str
    description: str
    cases: int
    failures: int
    examples: list[Example] = field(default_factory=list)
    max_failure_rate: float | None = None

    @property
    def failure_rate(self) -> float:
        return self.failures / self.cases if self.cases else 0.0

    @property
    def meets_target(self) -> bool | None:
        """True or False against the target; None for a test without one or without cases."""
        if self.max_failure_rate is None or not self.cases:
            return None
        # compared in counts, so 1 - 0.97 rounding cannot fail a test exactly at the target
        return self.failures <= self.max_failure_rate * self.cases + 1e-9

    @property
    def target_text(self) -> str:
        if self.max_failure_rate is None:
            return "-"
        if self.kind == DIR:
            return f">= {1 - self.max_failure_rate:.0%} prohibited"
        return f"<= {self.max_failure_rate:.0%} flip"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "cases": self.cases,
            "failures": self.failures,
            "failure_rate": self.failure_rate,
            "max_failure_rate": self.max_failure_rate,
            "meets_target": self.meets_target,
            "examples": [example.to_dict() for example in self.examples],
        }


@dataclass
class BehaviourReport:
    """The results of :func:`run_behaviour`, with the targets they are held to."""

    results: list[BehaviourResult]
    seed: int = 0
    max_cases: int = DEFAULT_MAX_CASES

    def missed(self) -> list[BehaviourResult]:
        """The tests that miss their target."""
        return [result for result in self.results if result.meets_target is False]

    def meets_targets(self) -> bool:
        """Every INV test flips at most MAX_INVARIANCE_FLIP, every red-line DIR test is
        prohibited at least MIN_DIRECTIONAL of the time."""
        return not self.missed()

    def __getitem__(self, name: str) -> BehaviourResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def _rows(self) -> list[tuple[str, ...]]:
        rows = []
        for result in self.results:
            status = {True: "ok", False: "MISS", None: ""}[result.meets_target]
            rows.append(
                (
                    result.kind,
                    result.name,
                    str(result.cases),
                    str(result.failures),
                    f"{result.failure_rate:.1%}",
                    result.target_text,
                    status,
                )
            )
        return rows

    _HEADER = ("kind", "test", "cases", "failures", "failure rate", "target", "")

    def format(self) -> str:
        """A plain-text table, then the examples of the tests that failed any case."""
        rows = [self._HEADER, *self._rows()]
        widths = [max(_width(row[i]) for row in rows) for i in range(len(self._HEADER))]
        lines = []
        for row in rows:
            cells = []
            for i, cell in enumerate(row):
                pad = " " * (widths[i] - _width(cell))
                cells.append(pad + cell if i in (2, 3, 4) else cell + pad)
            lines.append("  ".join(cells).rstrip())
        missed = self.missed()
        lines.append("")
        lines.append(
            "all targets met"
            if not missed
            else "targets missed: " + ", ".join(result.name for result in missed)
        )
        for result in self.results:
            if not result.examples:
                continue
            lines.append("")
            lines.append(f"{result.kind} {result.name}: {result.description}")
            for example in result.examples:
                lines.append(f"  - {_example_text(example)}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A Markdown table (test, cases, failure rate, target, examples) for the model card."""
        lines = [
            f"Behaviour suite (`boundary_nlp.behaviour`, seed {self.seed}, at most {self.max_cases} "
            "cases per generated test): a failure is a label change under an edit that keeps the "
            "label (INV), a red-line message not called prohibited (DIR, MFT ask) or an ordinary "
            "one called prohibited (removal, MFT twin).",
            "",
            "| kind | test | cases | failures | failure rate | target | example failure |",
            "| --- | --- | ---: | ---: | ---: | --- | --- |",
        ]
        for result, row in zip(self.results, self._rows()):
            example = _example_text(result.examples[0]).replace("|", "\\|") if result.examples else ""
            target = row[5] + (f" ({row[6]})" if row[6] else "")
            lines.append(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[4]} | {target} | {example} |")
        missed = self.missed()
        lines.append("")
        lines.append(
            "All targets met."
            if not missed
            else "Targets missed: " + ", ".join(f"`{result.name}`" for result in missed) + "."
        )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "max_cases": self.max_cases,
            "targets": {"max_invariance_flip": MAX_INVARIANCE_FLIP, "min_directional": MIN_DIRECTIONAL},
            "meets_targets": self.meets_targets(),
            "missed": [result.name for result in self.missed()],
            "tests": [result.to_dict() for result in self.results],
        }


def _width(text: str) -> int:
    """Display width: wide (CJK) characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _example_text(example: Example) -> str:
    if example.original is None:
        return f"{example.edited} -> {example.edited_label} (expected {example.expected})"
    return (
        f"{example.original} [{example.original_label}] -> {example.edited} [{example.edited_label}]"
        f" (expected {example.expected})"
    )


# -- running -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    original: str | None
    edited: str
    expected: str  # a label, "not prohibited", or "same" (as the original's prediction)


@dataclass(frozen=True)
class _Test:
    name: str
    kind: str
    description: str
    cases: tuple[_Case, ...]
    max_failure_rate: float | None


Edit = Callable[[str, random.Random], "str | None"]

# the invariance tests: name, what the edit does, the edit (text, rng) -> edited text or None
INVARIANCE_EDITS: tuple[tuple[str, str, Edit], ...] = (
    ("thanks", "append '，谢谢！'", lambda text, rng: add_pleasantry(text, THANKS)),
    (
        "pleasantry",
        "append 辛苦了 / 麻烦了 / 麻烦您了",
        lambda text, rng: add_pleasantry(text, rng.choice(PLEASANTRIES)),
    ),
    ("polite 您", "你 -> 您 (not 你们, not inside quotes)", lambda text, rng: polite_you(text)),
    (
        "name or greeting",
        "'王工，' / '小李：' / '在吗，' ... in front",
        lambda text, rng: add_greeting(text, rng.choice(GREETINGS)),
    ),
    (
        "final particle",
        "哈 / 呗 / 啊 before the closing punctuation",
        lambda text, rng: add_particle(text, rng.choice(PARTICLES)),
    ),
    ("emoji", "append 😂 / 🙏 / 👍", lambda text, rng: add_emoji(text, rng.choice(EMOJI))),
    (
        "no punctuation",
        "every punctuation mark removed (voice-to-text)",
        lambda text, rng: remove_punctuation(text),
    ),
    ("numbers and dates", "every digit run another number, weekdays swapped", change_numbers),
    ("traditional", "simplified -> traditional characters", lambda text, rng: traditional(text)),
    ("spacing", "spaces after clause marks and around Latin/digit runs", lambda text, rng: add_spacing(text)),
)


def _sample(items: Sequence[str], rng: random.Random) -> list[str]:
    order = list(items)
    rng.shuffle(order)
    return order


def _invariance_tests(texts: Sequence[str], seed: int, max_cases: int) -> list[_Test]:
    tests = []
    for name, description, edit in INVARIANCE_EDITS:
        cases: list[_Case] = []
        for position, text in enumerate(_sample(texts, random.Random(f"{seed}:{name}"))):
            if len(cases) >= max_cases:
                break
            edited = edit(text, random.Random(f"{seed}:{name}:{position}"))
            if edited is not None and edited != text:
                cases.append(_Case(text, edited, "same"))
        tests.append(_Test(name, INV, description, tuple(cases), MAX_INVARIANCE_FLIP))
    return tests


def _mft_tests() -> list[_Test]:
    seeds = mft_seeds()
    asks = tuple(_Case(None, seed.ask, PROHIBITED) for seed in seeds)
    twins = tuple(_Case(None, seed.twin, f"not prohibited ({seed.twin_label})") for seed in seeds)
    return [
        _Test(
            "red-line ask",
            MFT,
            "short red-line asks, one per prohibited type; expected prohibited",
            asks,
            None,
        ),
        _Test(
            "harmless twin",
            MFT,
            "the same objects asked harmlessly (in_scope or courtesy); expected not prohibited",
            twins,
            None,
        ),
    ]


def _directional_tests(
    ordinary: Sequence[str], predicted: dict[str, str], seed: int, max_cases: int
) -> list[_Test]:
    clauses = redline_clauses()
    # a red-line ask can only make a message prohibited if the model did not call it that already
    bases = [text for text in ordinary if predicted[text] != PROHIBITED]
    short = [text for text in bases if len(text.strip()) < SHORT_CHARS]
    long = [text for text in bases if len(text.strip()) >= LONG_CHARS]
    target = 1.0 - MIN_DIRECTIONAL
    tests = []
    for where in ("after", "before"):
        for size, pool in (("short", short), ("long", long)):
            name = f"red-line {where} {size} message"
            rng = random.Random(f"{seed}:{name}")
            cases = []
            for base in _sample(pool, rng)[:max_cases]:
                clause = rng.choice(clauses).text
                if where == "after":
                    edited = add_redline_after(base, clause, rng.choice(CONNECTIVES))
                else:
                    edited = add_redline_before(base, clause)
                cases.append(_Case(base, edited, PROHIBITED))
            described = (
                f"a red-line ask after a {size} ordinary message (另外/对了/还有/顺便)"
                if where == "after"
                else f"a red-line ask, then '，还有' and a {size} ordinary message"
            )
            tests.append(_Test(name, DIR, described + "; expected prohibited", tuple(cases), target))
    return tests


def _removal_test(ordinary: Sequence[str], seed: int, max_cases: int) -> _Test:
    rng = random.Random(f"{seed}:removal")
    cases = tuple(_Case(None, text, "not prohibited") for text in _sample(ordinary, rng)[:max_cases])
    return _Test(
        "removal",
        DIR,
        "ordinary messages (gold in_scope/courtesy) without a red-line ask; expected not prohibited",
        cases,
        None,
    )


def _failed(case: _Case, original_label: str | None, label: str) -> bool:
    if case.expected == "same":
        return label != original_label
    if case.expected.startswith("not prohibited"):
        return label == PROHIBITED
    return label != case.expected


def default_corpus_files() -> list[Path]:
    """``datasets/dev.csv`` and ``datasets/test.csv`` of the source checkout this package runs
    from (an editable install), else of the current folder (an installed package run from a
    checkout); otherwise pass texts instead."""
    for root in (Path(__file__).resolve().parents[2] / "datasets", Path.cwd() / "datasets"):
        files = [root / "dev.csv", root / "test.csv"]
        if all(path.is_file() for path in files):
            return files
    raise FileNotFoundError(
        "no datasets/dev.csv and datasets/test.csv beside the package or in the current folder: "
        "pass texts to run_behaviour (CLI: --data dev.csv --data test.csv)"
    )


def load_texts(paths: Iterable[str | Path], encoding: str = "utf-8") -> tuple[list[str], list[str]]:
    """Texts and gold labels of labelled files (dev and test: never train, whose messages the
    model has seen)."""
    from .data import load_dataset

    texts: list[str] = []
    labels: list[str] = []
    for path in paths:
        more_texts, more_labels = load_dataset(path, encoding=encoding)
        texts += more_texts
        labels += more_labels
    return texts, labels


def run_behaviour(
    model: Predictor,
    texts: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    seed: int = 0,
    max_cases: int = DEFAULT_MAX_CASES,
) -> BehaviourReport:
    """Run the MFT, INV and DIR tests on ``model`` (anything with ``predict(list of texts)``).

    ``texts`` are the messages to edit (default: the corpus dev and test files, see
    :func:`default_corpus_files`); ``labels``, their gold labels, pick the ordinary messages
    (in_scope, courtesy) the red-line asks are added to. Without labels the ordinary messages
    are those the model does not call prohibited, and the ``removal`` test is left out (it
    needs gold labels to mean anything). Each generated test has at most ``max_cases`` cases,
    sampled with ``seed``; the model scores all texts in one ``predict`` call.
    """
    if texts is None:
        texts, labels = load_texts(default_corpus_files())
    texts = [str(text) for text in texts]
    if labels is not None and len(labels) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if max_cases < 1:
        raise ValueError(f"max_cases must be at least 1, got {max_cases}")
    unique = list(dict.fromkeys(text for text in texts if text.strip()))
    predicted = dict(zip(unique, _predict(model, unique)))

    if labels is not None:
        ordinary = list(
            dict.fromkeys(
                text for text, label in zip(texts, labels) if str(label) != PROHIBITED and text.strip()
            )
        )
    else:
        ordinary = [text for text in unique if predicted[text] != PROHIBITED]
    tests = _mft_tests() + _invariance_tests(unique, seed, max_cases)
    tests += _directional_tests(ordinary, predicted, seed, max_cases)
    if labels is not None:
        tests.append(_removal_test(ordinary, seed, max_cases))

    edited = list(dict.fromkeys(case.edited for test in tests for case in test.cases))
    predicted.update(zip(edited, _predict(model, edited)))
    results = []
    for test in tests:
        failures = 0
        examples: list[Example] = []
        for case in test.cases:
            original_label = predicted[case.original] if case.original is not None else None
            label = predicted[case.edited]
            if not _failed(case, original_label, label):
                continue
            failures += 1
            if len(examples) < EXAMPLES_PER_TEST:
                expected = original_label if case.expected == "same" else case.expected
                examples.append(Example(case.original, case.edited, original_label, label, str(expected)))
        results.append(
            BehaviourResult(
                test.name,
                test.kind,
                test.description,
                len(test.cases),
                failures,
                examples,
                test.max_failure_rate,
            )
        )
    return BehaviourReport(results, seed=seed, max_cases=max_cases)


def _predict(model: Predictor, texts: list[str]) -> list[str]:
    if not texts:
        return []
    labels = [str(label) for label in model.predict(texts)]
    if len(labels) != len(texts):
        raise ValueError(f"the model returned {len(labels)} labels for {len(texts)} texts")
    return labels


__all__ = [
    "DEFAULT_MAX_CASES",
    "INVARIANCE_EDITS",
    "MAX_INVARIANCE_FLIP",
    "MIN_DIRECTIONAL",
    "BehaviourReport",
    "BehaviourResult",
    "Example",
    "MftSeed",
    "RedlineClause",
    "add_emoji",
    "add_greeting",
    "add_particle",
    "add_pleasantry",
    "add_redline_after",
    "add_redline_before",
    "add_spacing",
    "change_numbers",
    "default_corpus_files",
    "load_texts",
    "mft_seeds",
    "polite_you",
    "redline_clauses",
    "remove_punctuation",
    "run_behaviour",
    "to_traditional",
    "traditional",
]
