"""benchmarks/run.py: rewriting BENCHMARKS.md keeps the sections other scripts own."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def run():
    spec = importlib.util.spec_from_file_location("benchmark_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmark_run"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("benchmark_run", None)


OLD = """# Benchmarks

old figures

<!-- bulk:start -->
## Bulk
bulk figures
<!-- bulk:end -->

<!-- serve:start -->
## Serve
serve figures
<!-- serve:end -->
"""


def test_rewrite_keeps_serve_and_bulk_sections_in_their_order(run, tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    output.write_text(OLD, encoding="utf-8")
    new = run.with_preserved("# Benchmarks\n\nnew figures\n", output)
    assert "old figures" not in new
    assert new.startswith("# Benchmarks\n\nnew figures\n")
    bulk, serve = new.index("<!-- bulk:start -->"), new.index("<!-- serve:start -->")
    assert bulk < serve
    assert "## Bulk\nbulk figures\n<!-- bulk:end -->" in new
    assert "## Serve\nserve figures\n<!-- serve:end -->" in new


def test_rewrite_without_an_old_file_or_markers_is_the_report_alone(run, tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    assert run.with_preserved("# new\n", output) == "# new\n"
    output.write_text("# old\n", encoding="utf-8")
    assert run.with_preserved("# new\n", output) == "# new\n"


def test_a_start_marker_without_its_end_keeps_the_rest_of_the_file(run, tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    output.write_text("# old\n<!-- serve-load -->\n## Serving\nfigures\n", encoding="utf-8")
    new = run.with_preserved("# new\n", output)
    assert new.endswith("<!-- serve-load -->\n## Serving\nfigures\n")


def test_public_verdict_needs_both_sets_within_tolerance_and_one_above(run):
    def split(selection: float, reference: float) -> dict:
        return {"default": 0.5, "selection": selection, "reference": reference, "selection_seconds": 1.0}

    public = {
        "waimai": {"folds": [split(0.900, 0.901), split(0.902, 0.902)]},
        "thucnews": {"folds": [split(0.871, 0.870)]},
    }
    summary = run.public_summary(public)
    assert summary["waimai"]["margin"] == pytest.approx(-0.05)
    assert summary["target_met"]
    public["thucnews"]["folds"] = [split(0.866, 0.870)]
    assert not run.public_summary(public)["target_met"]
    public["thucnews"]["folds"] = [split(0.870, 0.870)]
    assert not run.public_summary(public)["target_met"]  # within on both, above on neither
