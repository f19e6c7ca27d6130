from __future__ import annotations

import codecs
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boundary_nlp import DataError, check, load_dataset
from boundary_nlp.data import read_records

try:
    from ._tiny import TINY_DATA, write_csv
except ImportError:
    from _tiny import TINY_DATA, write_csv

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"

ROWS = [
    ("帮我取个快递", "courtesy"),
    ("把会议纪要发群里", "in_scope"),
    ("帮我把考勤记录改一下", "prohibited"),
]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# --- load_dataset ----------------------------------------------------------------------


def test_load_dataset_reads_utf8_csv(tmp_path):
    rows = [[str(i), t, lab] for i, (t, lab) in enumerate(ROWS)]
    path = write_csv(tmp_path / "d.csv", ["id", "text", "label"], rows)
    assert load_dataset(path) == ([t for t, _ in ROWS], [lab for _, lab in ROWS])


def test_load_dataset_reads_csv_with_byte_order_mark(tmp_path):
    path = write_csv(tmp_path / "bom.csv", ["text", "label"], [list(r) for r in ROWS], encoding="utf-8-sig")
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    assert load_dataset(path) == ([t for t, _ in ROWS], [lab for _, lab in ROWS])


def test_load_dataset_reads_jsonl_and_skips_blank_lines(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": t, "label": lab, "extra": 1} for t, lab in ROWS])
    path.write_text(path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    assert load_dataset(path) == ([t for t, _ in ROWS], [lab for _, lab in ROWS])


def test_load_dataset_reads_jsonl_with_byte_order_mark(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + json.dumps({"text": "帮我取个快递", "label": "courtesy"}).encode())
    assert load_dataset(path) == (["帮我取个快递"], ["courtesy"])


def test_load_dataset_keeps_quoted_commas_and_newlines(tmp_path):
    path = write_csv(tmp_path / "q.csv", ["text", "label"], [["第一行，\n第二行, with comma", "in_scope"]])
    assert load_dataset(path) == (["第一行，\n第二行, with comma"], ["in_scope"])


def test_load_dataset_custom_columns(tmp_path):
    path = write_csv(tmp_path / "c.csv", ["message", "gold"], [["帮我取个快递", "courtesy"]])
    assert load_dataset(path, text_column="message", label_column="gold") == (["帮我取个快递"], ["courtesy"])


def test_load_dataset_reads_the_shipped_splits():
    texts, labels = load_dataset(DATASETS / "dev.csv")
    assert len(texts) == len(labels) > 100
    assert set(labels) == {"in_scope", "courtesy", "prohibited"}


# --- encodings -------------------------------------------------------------------------


def gbk_file(tmp_path: Path) -> Path:
    rows = [["1", "ok", "in_scope"], ["2", "fine", "in_scope"], ["3", "帮我取个快递", "courtesy"]]
    return write_csv(tmp_path / "excel.csv", ["id", "text", "label"], rows, encoding="gbk")


def test_gbk_csv_raises_data_error_naming_the_row_and_gb18030(tmp_path):
    path = gbk_file(tmp_path)
    with pytest.raises(DataError) as info:
        load_dataset(path)
    error = info.value
    message = str(error)
    assert "gb18030" in message
    assert str(path) in message
    assert error.row is not None and f"row {error.row}" in message


def test_decode_error_row_is_the_csv_data_row_number(tmp_path):
    # read_records numbers CSV data rows from 1 (header = row 0); the bad bytes are in data row 3
    path = gbk_file(tmp_path)
    with pytest.raises(DataError) as info:
        list(read_records(path))
    assert info.value.row == 3, f"decode error reported at row {info.value.row}, the bad text is data row 3"


def test_gbk_csv_reads_with_gb18030_encoding(tmp_path):
    texts, labels = load_dataset(gbk_file(tmp_path), encoding="gb18030")
    assert texts == ["ok", "fine", "帮我取个快递"]
    assert labels == ["in_scope", "in_scope", "courtesy"]


# --- bad rows --------------------------------------------------------------------------


def test_missing_column_raises_data_error_with_row(tmp_path):
    path = write_csv(tmp_path / "m.csv", ["id", "text"], [["1", "帮我取个快递"]])
    with pytest.raises(DataError, match=r"row 1\b.*'label'") as info:
        load_dataset(path)
    assert info.value.row == 1


def test_empty_text_raises_data_error_with_row(tmp_path):
    rows = [["帮我取个快递", "courtesy"], ["  ", "in_scope"]]
    path = write_csv(tmp_path / "e.csv", ["text", "label"], rows)
    with pytest.raises(DataError, match=r"row 2\b") as info:
        load_dataset(path)
    assert info.value.row == 2


def test_empty_label_raises_data_error_with_row(tmp_path):
    path = write_csv(tmp_path / "l.csv", ["text", "label"], [["帮我取个快递", ""]])
    with pytest.raises(DataError, match=r"row 1\b"):
        load_dataset(path)


def test_ragged_csv_row_raises_data_error_with_row(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("text,label\n帮我取个快递,courtesy\n帮我取个快递,顺便,courtesy\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 2\b.*3 fields") as info:
        load_dataset(path)
    assert info.value.row == 2


def test_bad_json_line_raises_data_error_with_row(tmp_path):
    path = tmp_path / "b.jsonl"
    good = '{"text": "a", "label": "in_scope"}\n'
    path.write_text(good + good + '{"text": oops}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"row 3\b.*JSON") as info:
        load_dataset(path)
    assert info.value.row == 3


def test_json_line_that_is_not_an_object_raises_data_error(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('["帮我取个快递", "courtesy"]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"row 1\b"):
        load_dataset(path)


def test_jsonl_deeply_nested_line_raises_data_error(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"[" * 100_000 + b"\n")
    with pytest.raises(DataError, match=r"row 1\b"):
        list(read_records(path))


def test_jsonl_huge_integer_raises_data_error(tmp_path):
    path = tmp_path / "digits.jsonl"
    path.write_bytes(b'{"text": "a", "label": ' + b"9" * 5000 + b"}\n")
    with pytest.raises(DataError, match=r"row 1\b"):
        list(read_records(path))


def test_file_without_rows_raises_data_error(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(DataError):
        load_dataset(path)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError):
        load_dataset(empty)


def test_unknown_extension_and_missing_file(tmp_path):
    other = tmp_path / "d.xlsx"
    other.write_bytes(b"PK")
    with pytest.raises(DataError, match="unknown file type"):
        load_dataset(other)
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "missing.csv")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".jsonl", ".tsv"]))
def test_read_records_on_arbitrary_bytes_raises_only_data_error(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            for number, record in read_records(path):
                assert isinstance(number, int) and isinstance(record, dict)
        except DataError as error:
            assert error.path == str(path)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(min_size=1).filter(lambda t: t.strip() and "\x00" not in t),
    label=st.sampled_from(["in_scope", "courtesy", "prohibited"]),
)
def test_csv_written_by_the_csv_module_round_trips(text, label):
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder) / "rt.csv", ["text", "label"], [[text, label]])
        texts, labels = load_dataset(path)
    assert texts == [text]
    assert labels == [label]


# --- check ---------------------------------------------------------------------------


def test_check_passes_on_the_shipped_datasets():
    report = check(DATASETS)
    assert report.ok, report.format()
    stats = report.stats
    assert stats["rows"] >= 3600
    totals: dict[str, int] = {}
    for counts in stats["labels"].values():
        for label, count in counts.items():
            totals[label] = totals.get(label, 0) + count
    assert set(totals) == {"in_scope", "courtesy", "prohibited"}
    assert min(totals.values()) >= 1100, totals
    assert stats["short_share"] >= 0.10
    assert stats["long_share"] >= 0.10
    assert stats["traditional_share"] >= 0.03
    assert stats["latin_share"] >= 0.03
    assert stats["multi_ask_share"] >= 0.05
    assert stats["cross_split_near_twin_share"] <= 0.01
    assert stats["train_near_twin_share"] <= 0.05


HEADER = ["id", "text", "label", "domain", "register"]
DEV_TEXTS = [
    ("明天的周会改到下午三点开", "in_scope"),
    ("能帮我把打印机卡住的纸拿出来吗", "courtesy"),
    ("你帮我们把供应商的报价单偷偷拍下来", "prohibited"),
    ("升级脚本跑完了记得告诉我", "in_scope"),
]
TEST_TEXTS = [
    ("数据迁移的方案什么时候能出来", "in_scope"),
    ("帮我们部门拍一张集体照吧", "courtesy"),
    ("系统日志里那几条报错记录帮忙删掉", "prohibited"),
]


def make_corpus(folder: Path, train=None, dev=None, test=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    splits = {
        "train": train or list(TINY_DATA),
        "dev": dev or list(DEV_TEXTS),
        "test": test or list(TEST_TEXTS),
    }
    for split, rows in splits.items():
        records = [
            [f"{split}-{i}", text, label, "software", "chat"] for i, (text, label) in enumerate(rows, 1)
        ]
        write_csv(folder / f"{split}.csv", HEADER, records)
    return folder


def test_check_passes_on_a_clean_tmp_corpus(tmp_path):
    report = check(make_corpus(tmp_path / "clean"))
    assert report.ok, report.format()


def problem_lines(report) -> list[str]:
    return [str(problem) for problem in report.problems]


def test_corpus_check_fails_on_an_unknown_label_naming_file_and_row(tmp_path):
    train = list(TINY_DATA)
    train[2] = (train[2][0], "maybe")
    corpus = make_corpus(tmp_path / "c", train=train)
    report = check(corpus, corpus=True)
    assert not report.ok
    assert any(f"{corpus / 'train.csv'}, row 3" in line and "maybe" in line for line in problem_lines(report))


def test_check_fails_on_an_empty_text_naming_file_and_row(tmp_path):
    dev = list(DEV_TEXTS)
    dev[1] = ("   ", "courtesy")
    corpus = make_corpus(tmp_path / "c", dev=dev)
    report = check(corpus)
    assert not report.ok
    assert any(f"{corpus / 'dev.csv'}, row 2" in line and "empty" in line for line in problem_lines(report))


def test_check_fails_on_an_exact_duplicate_naming_both_rows(tmp_path):
    test = list(TEST_TEXTS)
    test[0] = TINY_DATA[4]
    corpus = make_corpus(tmp_path / "c", test=test)
    report = check(corpus)
    assert not report.ok
    assert any(
        f"{corpus / 'test.csv'}, row 1" in line
        and "duplicate" in line
        and f"{corpus / 'train.csv'}, row 5" in line
        for line in problem_lines(report)
    ), report.format()


def test_check_fails_on_a_dev_near_twin_of_a_train_row(tmp_path):
    dev = list(DEV_TEXTS)
    dev[2] = (TINY_DATA[0][0] + "吧", TINY_DATA[0][1])  # 会议纪要整理好发到项目群里吧
    corpus = make_corpus(tmp_path / "c", dev=dev)
    report = check(corpus)
    assert not report.ok
    assert report.stats["cross_split_near_twin_share"] > 0.01
    assert any(
        f"{corpus / 'dev.csv'}, row 3" in line and "near-twin" in line and "row 1" in line
        for line in problem_lines(report)
    ), report.format()


def test_corpus_check_fails_on_missing_columns(tmp_path):
    folder = tmp_path / "cols"
    folder.mkdir()
    write_csv(folder / "train.csv", ["text", "label"], [[t, lab] for t, lab in TINY_DATA])
    report = check(folder, corpus=True)
    assert not report.ok
    assert any("missing columns" in line for line in problem_lines(report))


def test_check_reports_an_undecodable_file_as_a_problem(tmp_path):
    corpus = make_corpus(tmp_path / "c")
    (corpus / "dev.csv").write_bytes((corpus / "dev.csv").read_text(encoding="utf-8").encode("gbk"))
    report = check(corpus)
    assert not report.ok
    assert any(str(corpus / "dev.csv") in line and "gb18030" in line for line in problem_lines(report))
