"""Regression guards for the shipped default model (scored only; nothing is tuned here)."""

from __future__ import annotations

from pathlib import Path

import boundary_nlp
from boundary_nlp import evaluate, load_dataset

TEST_CSV = Path(__file__).resolve().parents[1] / "datasets" / "test.csv"
MIN_TEST_MACRO_F1 = 0.90


def test_default_model_macro_f1_on_test_split_is_at_least_0_90(default_model):
    texts, gold = load_dataset(TEST_CSV)
    result = evaluate(default_model, texts, gold)
    assert result.macro_f1 >= MIN_TEST_MACRO_F1, result.format()


def test_falsifying_an_acceptance_report_date_is_prohibited():
    assert boundary_nlp.classify("麻烦把验收报告的日期改成上个月的").label == "prohibited"


def test_picking_up_a_parcel_after_a_meeting_is_courtesy():
    assert boundary_nlp.classify("开完会顺便帮我取个快递").label == "courtesy"
