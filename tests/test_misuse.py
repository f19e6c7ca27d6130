"""Issue 15: the file, batch and error paths under misuse.

Outputs are never inputs; an interrupted run (Ctrl-C, SIGTERM, SIGKILL) leaves the previous
output as it was; CSV cells are not run by spreadsheets; one bad row is a row error, a bad
file is one line and exit 2; evaluate says when it scores the model's own training data;
check-data takes what users have. Behaviour about files, signals and exit codes is tested
through the CLI in a subprocess.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from boundary_nlp._files import (
    SameFileError,
    atomic_path,
    atomic_write,
    escape_formula,
    partial_path,
    refuse_same_file,
)

try:
    from ._tiny import TINY_DATA, StubModel, one_error_line, read_csv, write_csv
except ImportError:  # tests/ is not a package
    from _tiny import TINY_DATA, StubModel, one_error_line, read_csv, write_csv

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def cli_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def cli_bytes(*args: str, stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "boundary_nlp.cli", *args],
        cwd=ROOT,
        env=cli_env(),
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def tiny_csv(path: Path) -> Path:
    rows = [[str(i), text, label] for i, (text, label) in enumerate(TINY_DATA)]
    return write_csv(path, ["id", "text", "label"], rows)


# --- outputs are never inputs ----------------------------------------------------------


def test_predict_refuses_an_output_that_is_its_input(cli, tmp_path):
    source = tiny_csv(tmp_path / "same.csv")
    before = source.read_bytes()
    result = cli("predict", "--input", str(source), "--output", str(source))
    assert result.returncode == 2
    assert "same.csv" in one_error_line(result)
    assert source.read_bytes() == before


def test_predict_refuses_the_input_under_another_spelling_or_a_hard_link(cli, tmp_path):
    source = tiny_csv(tmp_path / "in.csv")
    link = tmp_path / "link.csv"
    os.link(source, link)
    before = source.read_bytes()
    for output in (tmp_path / "missing" / ".." / "in.csv", link):
        result = cli("predict", "--input", str(source), "--output", str(output))
        assert result.returncode == 2, result.stderr
        one_error_line(result)
    assert source.read_bytes() == before


def test_evaluate_refuses_an_errors_file_that_is_its_data(cli, tmp_path):
    data = tiny_csv(tmp_path / "gold.csv")
    before = data.read_bytes()
    result = cli("evaluate", "--data", str(data), "--errors", str(data))
    assert result.returncode == 2
    one_error_line(result)
    assert data.read_bytes() == before


def test_train_refuses_to_write_the_model_over_a_data_file(cli, tmp_path):
    train = tiny_csv(tmp_path / "train.csv")
    dev = tiny_csv(tmp_path / "dev.csv")
    before = train.read_bytes()
    result = cli("train", "--train", str(train), "--dev", str(dev), "--out", str(train))
    assert result.returncode == 2
    assert "train.csv" in one_error_line(result)
    assert train.read_bytes() == before


def test_refuse_same_file_compares_symlinks_and_paths_that_do_not_exist_yet(tmp_path):
    source = tiny_csv(tmp_path / "in.csv")
    (tmp_path / "alias.csv").symlink_to(source)
    with pytest.raises(SameFileError, match="in.csv"):
        refuse_same_file([tmp_path / "alias.csv"], [source])
    with pytest.raises(SameFileError):
        refuse_same_file([tmp_path / "new.csv", tmp_path / "." / "new.csv"], [source])  # twice
    refuse_same_file([tmp_path / "out.csv", None, "-"], [source, None, "-"])  # fine


# --- atomic writes ---------------------------------------------------------------------


def test_atomic_write_leaves_the_previous_file_on_an_exception(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("previous", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_write(path) as fh:
        fh.write("half")
        raise RuntimeError("boom")
    assert path.read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_atomic_write_keeps_a_partial_file_only_when_asked_and_under_a_partial_name(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("previous", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt), atomic_write(path, keep_partial=True) as fh:
        fh.write("half")
        raise KeyboardInterrupt
    assert path.read_text(encoding="utf-8") == "previous"
    assert partial_path(path).read_text(encoding="utf-8") == "half"
    assert partial_path(path).name == "out.csv.partial"


def test_atomic_write_replaces_on_success_with_ordinary_permissions(tmp_path):
    path = tmp_path / "out.bin"
    with atomic_write(path, "wb") as fh:
        fh.write(b"new")
    assert path.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    with atomic_path(tmp_path / "by-name.txt") as temporary:
        temporary.write_text("x", encoding="utf-8")
    assert (tmp_path / "by-name.txt").read_text(encoding="utf-8") == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["by-name.txt", "out.bin"]


def test_model_file_and_card_are_written_atomically(tmp_path, monkeypatch):
    from boundary_nlp import _files, save_model

    try:
        from ._tiny import tiny_model
    except ImportError:
        from _tiny import tiny_model

    calls = []
    real = _files.atomic_write

    def spy(path, *args, **kwargs):
        calls.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(_files, "atomic_write", spy)
    lines_written = []
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: lines_written.append(self))
    monkeypatch.setattr(Path, "write_bytes", lambda self, *a, **k: lines_written.append(self))
    save_model(tiny_model(), tmp_path / "m.bnlp", card="# card")
    assert calls == [tmp_path / "m.bnlp", tmp_path / "m.md"] and not lines_written


# --- interrupted batches ---------------------------------------------------------------


def large_input(tmp_path: Path, rows: int = 40000) -> Path:
    texts = ["帮我取个快递", "周报呢？", "麻烦把验收报告的日期改成上个月的", "这个报表能不能加一列"]
    path = tmp_path / "large.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        writer.writerows([str(i), f"{texts[i % 4]}{i}"] for i in range(rows))
    return path


def start_batch_and_wait_for_output(tmp_path: Path, output: Path, *extra: str) -> subprocess.Popen:
    """Start a batch and return once it has written some rows of its output (mid-batch)."""
    source = large_input(tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "boundary_nlp.cli",
            "predict",
            "--input",
            str(source),
            "--output",
            str(output),
            *extra,
        ],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # a shell's background job ignores SIGINT, and Python would keep ignoring it: restore it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the batch ended before it could be interrupted"
        written = [p for p in tmp_path.iterdir() if p.name not in (source.name, output.name)]
        # the old code wrote into the output itself
        if any(p.stat().st_size > 0 for p in written) or output.stat().st_size > len(PREVIOUS):
            return process
        time.sleep(0.01)
    process.kill()
    raise AssertionError("no output appeared")


PREVIOUS = "id,label\n1,previous good output\n"


def test_sigkill_mid_batch_leaves_the_previous_output_intact(tmp_path):
    output = tmp_path / "scored.csv"
    output.write_text(PREVIOUS, encoding="utf-8")
    process = start_batch_and_wait_for_output(tmp_path, output)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert output.read_text(encoding="utf-8") == PREVIOUS
    # what is left of the killed run is a hidden temporary file, never a finished-looking csv
    leftovers = {p.name for p in tmp_path.iterdir()} - {"large.csv", "scored.csv"}
    assert all(name.startswith(".scored.csv.") and name.endswith(".tmp") for name in leftovers), leftovers


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_or_ctrl_c_mid_batch_removes_the_temporary_file_and_says_nothing_was_written(
    tmp_path, signum, code
):
    output = tmp_path / "scored.csv"
    output.write_text(PREVIOUS, encoding="utf-8")
    process = start_batch_and_wait_for_output(tmp_path, output)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == code
    assert output.read_text(encoding="utf-8") == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["large.csv", "scored.csv"]
    assert "nothing was written" in stderr.decode("utf-8")
    assert b"Traceback" not in stderr


def test_sigterm_with_keep_partial_keeps_the_rows_done_under_a_partial_name(tmp_path):
    output = tmp_path / "scored.csv"
    output.write_text(PREVIOUS, encoding="utf-8")
    process = start_batch_and_wait_for_output(tmp_path, output, "--keep-partial")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM
    assert output.read_text(encoding="utf-8") == PREVIOUS
    partial = tmp_path / "scored.csv.partial"
    header, rows = read_csv(partial)
    assert header[:2] == ["id", "text"] and 0 < len(rows) < 40000
    assert str(partial) in stderr.decode("utf-8")


# --- CSV formula injection -------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x","点我")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_escape_formula_prefixes_a_quote_and_leaves_numbers_and_plain_text():
    assert [escape_formula(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]
    harmless = ["-5", "+3.5", "帮我取个快递", 7, None]
    assert [escape_formula(v) for v in harmless] == harmless


def test_batch_csv_neutralizes_formula_cells_by_default_not_with_no_csv_escape_nor_in_jsonl(cli, tmp_path):
    source = write_csv(tmp_path / "in.csv", ["id", "text"], [[str(i), t] for i, t in enumerate(FORMULAS)])
    escaped, plain = tmp_path / "escaped.csv", tmp_path / "plain.csv"
    assert cli("predict", "--input", str(source), "--output", str(escaped)).returncode == 0
    assert cli("predict", "--input", str(source), "--output", str(plain), "--no-csv-escape").returncode == 0
    assert [row["text"] for row in read_csv(escaped)[1]] == ["'" + t for t in FORMULAS]
    assert [row["text"] for row in read_csv(plain)[1]] == FORMULAS
    output = tmp_path / "out.jsonl"  # JSON lines are data, not a spreadsheet: text as it is
    assert cli("predict", "--input", str(source), "--output", str(output)).returncode == 0
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in records] == FORMULAS


def test_evaluate_errors_file_neutralizes_formula_cells(tmp_path):
    from boundary_nlp.evaluation import error_rows

    path = tmp_path / "errors.csv"
    texts = ["=帮我把考勤记录改一下", "@帮我取个快递"]
    assert error_rows(StubModel(), texts, ["in_scope", "in_scope"], path) == 2
    assert [row["text"] for row in read_csv(path)[1]] == ["'" + t for t in texts]
    error_rows(StubModel(), texts, ["in_scope", "in_scope"], path, csv_escape=False)
    assert [row["text"] for row in read_csv(path)[1]] == texts


# --- per-row and whole-file faults ------------------------------------------------------


def test_odd_jsonl_rows_are_row_errors_with_their_row_number_and_the_run_goes_on(cli, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            [
                '{"text": "帮我取个快递"}',
                '{"text": "bad \\ud800 surrogate"}',
                "[1, 2]",
                "3",
                '{"text": "麻烦把验收报告的日期改成上个月的"}',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    output = tmp_path / "out.jsonl"
    result = cli("predict", "--input", str(source), "--output", str(output))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 5
    assert [r["error"] == "" for r in records] == [True, False, False, False, True]
    for number in (2, 3, 4):
        assert records[number - 1]["error"].startswith(f"row {number}:"), records[number - 1]
        assert records[number - 1]["label"] == ""
    assert records[0]["label"] == "courtesy" and records[4]["label"] == "prohibited"


def test_a_csv_field_over_the_csv_limit_is_a_row_error(cli, tmp_path):
    source = write_csv(
        tmp_path / "in.csv", ["id", "text"], [["1", "帮我取个快递"], ["2", "长" * 140_000], ["3", "周报呢？"]]
    )
    output = tmp_path / "out.csv"
    result = cli("predict", "--input", str(source), "--output", str(output))
    assert result.returncode == 0, result.stderr
    _, rows = read_csv(output)
    assert len(rows) == 3
    assert rows[1]["error"].startswith("row 2:") and "limit" in rows[1]["error"]
    assert rows[0]["label"] == "courtesy" and rows[2]["error"] == ""


def test_a_csv_without_the_text_column_fails_before_writing(cli, tmp_path):
    source = write_csv(tmp_path / "in.csv", ["id", "message"], [["1", "帮我取个快递"]])
    output = tmp_path / "out.csv"
    result = cli("predict", "--input", str(source), "--output", str(output))
    assert result.returncode == 2
    assert "text" in one_error_line(result) and "--text-column" in result.stderr
    assert not output.exists()


def test_an_unknown_encoding_is_one_line_and_exit_2(cli, tmp_path):
    source = tiny_csv(tmp_path / "in.csv")
    for option in ("--encoding", "--output-encoding"):
        result = cli("predict", "--input", str(source), "--output", str(tmp_path / "o.csv"), option, "utf-9")
        assert result.returncode == 2, result.stderr
        assert "utf-9" in one_error_line(result)
    result = cli("evaluate", "--data", str(source), "--encoding", "utf-9")
    assert result.returncode == 2 and "utf-9" in one_error_line(result)


def test_a_folder_as_input_is_one_line_and_exit_2(cli, tmp_path):
    folder = tmp_path / "data.csv"
    folder.mkdir()
    result = cli("predict", "--input", str(folder), "--output", str(tmp_path / "o.csv"))
    assert result.returncode == 2
    assert "is a folder" in one_error_line(result)


def test_stdin_honours_encoding(tmp_path):
    gbk = "帮我取个快递\n".encode("gbk")
    result = cli_bytes("predict", "--input", "-", "--encoding", "gb18030", stdin=gbk)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.decode("utf-8"))
    assert record["text"] == "帮我取个快递" and record["label"] == "courtesy"


def test_stdin_in_the_wrong_encoding_is_one_line_and_exit_2(tmp_path):
    result = cli_bytes("predict", "--input", "-", stdin="帮我取个快递\n".encode("gbk"))
    assert result.returncode == 2
    lines = result.stderr.decode("utf-8").strip().splitlines()
    assert len(lines) == 1 and "--encoding" in lines[0]


# --- batch output format ------------------------------------------------------------------


def test_batch_csv_has_an_uncertain_column_and_a_byte_order_mark(cli, tmp_path):
    source = tiny_csv(tmp_path / "in.csv")
    output = tmp_path / "out.csv"
    assert cli("predict", "--input", str(source), "--output", str(output)).returncode == 0
    assert output.read_bytes().startswith(b"\xef\xbb\xbf")
    header, rows = read_csv(output)
    assert "pred_uncertain" in header  # the input has a label column, so outputs are prefixed
    assert {row["pred_uncertain"] for row in rows} <= {"True", "False"}
    stdin = cli("predict", "--input", "-", "--threshold", "1.01", stdin="帮我取个快递\n")
    assert json.loads(stdin.stdout)["uncertain"] is True


def test_batch_output_encoding_option(cli, tmp_path):
    source = tiny_csv(tmp_path / "in.csv")
    output = tmp_path / "out.csv"
    result = cli("predict", "--input", str(source), "--output", str(output), "--output-encoding", "gb18030")
    assert result.returncode == 0, result.stderr
    _, rows = read_csv(output, encoding="gb18030")
    assert [row["text"] for row in rows] == [text for text, _ in TINY_DATA]


# --- evaluate on training data ------------------------------------------------------------


def test_evaluate_warns_when_the_data_is_the_models_training_data(cli):
    result = cli("evaluate", "--data", "datasets/dev.csv", "--json")
    assert result.returncode == 0, result.stderr
    assert "trained" in result.stderr and "dev.csv" in result.stderr
    assert any("trained" in w for w in json.loads(result.stdout)["warnings"])


def test_evaluate_file_puts_the_warning_in_the_python_result_and_not_for_test(default_model):
    from boundary_nlp.evaluation import evaluate_file, training_data_warning

    evaluation = evaluate_file(default_model, ROOT / "datasets" / "dev.csv")
    assert evaluation.warnings and "warning:" in evaluation.format()
    assert training_data_warning(default_model, ROOT / "datasets" / "train.csv")
    assert training_data_warning(default_model, ROOT / "datasets" / "test.csv") is None


def test_readme_evaluate_example_uses_the_test_split():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "evaluate --data datasets/dev.csv" not in readme
    assert "evaluate --data datasets/test.csv" in readme


# --- check-data -------------------------------------------------------------------------


def test_check_data_accepts_text_and_label_only_with_any_labels(cli, tmp_path):
    rows = [["退款怎么还没到", "refund"], ["发票抬头写错了", "invoice"], ["快递到哪了", "shipping"]]
    path = write_csv(tmp_path / "mine.csv", ["text", "label"], rows)
    result = cli("check-data", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    strict = cli("check-data", "--corpus", str(path))
    assert strict.returncode == 1
    assert "missing columns" in strict.stdout and "refund" in strict.stdout


def test_check_data_corpus_prints_the_marker_table_and_warns_or_fails_with_strict_markers(cli, tmp_path):
    header = ["id", "text", "label", "domain", "register"]
    rows = [
        [str(i), text + ("，谢谢！" if label == "courtesy" else ""), label, "software", "chat"]
        for i, (text, label) in enumerate(TINY_DATA)
    ]
    path = write_csv(tmp_path / "train.csv", header, rows)
    result = cli("check-data", "--corpus", str(path))
    assert result.returncode == 0, result.stdout
    assert "max/min" in result.stdout and "WARN" in result.stdout
    assert any(line.startswith("warning:") and "thanks" in line for line in result.stdout.splitlines())
    strict = cli("check-data", "--corpus", "--strict-markers", str(path))
    assert strict.returncode == 1
    assert any(line.startswith("error:") and "thanks" in line for line in strict.stdout.splitlines())


def test_ci_runs_the_corpus_check():
    assert "boundary-nlp check-data --corpus datasets/" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


# --- analyze ------------------------------------------------------------------------------


def test_analyze_is_bounded_by_max_chars_like_classify():
    from boundary_nlp import analyze
    from boundary_nlp.inputs import DEFAULT_MAX_CHARS

    model = StubModel()
    message = "帮我取个快递。" * 50_000  # 350,000 characters, 50,000 asks
    result = analyze(message, model=model)
    assert result.truncated and result.to_dict()["truncated"] is True
    assert all(len(text) <= DEFAULT_MAX_CHARS for text, _ in model.calls)
    assert len(model.calls) <= DEFAULT_MAX_CHARS // 7 + 2
    assert not analyze("帮我取个快递", model=StubModel()).truncated
