"""Issue 15, the ledger: unusable paths are one line and exit 2, another application's SQLite
file is refused untouched, one ledger serves several threads, old entries can be pruned, and
the file is readable by its owner only."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from boundary_nlp.ledger import FavorLedger, LedgerError, default_ledger_path

try:
    from ._tiny import StubModel
except ImportError:
    from _tiny import StubModel

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=timezone.utc)


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores permission bits: use /sys)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    probe = folder / "probe"
    try:
        probe.touch()
    except OSError:
        return folder
    probe.unlink()
    if Path("/sys").is_dir() and not os.access("/sys", os.W_OK):
        return Path("/sys")
    try:
        (Path("/sys") / "probe").touch()
    except OSError:
        return Path("/sys")
    pytest.skip("no folder this process cannot write to")


def test_ledger_db_pointing_at_a_folder_is_one_line_and_exit_2(cli, tmp_path):
    result = cli("ledger", "status", "--client", "王经理", "--db", str(tmp_path))
    assert result.returncode == 2
    assert "folder" in one_error_line(result)


def test_ledger_in_a_read_only_folder_is_one_line_and_exit_2(cli, tmp_path):
    folder = read_only_folder(tmp_path)
    result = cli("ledger", "status", "--client", "王经理", "--db", str(folder / "ledger.sqlite3"))
    assert result.returncode == 2
    assert "ledger.sqlite3" in one_error_line(result)


def test_ledger_folder_that_cannot_be_created_is_one_line_and_exit_2(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    result = cli("ledger", "status", "--client", "王经理", "--db", str(blocker / "sub" / "ledger.sqlite3"))
    assert result.returncode == 2
    one_error_line(result)


def test_another_applications_database_is_refused_and_left_unchanged(cli, tmp_path):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('a')")
    conn.close()
    before = path.read_bytes()
    result = cli("ledger", "status", "--client", "王经理", "--db", str(path))
    assert result.returncode == 2
    assert "not a boundary-nlp ledger" in one_error_line(result)
    assert path.read_bytes() == before
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    conn.close()
    assert tables == ["users"]
    with pytest.raises(LedgerError, match="another application"):
        FavorLedger(path)


def test_a_ledger_is_marked_as_ours_and_reopens(tmp_path):
    path = tmp_path / "l.sqlite3"
    with FavorLedger(path, model=StubModel()) as ledger:
        ledger.record("王经理", "帮我取个快递", when=NOW)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] != 0
    conn.close()
    with FavorLedger(path) as ledger:
        assert ledger.status("王经理", NOW).courtesy_count == 1


def test_a_new_ledger_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "private" / "ledger.sqlite3"
    with FavorLedger(path, model=StubModel()) as ledger:
        ledger.record("王经理", "帮我取个快递", when=NOW)
        for file in path.parent.iterdir():  # the WAL and shared-memory files too
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_one_ledger_is_usable_from_several_threads(tmp_path):
    ledger = FavorLedger(tmp_path / "l.sqlite3", model=StubModel())
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            for day in range(10):
                ledger.record(f"客户{number}", "帮我取个快递", when=NOW - timedelta(hours=day))
                ledger.status(f"客户{number}", NOW)
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert [ledger.status(f"客户{n}", NOW).courtesy_count for n in range(6)] == [10] * 6
    finally:
        ledger.close()


def test_prune_deletes_entries_older_than_n_days(tmp_path):
    with FavorLedger(tmp_path / "l.sqlite3", model=StubModel()) as ledger:
        for days in (1, 10, 40, 400):
            ledger.record("王经理", "帮我取个快递", when=NOW - timedelta(days=days))
        assert ledger.prune(30, when=NOW) == 2
        assert [NOW - e.when for e in ledger.history("王经理")] == [timedelta(days=10), timedelta(days=1)]
        with pytest.raises(ValueError):
            ledger.prune(-1)


def test_ledger_prune_command(cli, tmp_path):
    path = tmp_path / "l.sqlite3"
    with FavorLedger(path, model=StubModel()) as ledger:
        ledger.record("王经理", "帮我取个快递", when=datetime.now(timezone.utc) - timedelta(days=100))
        ledger.record("王经理", "帮我取个快递")
    result = cli("ledger", "prune", "--older-than-days", "30", "--db", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["deleted"] == 1
    with FavorLedger(path) as ledger:
        assert len(ledger.history("王经理")) == 1


def test_ledger_path_command_prints_the_default_ledger(cli):
    result = cli("ledger", "path")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(default_ledger_path())


class _FullDisk:
    """A connection whose writes fail as SQLite does when the disk is full."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, *args):
        if sql.lstrip().upper().startswith(("INSERT", "DELETE")):
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def close(self) -> None:
        self.conn.close()


def test_a_full_disk_is_a_ledger_error_not_a_sqlite_traceback(tmp_path):
    ledger = FavorLedger(tmp_path / "l.sqlite3", model=StubModel())
    ledger._conn = _FullDisk(ledger._conn)
    with pytest.raises(LedgerError, match="disk is full"):
        ledger.record("王经理", "帮我取个快递")
    with pytest.raises(LedgerError, match="disk is full"):
        ledger.prune(1)
    ledger.close()
