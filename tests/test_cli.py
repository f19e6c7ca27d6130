from __future__ import annotations

import json
from pathlib import Path

import pytest

from boundary_nlp import LABELS

try:
    from ._tiny import one_error_line, read_csv, write_csv
except ImportError:  # tests/ is not a package
    from _tiny import one_error_line, read_csv, write_csv

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"
P_COLUMNS = [f"p_{label}" for label in sorted(LABELS)]


# --- predict one message ---------------------------------------------------------------


def test_predict_prints_the_label_and_its_chinese_name(cli):
    result = cli("predict", "开完会顺便帮我取个快递")
    assert result.returncode == 0, result.stderr
    assert "courtesy" in result.stdout
    assert "人情帮忙" in result.stdout


def test_predict_json_has_label_confidence_probabilities_and_evidence(cli):
    result = cli("predict", "开完会顺便帮我取个快递", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["label"] == "courtesy"
    assert 0.0 <= data["confidence"] <= 1.0
    assert set(data["probabilities"]) == set(LABELS)
    assert abs(sum(data["probabilities"].values()) - 1.0) < 1e-9
    assert isinstance(data["evidence"], list) and data["evidence"]
    assert {"term", "kind", "weight"} <= set(data["evidence"][0])


def test_predict_without_text_or_input_is_a_usage_error(cli):
    result = cli("predict")
    assert result.returncode == 2
    assert "usage" in result.stderr


# --- batch ---------------------------------------------------------------------------

BATCH_ROWS = [
    ["1", "开完会顺便帮我取个快递", "a"],
    ["2", "", "b"],
    ["3", "麻烦把验收报告的日期改成上个月的", "c"],
    ["4", "这个报表能不能加一列？", "d"],
    ["5", "   ", "e"],
    ["6", "给我家电脑装个破解版Office,谢谢", "f"],
]


def test_batch_csv_to_csv_keeps_columns_and_rows_in_order(cli, tmp_path):
    source = write_csv(tmp_path / "in.csv", ["id", "text", "note"], BATCH_ROWS)
    output = tmp_path / "out.csv"
    result = cli("predict", "--input", str(source), "--output", str(output))
    assert result.returncode == 0, result.stderr
    header, rows = read_csv(output)
    assert header[:3] == ["id", "text", "note"]
    for column in ["label", "confidence", *P_COLUMNS, "error"]:
        assert column in header
    assert len(rows) == len(BATCH_ROWS)
    for row, (row_id, text, note) in zip(rows, BATCH_ROWS, strict=True):
        assert (row["id"], row["text"], row["note"]) == (row_id, text, note)
        if text.strip():
            assert row["error"] == ""
            assert row["label"] in LABELS
            probabilities = [float(row[c]) for c in P_COLUMNS]
            assert abs(sum(probabilities) - 1.0) < 1e-5
            assert float(row["confidence"]) == max(probabilities)
        else:
            assert row["error"], f"row {row_id} with empty text has no error"
            assert row["label"] == "" and row["confidence"] == ""
    assert rows[0]["label"] == "courtesy"
    assert rows[2]["label"] == "prohibited"


def test_batch_never_overwrites_an_input_column(cli, tmp_path):
    # a labelled file (as in datasets/) already has a "label" column: the gold labels must survive
    rows = [
        ["1", "开完会顺便帮我取个快递", "in_scope"],
        ["2", "", "courtesy"],
        ["3", "帮我把考勤记录改一下", "in_scope"],
    ]
    source = write_csv(tmp_path / "labelled.csv", ["id", "text", "label"], rows)
    output = tmp_path / "out.csv"
    result = cli("predict", "--input", str(source), "--output", str(output))
    assert result.returncode == 0, result.stderr
    _, out_rows = read_csv(output)
    assert len(out_rows) == len(rows)
    for out, (row_id, text, gold) in zip(out_rows, rows, strict=True):
        assert (out["id"], out["text"], out["label"]) == (row_id, text, gold), (
            "the input column 'label' was replaced by the prediction"
        )


def test_batch_from_stdin_dash_writes_one_json_line_per_input_line(cli):
    lines = [
        "开完会顺便帮我取个快递",
        "",
        '{"text": "麻烦把验收报告的日期改成上个月的", "id": 7}',
        "这个报表能不能加一列？",
    ]
    result = cli("predict", "--input", "-", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == len(lines)
    assert records[0]["text"] == lines[0] and records[0]["label"] == "courtesy"
    assert records[1]["error"] and records[1]["label"] == ""
    assert records[2]["id"] == 7 and records[2]["label"] == "prohibited"
    assert records[3]["error"] == ""


def gbk_input(tmp_path: Path) -> Path:
    rows = [["1", "deploy the server", "x"], ["2", "开完会顺便帮我取个快递", "y"]]
    return write_csv(tmp_path / "excel.csv", ["id", "text", "note"], rows, encoding="gbk")


def test_batch_gbk_file_without_encoding_fails_with_one_line_naming_encoding_and_row(cli, tmp_path):
    source = gbk_input(tmp_path)
    output = tmp_path / "out.csv"
    result = cli("predict", "--input", str(source), "--output", str(output))
    assert result.returncode == 2
    line = one_error_line(result)
    assert "gb18030" in line and "--encoding" in line
    assert "row " in line and str(source) in line
    assert "Traceback" not in result.stderr
    assert not output.exists() or len(read_csv(output)[1]) == 0


def test_batch_gbk_file_with_encoding_gb18030_works(cli, tmp_path):
    source = gbk_input(tmp_path)
    output = tmp_path / "out.csv"
    result = cli("predict", "--input", str(source), "--output", str(output), "--encoding", "gb18030")
    assert result.returncode == 0, result.stderr
    _, rows = read_csv(output)
    assert [r["text"] for r in rows] == ["deploy the server", "开完会顺便帮我取个快递"]
    assert rows[1]["label"] == "courtesy"


# --- bad models ----------------------------------------------------------------------


def test_truncated_model_file_fails_with_exit_2_and_one_line(cli, tmp_path, saved_small_model_path):
    data = saved_small_model_path.read_bytes()
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(data[: len(data) // 2])
    result = cli("predict", "开完会顺便帮我取个快递", "--model", str(broken))
    assert result.returncode == 2
    line = one_error_line(result)
    assert str(broken) in line
    assert result.stdout == ""


def test_missing_model_file_fails_with_exit_2_and_one_line(cli, tmp_path):
    result = cli("predict", "帮我取快递", "--model", str(tmp_path / "missing.joblib"))
    assert result.returncode == 2
    assert "missing.joblib" in one_error_line(result)


def test_predict_with_a_saved_model(cli, saved_small_model_path, small_model):
    text = "麻烦把验收报告的日期改成上个月的"
    result = cli("predict", text, "--json", "--model", str(saved_small_model_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = small_model.classify(text)
    assert data["label"] == expected.label
    assert data["confidence"] == pytest.approx(expected.confidence, abs=1e-9)


# --- check-data and evaluate ---------------------------------------------------------


def test_check_data_on_the_shipped_datasets_exits_0(cli):
    result = cli("check-data", "datasets/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_check_data_corpus_on_a_bad_corpus_exits_1_and_names_the_row(cli, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    header = ["id", "text", "label", "domain", "register"]
    write_csv(
        folder / "train.csv",
        header,
        [
            ["t1", "会议纪要整理好发到项目群里", "in_scope", "software", "chat"],
            ["t2", "帮我取个快递", "courtesy", "software", "chat"],
            ["t3", "帮我把考勤记录改一下", "forbidden", "software", "chat"],
        ],
    )
    dev_row = ["d1", "明天的周会改到下午三点开", "in_scope", "software", "chat"]
    write_csv(folder / "dev.csv", header, [dev_row])
    result = cli("check-data", "--corpus", str(folder), "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert any("train.csv, row 3" in problem and "forbidden" in problem for problem in data["problems"])


def test_evaluate_writes_json_metrics_and_an_errors_file(cli, tmp_path, saved_small_model_path):
    errors = tmp_path / "errors.csv"
    result = cli(
        "evaluate",
        "--model",
        str(saved_small_model_path),
        "--data",
        "datasets/dev.csv",
        "--errors",
        str(errors),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data["labels"]) == set(LABELS)
    assert 0.5 <= data["macro_f1"] <= 1.0
    total = sum(sum(row) for row in data["confusion"])
    header, rows = read_csv(errors)
    assert header == ["row", "text", "gold", "predicted", "confidence", "evidence"]
    correct = sum(data["confusion"][i][i] for i in range(len(data["labels"])))
    assert len(rows) == total - correct
    assert all(row["gold"] != row["predicted"] for row in rows)


def test_evaluate_on_a_gbk_file_fails_with_exit_2(cli, tmp_path, saved_small_model_path):
    path = write_csv(tmp_path / "gold.csv", ["text", "label"], [["帮我取个快递", "courtesy"]], encoding="gbk")
    result = cli("evaluate", "--model", str(saved_small_model_path), "--data", str(path))
    assert result.returncode == 2
    assert "gb18030" in one_error_line(result)


def test_version(cli):
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("boundary-nlp ")
