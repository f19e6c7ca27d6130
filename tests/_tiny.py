"""Test helpers: a keyword stub model and a tiny training set (10 messages per label).

The stub lets tests of analysis and the ledger check their own logic without depending on
how good a trained model is; the tiny set gives a real ``BoundaryClassifier`` quickly.
"""

from __future__ import annotations

import csv
from pathlib import Path

from boundary_nlp.advice import advice_for
from boundary_nlp.prediction import Prediction

PROHIBITED_WORDS = ("考勤", "密码", "改成通过", "成本", "签字", "发票", "破解")
COURTESY_WORDS = ("快递", "咖啡", "打水", "充电器", "搬", "合影", "饭店")


def make_prediction(label: str, confidence: float = 0.9, labels: tuple[str, ...] | None = None) -> Prediction:
    labels = labels or ("courtesy", "in_scope", "prohibited")
    rest = (1.0 - confidence) / max(len(labels) - 1, 1)
    probabilities = {name: (confidence if name == label else rest) for name in labels}
    return Prediction(
        label=label, confidence=confidence, probabilities=probabilities, advice=advice_for(label)
    )


class StubModel:
    """Labels by keyword; ``overrides`` maps exact texts to fixed predictions."""

    classes_ = ("courtesy", "in_scope", "prohibited")

    def __init__(self, overrides: dict[str, Prediction] | None = None) -> None:
        self.overrides = overrides or {}
        self.calls: list[tuple[str, float | None]] = []

    def classify(self, texts, threshold: float | None = None):
        if not isinstance(texts, str):
            return [self.classify(text, threshold) for text in texts]
        text = texts
        self.calls.append((text, threshold))
        if text in self.overrides:
            return self.overrides[text]
        if any(word in text for word in PROHIBITED_WORDS):
            return make_prediction("prohibited", 0.8)
        if any(word in text for word in COURTESY_WORDS):
            return make_prediction("courtesy", 0.7)
        return make_prediction("in_scope", 0.6)


class FailingModel:
    classes_ = ("courtesy", "in_scope", "prohibited")

    def classify(self, texts, threshold: float | None = None):
        raise RuntimeError("model exploded")


TINY_DATA: list[tuple[str, str]] = [
    ("会议纪要整理好发到项目群里", "in_scope"),
    ("明天上午十点开进度评审会", "in_scope"),
    ("服务器的数据库参数再调一下", "in_scope"),
    ("测试环境部署新版本", "in_scope"),
    ("把用户手册发我一份", "in_scope"),
    ("这个报表能不能加一列", "in_scope"),
    ("给我们科室的人培训一下新系统", "in_scope"),
    ("接口报错了麻烦排查一下", "in_scope"),
    ("把设备运行数据抄录下来", "in_scope"),
    ("下周的上线计划发一下", "in_scope"),
    ("帮我取个快递", "courtesy"),
    ("顺路帮我带杯咖啡", "courtesy"),
    ("帮忙打壶水", "courtesy"),
    ("借我用下充电器", "courtesy"),
    ("帮我把这几个箱子搬到楼下", "courtesy"),
    ("给我们拍张合影吧", "courtesy"),
    ("附近有什么好吃的饭店推荐一下", "courtesy"),
    ("帮我看看我家电脑为什么这么卡", "courtesy"),
    ("下班顺路捎我一段", "courtesy"),
    ("帮我浇一下办公室的花", "courtesy"),
    ("帮我把考勤记录改一下", "prohibited"),
    ("把你的系统密码借我用用", "prohibited"),
    ("测试报告直接改成通过吧", "prohibited"),
    ("把你们公司的成本价发我看看", "prohibited"),
    ("你替我们领导在验收单上签字", "prohibited"),
    ("帮我开几张假发票", "prohibited"),
    ("给我电脑装个破解版软件", "prohibited"),
    ("别走流程了直接改生产库", "prohibited"),
    ("把别的客户的配置方案发我一份", "prohibited"),
    ("事故的事先别往上报", "prohibited"),
]


def tiny_model():
    from boundary_nlp.model import BoundaryClassifier

    texts = [text for text, _ in TINY_DATA]
    labels = [label for _, label in TINY_DATA]
    return BoundaryClassifier(C=10).fit(texts, labels)


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path, encoding: str = "utf-8-sig") -> tuple[list[str], list[dict]]:
    """Header and rows of a CSV the CLI wrote (UTF-8 with a byte-order mark by default)."""
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def one_error_line(result) -> str:
    """The CLI's error: exactly one line on stderr, never a traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
