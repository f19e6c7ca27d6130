from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from boundary_nlp.advice import advice_for, over_limit_advice
from boundary_nlp.ledger import (
    SCHEMA_VERSION,
    DegreeStatus,
    FavorLedger,
    LedgerEntry,
    LedgerError,
    default_ledger_path,
)

try:
    from ._tiny import FailingModel, StubModel
except ImportError:
    from _tiny import FailingModel, StubModel

SRC = Path(__file__).resolve().parents[1] / "src"
NOW = datetime(2024, 5, 10, 12, 0, tzinfo=timezone.utc)
FAVORS = ["帮我取个快递", "顺路带杯咖啡", "帮忙打水", "借我用下充电器", "帮我搬下箱子"]


@pytest.fixture
def ledger(tmp_path):
    with FavorLedger(tmp_path / "ledger.sqlite3", model=StubModel()) as opened:
        yield opened


def record_favors(ledger: FavorLedger, client: str, count: int, end: datetime = NOW) -> DegreeStatus:
    status = None
    for day in reversed(range(count)):  # oldest first, so the last status is at `end`
        status = ledger.record(client, FAVORS[day % len(FAVORS)], when=end - timedelta(days=day, hours=1))
    return status


def test_three_favors_are_within_the_degree(ledger):
    status = record_favors(ledger, "王经理", 3)
    status = ledger.status("王经理", NOW)
    assert status.courtesy_count == 3
    assert not status.over_limit
    assert status.advice == advice_for("courtesy")


def test_four_favors_in_seven_days_are_over_the_limit(ledger):
    status = record_favors(ledger, "王经理", 4)
    assert status.courtesy_count == 4
    assert status.over_limit
    assert status.advice == over_limit_advice()
    assert status.window_days == 7 and status.limit == 3
    text = status.format()
    assert "王经理" in text and "4" in text and "上限 3" in text and "已超出" in text


def test_record_returns_the_status_at_its_time(ledger):
    status = ledger.record("王经理", "帮我取个快递", when=NOW)
    assert isinstance(status, DegreeStatus)
    assert status.client == "王经理"
    assert status.courtesy_count == 1
    assert status.as_of == NOW


def test_another_process_sees_the_same_counts(tmp_path):
    path = tmp_path / "shared.sqlite3"
    with FavorLedger(path, model=StubModel()) as ledger:
        record_favors(ledger, "王经理", 4)
        ledger.record("王经理", "帮我把考勤记录改一下", when=NOW - timedelta(hours=3))
        expected = ledger.status("王经理", NOW).to_dict()
    script = (
        "import json, sys\n"
        "from datetime import datetime\n"
        "from boundary_nlp.ledger import FavorLedger\n"
        "with FavorLedger(sys.argv[1]) as ledger:\n"
        "    print(json.dumps(ledger.status('王经理', datetime.fromisoformat(sys.argv[2])).to_dict()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), NOW.isoformat()],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == expected
    assert seen["courtesy_count"] == 4 and seen["over_limit"] and seen["prohibited_count"] == 1


def test_two_open_ledgers_on_one_file_share_writes(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with FavorLedger(path, model=StubModel()) as first, FavorLedger(path, model=StubModel()) as second:
        first.record("王经理", "帮我取个快递", when=NOW - timedelta(hours=1))
        second.record("王经理", "帮忙打水", when=NOW - timedelta(hours=2))
        assert first.status("王经理", NOW).courtesy_count == 2
        assert second.status("王经理", NOW).courtesy_count == 2


def test_favors_older_than_the_window_do_not_count(ledger):
    ledger.record("李总", "帮我取个快递", when=NOW - timedelta(days=10))
    ledger.record("李总", "帮我取个快递", when=NOW - timedelta(days=7))  # window is (now - 7d, now]
    ledger.record("李总", "帮我取个快递", when=NOW - timedelta(days=6, hours=23))
    ledger.record("李总", "帮我取个快递", when=NOW + timedelta(hours=1))  # after `when`
    assert ledger.status("李总", NOW).courtesy_count == 1
    assert ledger.status("李总", NOW - timedelta(days=3)).courtesy_count == 2
    assert ledger.status("李总", NOW + timedelta(days=30)).courtesy_count == 0


def test_window_and_limit_are_configurable(tmp_path):
    with FavorLedger(tmp_path / "l.sqlite3", window_days=2, limit=1, model=StubModel()) as ledger:
        record_favors(ledger, "王经理", 3)
        status = ledger.status("王经理", NOW)
        assert (status.window_days, status.limit, status.courtesy_count, status.over_limit) == (2, 1, 2, True)


def test_prohibited_requests_are_counted_separately(ledger):
    ledger.record("王经理", "帮我把考勤记录改一下", when=NOW - timedelta(days=30))
    ledger.record("王经理", "把你的系统密码借我用用", when=NOW - timedelta(days=1))
    ledger.record("王经理", "帮我取个快递", when=NOW - timedelta(days=1))
    ledger.record("王经理", "会议纪要发群里", when=NOW - timedelta(days=1))
    status = ledger.status("王经理", NOW)
    assert status.courtesy_count == 1
    assert status.prohibited_count == 1
    assert status.prohibited_total == 2
    assert not status.over_limit
    assert status.advice == advice_for("prohibited")
    assert "越界" in status.format()


def test_over_limit_advice_comes_before_prohibited(ledger):
    record_favors(ledger, "王经理", 4)
    ledger.record("王经理", "帮我把考勤记录改一下", when=NOW)
    assert ledger.status("王经理", NOW).advice == over_limit_advice()


def test_clients_are_kept_apart(ledger):
    record_favors(ledger, "王经理", 4)
    record_favors(ledger, "王经理的助理", 1)
    record_favors(ledger, "深圳市华信科技有限公司", 2)
    ledger.record("  王经理\n", "帮我把考勤记录改一下", when=NOW)  # the name is stripped
    assert ledger.status("王经理", NOW).courtesy_count == 4
    assert ledger.status("王经理", NOW).prohibited_count == 1
    assert ledger.status("王经理的助理", NOW).courtesy_count == 1
    assert ledger.status("深圳市华信科技有限公司", NOW).courtesy_count == 2
    assert ledger.status("王", NOW).courtesy_count == 0
    assert [e.client for e in ledger.history(" 王经理 ")] == ["王经理"] * 5


def test_history_oldest_first(ledger):
    ledger.record("王经理", "帮我取个快递", when=NOW)
    ledger.record("王经理", "会议纪要发群里", when=NOW - timedelta(days=2))
    ledger.record("王经理", "帮我把考勤记录改一下", when=datetime(2024, 5, 9, 12, 0))  # naive = UTC
    entries = ledger.history("王经理")
    assert all(isinstance(e, LedgerEntry) for e in entries)
    assert [e.text for e in entries] == ["会议纪要发群里", "帮我把考勤记录改一下", "帮我取个快递"]
    assert [e.label for e in entries] == ["in_scope", "prohibited", "courtesy"]
    assert entries[1].when == datetime(2024, 5, 9, 12, 0, tzinfo=timezone.utc)
    assert entries[0].confidence == pytest.approx(0.6)
    data = json.loads(json.dumps([e.to_dict() for e in entries], ensure_ascii=False))
    assert data[2] == {
        "client": "王经理",
        "when": "2024-05-10T12:00:00+00:00",
        "text": "帮我取个快递",
        "label": "courtesy",
        "confidence": pytest.approx(0.7),
    }
    assert ledger.history("nobody") == []


def test_times_are_stored_in_utc(ledger, tmp_path):
    beijing = timezone(timedelta(hours=8))
    ledger.record("王经理", "帮我取个快递", when=datetime(2024, 5, 10, 20, 0, tzinfo=beijing))
    (entry,) = ledger.history("王经理")
    assert entry.when == datetime(2024, 5, 10, 12, 0, tzinfo=timezone.utc)
    assert entry.when.utcoffset() == timedelta(0)
    with sqlite3.connect(tmp_path / "ledger.sqlite3") as conn:
        (at,) = conn.execute("SELECT at FROM requests").fetchone()
    assert at == "2024-05-10T12:00:00.000000+00:00"


def test_default_time_is_now(ledger):
    before = datetime.now(timezone.utc)
    status = ledger.record("王经理", "帮我取个快递")
    assert status.courtesy_count == 1
    assert ledger.status("王经理").courtesy_count == 1
    assert ledger.history("王经理")[0].when >= before - timedelta(seconds=1)


def test_status_to_dict_and_format(ledger):
    record_favors(ledger, "王经理", 2)
    status = ledger.status("王经理", NOW)
    data = json.loads(json.dumps(status.to_dict(), ensure_ascii=False))
    assert data["client"] == "王经理"
    assert data["courtesy_count"] == 2 and data["over_limit"] is False
    assert data["prohibited_count"] == 0 and data["prohibited_total"] == 0
    assert data["window_days"] == 7 and data["limit"] == 3
    assert data["advice"]["action"] == advice_for("courtesy").action
    assert status.format().startswith("王经理: 7天内人情帮忙 2 次（上限 3）")


def test_wal_mode_is_on(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with FavorLedger(path) as ledger:
        assert ledger.journal_mode == "wal"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
        columns = [row[1] for row in conn.execute("PRAGMA table_info(requests)")]
        assert columns == ["id", "client", "at", "text", "label", "confidence"]
        indexes = [row[1] for row in conn.execute("PRAGMA index_list(requests)")]
        assert "requests_client_at" in indexes


def test_busy_timeout_is_set(ledger):
    assert ledger._connection.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_a_newer_schema_version_raises(tmp_path):
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(LedgerError, match="99"):
        FavorLedger(path)


def test_a_file_that_is_not_a_database_raises(tmp_path):
    path = tmp_path / "notes.sqlite3"
    path.write_text("this is not sqlite " * 100, encoding="utf-8")
    with pytest.raises(LedgerError, match="not a boundary-nlp ledger"):
        FavorLedger(path)


def test_an_existing_empty_database_is_migrated(tmp_path):
    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).close()
    with FavorLedger(path, model=StubModel()) as ledger:
        ledger.record("王经理", "帮我取个快递", when=NOW)
    with FavorLedger(path) as reopened:  # opening again does not migrate twice
        assert reopened.status("王经理", NOW).courtesy_count == 1


def test_failing_model_stores_nothing(ledger):
    ledger.model = FailingModel()
    with pytest.raises(RuntimeError, match="exploded"):
        ledger.record("王经理", "帮我取个快递", when=NOW)
    assert ledger.history("王经理") == []
    assert ledger._connection.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 0


def test_bad_arguments(ledger):
    with pytest.raises(ValueError):
        ledger.record("  ", "帮我取个快递")
    with pytest.raises(ValueError):
        ledger.status("")
    with pytest.raises(TypeError):
        ledger.record("王经理", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ledger.record("王经理", b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ledger.record(None, "帮我取个快递")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ledger.status("王经理", when="2024-05-10")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ledger.record("王经理", "   ")
    assert ledger.history("王经理") == []


@pytest.mark.parametrize("kwargs", [{"window_days": 0}, {"window_days": -1}, {"limit": -1}, {"limit": 1.5}])
def test_bad_parameters(tmp_path, kwargs):
    with pytest.raises(ValueError):
        FavorLedger(tmp_path / "l.sqlite3", **kwargs)


def test_parameters_are_stored_as_given(tmp_path):
    model = StubModel()
    path = tmp_path / "l.sqlite3"
    with FavorLedger(path, window_days=3.5, limit=5, model=model) as ledger:
        assert (ledger.path, ledger.window_days, ledger.limit, ledger.model) == (path, 3.5, 5, model)


def test_closed_ledger_refuses_use(tmp_path):
    ledger = FavorLedger(tmp_path / "l.sqlite3", model=StubModel())
    ledger.close()
    ledger.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        ledger.status("王经理")


def test_parent_folders_are_created(tmp_path):
    path = tmp_path / "a" / "b" / "ledger.sqlite3"
    with FavorLedger(path):
        pass
    assert path.exists()


def test_default_path_per_platform(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_ledger_path() == tmp_path / "xdg" / "boundary-nlp" / "ledger.sqlite3"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_ledger_path() == tmp_path / "home" / ".local" / "share" / "boundary-nlp" / "ledger.sqlite3"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # invalid per the XDG spec: ignored
    assert default_ledger_path() == tmp_path / "home" / ".local" / "share" / "boundary-nlp" / "ledger.sqlite3"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert default_ledger_path() == (
        tmp_path / "home" / "Library" / "Application Support" / "boundary-nlp" / "ledger.sqlite3"
    )
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "appdata"))
    assert default_ledger_path() == tmp_path / "appdata" / "boundary-nlp" / "ledger.sqlite3"


@pytest.mark.skipif(sys.platform.startswith("win") or sys.platform == "darwin", reason="XDG layout")
def test_no_path_uses_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with FavorLedger(model=StubModel()) as ledger:
        ledger.record("王经理", "帮我取个快递", when=NOW)
        assert ledger.path is None
    assert (tmp_path / "data" / "boundary-nlp" / "ledger.sqlite3").exists()


def test_record_reports_the_request_it_just_classified(ledger):
    status = ledger.record("王经理", "把考勤记录改一下", when=NOW)
    assert status.latest is not None and status.latest.label == "prohibited"
    assert "本条 this request: 越界禁止 prohibited" in status.format()
    assert status.to_dict()["latest"]["label"] == "prohibited"
    assert ledger.status("王经理", NOW).latest is None
