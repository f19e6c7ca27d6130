"""The behavioural suite (boundary_nlp.behaviour): each edit, the seeds, the report's
arithmetic, the CLI, and the shipped model held to the issue-14 targets."""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import pytest

from boundary_nlp import behaviour
from boundary_nlp.behaviour import (
    DIR,
    INV,
    MAX_INVARIANCE_FLIP,
    MFT,
    MIN_DIRECTIONAL,
    add_emoji,
    add_greeting,
    add_particle,
    add_pleasantry,
    add_redline_after,
    add_redline_before,
    add_spacing,
    change_numbers,
    load_texts,
    mft_seeds,
    polite_you,
    redline_clauses,
    remove_punctuation,
    run_behaviour,
    to_traditional,
    traditional,
)
from boundary_nlp.data import NEAR_TWIN_JACCARD, _trigrams, near_twins
from boundary_nlp.text import normalize, to_simplified

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"


def _texts(split: str) -> list[str]:
    with open(DATASETS / f"{split}.csv", encoding="utf-8-sig", newline="") as fh:
        return [row["text"] for row in csv.DictReader(fh)]


def _inventory_types() -> set[str]:
    with open(DATASETS / "inventory" / "prohibited.csv", encoding="utf-8", newline="") as fh:
        return {row["id"] for row in csv.DictReader(fh)}


# -- invariance edits ------------------------------------------------------------------------


def test_thanks_follows_a_sentence_end_and_replaces_a_trailing_comma():
    assert add_pleasantry("帮我改一下。") == "帮我改一下。谢谢！"
    assert add_pleasantry("帮我改一下") == "帮我改一下，谢谢！"
    assert add_pleasantry("帮我改一下，") == "帮我改一下，谢谢！"
    assert add_pleasantry("能不能挪到三点？", "辛苦了！") == "能不能挪到三点？辛苦了！"


def test_thanks_is_skipped_when_the_text_already_ends_with_it():
    assert add_pleasantry("好的谢谢！") is None
    assert add_pleasantry("改完了辛苦了", "辛苦了！") is None
    assert add_pleasantry("！！") is None


def test_polite_you_keeps_nimen_and_quoted_text():
    assert polite_you("你把文档发我") == "您把文档发我"
    assert polite_you("你们明天来吗？你看下「你好世界」这本书") == "你们明天来吗？您看下「你好世界」这本书"
    assert polite_you("你们几点到") is None
    assert polite_you("把“你”字删掉") is None


def test_greeting_goes_in_front_unless_already_there():
    assert add_greeting("帮我看看", "王工，") == "王工，帮我看看"
    assert add_greeting("  帮我看看", "在吗，") == "在吗，帮我看看"
    assert add_greeting("在吗，帮我看看", "在吗，") is None


def test_particle_goes_before_closing_punctuation_and_questions_take_a():
    assert add_particle("帮我改一下。", "呗") == "帮我改一下呗。"
    assert add_particle("帮我改一下", "哈") == "帮我改一下哈"
    assert add_particle("能不能挪到三点？", "呗") == "能不能挪到三点啊？"
    assert add_particle("发我PDF👍", "哈") == "发我PDF哈👍"


def test_particle_is_skipped_after_a_particle_thanks_or_nothing():
    assert add_particle("帮我改一下吧。", "呗") is None
    assert add_particle("能改吗？", "哈") is None
    assert add_particle("好的谢谢！", "呗") is None
    assert add_particle("？？", "哈") is None


def test_emoji_is_appended_once():
    assert add_emoji("好的 ", "🙏") == "好的🙏"
    assert add_emoji("好的🙏", "🙏") is None


def test_punctuation_removal_keeps_numbers_and_separates_latin_words():
    assert remove_punctuation("明天10:30开会，版本v2.1，ok,thanks！") == "明天10:30开会版本v2.1 ok thanks"
    assert remove_punctuation("价格3.5万。") == "价格3.5万"
    assert remove_punctuation("没有标点") is None


def test_numbers_change_every_digit_run_and_keep_dates_plausible():
    text = "3月15日周三下午2:30开会，预算1200元，编号07"
    for seed in range(30):
        edited = change_numbers(text, random.Random(seed))
        month, day, hour, minute, amount, code = re.findall(r"\d+", edited)
        assert (month, day, hour, minute, amount, code) != ("3", "15", "2", "30", "1200", "07")
        assert month != "3" and 1 <= int(month) <= 12
        assert day != "15" and 1 <= int(day) <= 28
        assert amount != "1200" and len(amount) == 4
        assert int(minute) % 5 == 0 and len(minute) == 2
        assert len(code) == 2
        assert "周三" not in edited and re.search("周[一二四五六日]", edited)
        assert re.sub(r"\d+|周.", "", edited) == re.sub(r"\d+|周.", "", text)


def test_numbers_leave_counts_of_weeks_and_number_free_text_alone():
    assert change_numbers("一周一次，每周二巡检", random.Random(0)) is None
    assert change_numbers("没有数字", random.Random(0)) is None


def test_traditional_round_trips_through_the_package_table():
    text = "帮我把后台的发票数据导出来，谢谢"
    edited = traditional(text)
    assert edited is not None and edited != text
    assert "謝" in edited and "數" in edited
    assert to_simplified(edited) == to_simplified(text)
    assert normalize(edited) == normalize(text)
    assert traditional("ABC 123") is None


def test_traditional_round_trips_on_every_dev_text():
    for text in _texts("dev"):
        assert to_simplified(to_traditional(text)) == to_simplified(text)


def test_spacing_splits_clauses_and_latin_runs_only():
    assert add_spacing("用Excel导出，发我3份。好的") == "用 Excel 导出， 发我 3 份。 好的"
    assert add_spacing("帮我看看。") is None
    assert add_spacing("好的，") is None


def test_redline_after_joins_with_a_connective():
    assert add_redline_after("部署文档发我一份", "把考勤改下", "顺便") == "部署文档发我一份，顺便把考勤改下"
    assert (
        add_redline_after("部署文档发我一份！", "把考勤改下", "另外，")
        == "部署文档发我一份！另外，把考勤改下"
    )
    assert add_redline_after("发我😂", "把考勤改下", "对了，") == "发我。对了，把考勤改下"
    # a bare connective before a clause that is not a verb or 把 gets a comma
    assert add_redline_after("部署文档发我", "报警先屏蔽掉", "顺便") == "部署文档发我。顺便，报警先屏蔽掉"


def test_redline_before_puts_the_ask_first():
    assert add_redline_before(" 部署文档发我 ", "把考勤改下") == "把考勤改下，还有部署文档发我"


# -- seeds -----------------------------------------------------------------------------------


def test_mft_seeds_cover_every_prohibited_type_with_short_asks():
    seeds = mft_seeds()
    assert {seed.type for seed in seeds} == _inventory_types()
    for seed in seeds:
        assert 4 <= len(seed.ask) <= 15, seed
        assert seed.twin and seed.twin != seed.ask
        assert seed.twin_label in ("in_scope", "courtesy")


def test_redline_clauses_are_many_and_varied():
    clauses = redline_clauses()
    assert len(clauses) >= 60
    assert len({clause.text for clause in clauses}) == len(clauses)
    assert len({clause.type for clause in clauses}) >= 60
    assert {clause.type for clause in clauses} <= _inventory_types()


def test_seeds_are_not_near_twins_of_corpus_rows():
    pool = [text for split in ("train", "dev", "test") for text in _texts(split)]
    seeds = [text for seed in mft_seeds() for text in (seed.ask, seed.twin)]
    seeds += [clause.text for clause in redline_clauses()]
    twins = near_twins([_trigrams(text) for text in seeds], [_trigrams(text) for text in pool])
    assert not twins, [(seeds[q], pool[p], round(score, 2)) for q, (p, score) in twins.items()]
    assert NEAR_TWIN_JACCARD == 0.6


def test_seed_files_ship_inside_the_package():
    from importlib import resources

    folder = resources.files("boundary_nlp").joinpath("resources/behaviour")
    assert {"mft.json", "redline.json"} <= {entry.name for entry in folder.iterdir()}


# -- the report ------------------------------------------------------------------------------


class ThanksFlipper:
    """Calls a message with 谢谢 courtesy, one with 改 prohibited, anything else in_scope."""

    def predict(self, texts):
        return [
            "courtesy" if "谢谢" in text else "prohibited" if "改" in text else "in_scope" for text in texts
        ]


ORDINARY = [f"第{i}版部署文档发我一份" for i in range(40)] + [
    f"第{i}版部署文档发我一份，顺便看看测试环境的数据库连接池配置，最近老是超时，日志我放共享盘了"
    for i in range(40)
]


def test_report_counts_flips_of_a_stub_model():
    texts = ORDINARY + ["帮我看下，谢谢", "把日期改一下"]
    labels = ["in_scope"] * len(ORDINARY) + ["courtesy", "prohibited"]
    report = run_behaviour(ThanksFlipper(), texts, labels, max_cases=1000)
    thanks = report["thanks"]
    # every text but the one already ending in 谢谢 gets "，谢谢！", and every one flips to courtesy
    assert thanks.kind == INV
    assert thanks.cases == len(texts) - 1
    assert thanks.failures == thanks.cases and thanks.failure_rate == 1.0
    assert report["pleasantry"].cases == len(texts) and report["pleasantry"].failures == 0
    assert thanks.meets_target is False and len(thanks.examples) == 3
    example = thanks.examples[0]
    assert example.edited.endswith("谢谢！") and example.edited_label == "courtesy"
    assert example.expected == example.original_label
    assert report["emoji"].failures == 0 and report["emoji"].meets_target is True
    # the stub reads raw text, so 謝謝 is not 谢谢 to it: the one thankful message flips
    assert report["traditional"].failures == 1
    # the red-line clauses that contain 改 are caught, the others not
    after = report["red-line after short message"]
    assert after.kind == DIR and after.cases == 41  # 40 short ORDINARY and "帮我看下，谢谢"
    assert 0 < after.failures < after.cases
    assert report["red-line after long message"].cases == 40
    assert report["removal"].failures == 0 and report["removal"].cases == len(ORDINARY) + 1
    assert report["red-line ask"].kind == MFT and report["red-line ask"].cases == len(mft_seeds())
    assert not report.meets_targets()
    assert {"thanks", "red-line after short message"} <= {result.name for result in report.missed()}


def test_report_caps_cases_and_is_reproducible():
    first = run_behaviour(ThanksFlipper(), ORDINARY, ["in_scope"] * len(ORDINARY), seed=3, max_cases=7)
    second = run_behaviour(ThanksFlipper(), ORDINARY, ["in_scope"] * len(ORDINARY), seed=3, max_cases=7)
    assert first.to_dict() == second.to_dict()
    assert all(result.cases <= 7 for result in first.results if result.kind != MFT)


def test_without_labels_there_is_no_removal_test():
    report = run_behaviour(ThanksFlipper(), ORDINARY, max_cases=20)
    with pytest.raises(KeyError):
        report["removal"]
    assert report["red-line before short message"].cases == 20


def test_report_targets_format_markdown_and_dict():
    class Perfect:
        def predict(self, texts):
            clauses = {clause.text for clause in redline_clauses()}
            asks = {seed.ask for seed in mft_seeds()}
            return [
                "prohibited" if text in asks or any(c in text for c in clauses) else "in_scope"
                for text in texts
            ]

    report = run_behaviour(Perfect(), ORDINARY, ["in_scope"] * len(ORDINARY), max_cases=50)
    assert report.meets_targets() and report.missed() == []
    assert report["red-line ask"].failures == 0 and report["harmless twin"].failures == 0
    table = report.format()
    assert "all targets met" in table and "thanks" in table and f"<= {MAX_INVARIANCE_FLIP:.0%} flip" in table
    markdown = report.to_markdown()
    assert markdown.count("\n| ") == len(report.results) + 2 and "All targets met." in markdown
    data = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert data["meets_targets"] is True
    assert data["targets"] == {"max_invariance_flip": MAX_INVARIANCE_FLIP, "min_directional": MIN_DIRECTIONAL}
    assert {test["kind"] for test in data["tests"]} == {MFT, INV, DIR}


def test_a_directional_test_exactly_at_the_target_meets_it():
    result = behaviour.BehaviourResult(
        "x", DIR, "", cases=100, failures=3, max_failure_rate=1 - MIN_DIRECTIONAL
    )
    assert result.meets_target is True
    result.failures = 4
    assert result.meets_target is False


def test_run_behaviour_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels"):
        run_behaviour(ThanksFlipper(), ["a", "b"], ["in_scope"])


# -- the CLI and the shipped model -------------------------------------------------------------


def test_cli_evaluate_behaviour_prints_json(cli, saved_small_model_path):
    result = cli(
        "evaluate",
        "--behaviour",
        "--model",
        str(saved_small_model_path),
        "--data",
        "datasets/dev.csv",
        "--json",
        "--max-cases",
        "20",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["max_cases"] == 20
    assert "thanks" in {test["name"] for test in data["tests"]}


def test_cli_evaluate_without_behaviour_needs_exactly_one_data_file(cli, saved_small_model_path):
    result = cli(
        "evaluate",
        "--model",
        str(saved_small_model_path),
        "--data",
        "datasets/dev.csv",
        "--data",
        "datasets/test.csv",
    )
    assert result.returncode == 2
    assert "--data" in result.stderr


@pytest.fixture(scope="module")
def shipped_report(default_model):
    # the repository's files, so the suite runs the same with an installed (non-editable) package
    root = Path(__file__).resolve().parents[1] / "datasets"
    return run_behaviour(default_model, *load_texts([root / "dev.csv", root / "test.csv"]))


# Invariance tests the shipped model misses (issue 14's target is <= 1% each), with the bar a
# regression must not cross (about 1.2x what the shipped model measured); each is a strict
# expected failure of the target test. The shipped model misses none: the opening greeting
# and the closing pleasantry are no longer read (vocative.py, closing.py).
KNOWN_INVARIANCE_MISSES: dict[str, float] = {}
INVARIANCE_TESTS = (
    "thanks",
    "pleasantry",
    "polite 您",
    "name or greeting",
    "final particle",
    "emoji",
    "no punctuation",
    "numbers and dates",
    "traditional",
    "spacing",
)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name, marks=pytest.mark.xfail(strict=True, reason="target missed, see KNOWN_INVARIANCE_MISSES")
        )
        if name in KNOWN_INVARIANCE_MISSES
        else name
        for name in INVARIANCE_TESTS
    ],
)
def test_shipped_model_meets_the_invariance_target(shipped_report, name):
    result = shipped_report[name]
    assert result.kind == INV and result.cases >= 100
    assert result.failure_rate <= MAX_INVARIANCE_FLIP, shipped_report.format()


@pytest.mark.parametrize("name", sorted(KNOWN_INVARIANCE_MISSES))
def test_shipped_model_does_not_regress_on_the_invariance_tests_it_misses(shipped_report, name):
    assert shipped_report[name].failure_rate <= KNOWN_INVARIANCE_MISSES[name], shipped_report.format()


def test_shipped_model_meets_the_directional_targets(shipped_report):
    directional = [r for r in shipped_report.results if r.kind == DIR and r.max_failure_rate is not None]
    assert len(directional) == 4
    for result in directional:
        assert 1 - result.failure_rate >= MIN_DIRECTIONAL, shipped_report.format()


def test_every_invariance_test_is_pinned(shipped_report):
    assert {r.name for r in shipped_report.results if r.kind == INV} == set(INVARIANCE_TESTS)
