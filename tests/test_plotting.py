"""Plots (the ``plot`` extra): files written, Chinese font found or a clear warning, CLI --plot."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from boundary_nlp.evaluation import evaluate_predictions

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOTO_CJK_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # Debian/Ubuntu fonts-noto-cjk
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
)


@pytest.fixture
def mpl():
    """matplotlib with its settings restored after the test (use_cjk_font changes rcParams)."""
    matplotlib = pytest.importorskip("matplotlib")
    with matplotlib.rc_context():
        yield matplotlib


@pytest.fixture
def evaluation():
    gold = ["in_scope"] * 5 + ["courtesy"] * 4 + ["prohibited"] * 6
    predicted = ["in_scope"] * 4 + ["prohibited"] + ["courtesy"] * 4 + ["prohibited"] * 5 + ["in_scope"]
    return evaluate_predictions(gold, predicted, ["courtesy", "in_scope", "prohibited"])


def test_plot_confusion_writes_png(mpl, evaluation, tmp_path):
    from boundary_nlp.plotting import plot_confusion

    path = tmp_path / "nested" / "confusion.png"
    ax = plot_confusion(evaluation, path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert path.stat().st_size > 5000
    ticks = [label.get_text() for label in ax.get_xticklabels()]
    assert ticks == ["人情帮忙\ncourtesy", "工作范围内\nin_scope", "越界禁止\nprohibited"]
    cells = [text.get_text() for text in ax.texts]
    assert "4\n80.0%" in cells  # in_scope row: 4 of 5 right


def test_plot_confusion_draws_on_given_axes_without_saving(mpl, evaluation, tmp_path):
    from matplotlib.figure import Figure

    from boundary_nlp.plotting import plot_confusion

    ax = Figure().add_subplot()
    assert plot_confusion(evaluation, ax=ax, title="dev") is ax
    assert ax.get_title() == "dev"
    assert list(tmp_path.iterdir()) == []


def test_plot_confusion_keeps_own_labels(mpl, tmp_path):
    from boundary_nlp.plotting import plot_confusion

    own = evaluate_predictions(["spam", "ham", "ham"], ["spam", "ham", "spam"])
    ax = plot_confusion(own, tmp_path / "own.png")
    assert [label.get_text() for label in ax.get_yticklabels()] == ["ham", "spam"]


def test_curves_write_png(mpl, tmp_path):
    import numpy as np

    from boundary_nlp.plotting import plot_pr_curves, plot_threshold_tradeoff

    gold = ["courtesy", "in_scope", "prohibited"] * 4
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.1, 0.3, 0.6]] * 4)
    proba[-1] = [0.2, 0.5, 0.3]  # a prohibited message the argmax misses
    plot_pr_curves(gold, proba, ["courtesy", "in_scope", "prohibited"], path=tmp_path / "pr.png")
    ax = plot_threshold_tradeoff(gold, proba[:, 2], "prohibited", marks=[0.3], path=tmp_path / "t.png")
    assert (tmp_path / "pr.png").read_bytes()[:8] == PNG_SIGNATURE
    assert (tmp_path / "t.png").read_bytes()[:8] == PNG_SIGNATURE
    assert len(ax.lines) == 4  # recall, false alarms, precision, the mark
    with pytest.raises(ValueError, match="shape"):
        plot_pr_curves(gold, proba[:, :2], ["courtesy", "in_scope", "prohibited"], path=tmp_path / "x.png")
    with pytest.raises(ValueError, match="with and without"):
        plot_threshold_tradeoff(["in_scope"] * 3, [0.1, 0.2, 0.3], "prohibited", path=tmp_path / "x.png")


def test_use_cjk_font_returns_font_or_warns(mpl):
    from boundary_nlp.plotting import CJK_FONT_CANDIDATES, use_cjk_font

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        name = use_cjk_font()
    if any(path.is_file() for path in NOTO_CJK_FILES):
        assert name is not None, "fonts-noto-cjk is installed but use_cjk_font found no CJK font"
    if name is None:
        assert any("fonts-noto-cjk" in str(w.message) for w in caught)
    else:
        assert name in CJK_FONT_CANDIDATES
        assert mpl.rcParams["font.sans-serif"][0] == name
        assert mpl.rcParams["axes.unicode_minus"] is False
        assert not caught


def test_use_cjk_font_warns_how_to_install_when_none_found(mpl, monkeypatch):
    from boundary_nlp import plotting

    monkeypatch.setattr(plotting, "CJK_FONT_CANDIDATES", ("No Such Font For Boundary Tests",))
    before = list(mpl.rcParams["font.sans-serif"])
    with pytest.warns(UserWarning, match=r"apt-get install fonts-noto-cjk"):
        assert plotting.use_cjk_font() is None
    assert list(mpl.rcParams["font.sans-serif"]) == before


def test_missing_matplotlib_names_the_extra(monkeypatch, evaluation, tmp_path):
    from boundary_nlp.plotting import plot_confusion, use_cjk_font

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # "import matplotlib" raises ImportError
    with pytest.raises(ImportError, match=r'pip install "boundary-nlp\[plot\]"'):
        plot_confusion(evaluation, tmp_path / "c.png")
    with pytest.raises(ImportError, match=r"boundary-nlp\[plot\]"):
        use_cjk_font()


def test_cli_evaluate_plot(mpl, cli, tmp_path):
    data = tmp_path / "tiny.csv"
    data.write_text(
        "text,label\n帮我取个快递,courtesy\n周报呢？,in_scope\n把考勤记录改成全勤,prohibited\n"
        "顺路帮我带杯咖啡,courtesy\n接口文档更新了吗？,in_scope\n",
        encoding="utf-8",
    )
    plot = tmp_path / "confusion.png"
    result = cli("evaluate", "--data", str(data), "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert plot.read_bytes()[:8] == PNG_SIGNATURE
