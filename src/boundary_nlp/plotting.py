"""Plots for evaluations and corpora, with Chinese label names (needs the ``plot`` extra).

matplotlib is optional: it is imported inside each function, and a missing install raises
``ImportError`` saying ``pip install "boundary-nlp[plot]"``. Chinese text needs a CJK font;
:func:`use_cjk_font` finds an installed one and makes matplotlib use it (every plotting
function here calls it).

A function given ``path`` and no ``ax`` draws on a standalone figure (no pyplot, no GUI
backend: safe in scripts, servers and the CLI) and saves it; without ``path`` it draws on a
new pyplot figure, which a notebook shows. Every function returns the ``Axes`` it drew on.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .labels import chinese_name

INSTALL_HINT = 'pip install "boundary-nlp[plot]"'
FONT_INSTALL_HINT = (
    "install one, e.g. `apt-get install fonts-noto-cjk` (Debian/Ubuntu), `dnf install "
    "google-noto-sans-cjk-fonts` (Fedora) or `brew install --cask font-noto-sans-cjk` (macOS), "
    "then delete matplotlib's font cache (the fontlist-*.json files in "
    "matplotlib.get_cachedir()) if the font is still not found"
)

# Font families that cover simplified Chinese, best first (matplotlib's family names).
CJK_FONT_CANDIDATES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Sans CJK HK",
    "Noto Sans CJK KR",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "STHeiti",
    "Arial Unicode MS",
    "Noto Serif CJK SC",
    "Noto Serif CJK JP",
    "Source Han Serif SC",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "SimSun",
)
# Words in a font file's name that suggest it holds CJK glyphs (used when the font cache is
# older than the font: such files are added to matplotlib's font list directly).
_CJK_FILE_HINTS = (
    "cjk",
    "wqy",
    "wenquanyi",
    "sourcehan",
    "notosanssc",
    "notoserifsc",
    "simhei",
    "msyh",
    "yahei",
    "pingfang",
    "hiragino",
    "stheiti",
    "simsun",
    "uming",
    "ukai",
)


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(f"plotting needs matplotlib: {INSTALL_HINT}") from error
    return matplotlib


def _installed_families() -> set[str]:
    from matplotlib import font_manager

    return {entry.name for entry in font_manager.fontManager.ttflist}


def _first_candidate(installed: set[str]) -> str | None:
    return next((name for name in CJK_FONT_CANDIDATES if name in installed), None)


_scanned_for_fonts = False


def _add_uncached_cjk_fonts() -> None:
    """Add CJK font files installed after matplotlib built its font cache (once per process)."""
    global _scanned_for_fonts
    if _scanned_for_fonts:
        return
    _scanned_for_fonts = True
    from matplotlib import font_manager

    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for fname in font_manager.findSystemFonts():
        if fname in known or not any(hint in Path(fname).name.lower() for hint in _CJK_FILE_HINTS):
            continue
        try:
            font_manager.fontManager.addfont(fname)
        except (OSError, RuntimeError, ValueError):  # unreadable or unsupported font file
            continue


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese: put an installed CJK font first in ``font.sans-serif``.

    Returns the font family used, or ``None`` (with a warning saying how to install one)
    when no CJK font is installed; Chinese characters then show as empty boxes. Also sets
    ``axes.unicode_minus`` to False, since CJK fonts often lack the Unicode minus sign.
    """
    matplotlib = _require_matplotlib()
    name = _first_candidate(_installed_families())
    if name is None:
        _add_uncached_cjk_fonts()
        name = _first_candidate(_installed_families())
    if name is None:
        warnings.warn(
            "no CJK font found for matplotlib: Chinese text in plots will show as boxes; "
            + FONT_INSTALL_HINT,
            UserWarning,
            stacklevel=2,
        )
        return None
    rc = matplotlib.rcParams
    rc["font.sans-serif"] = [name] + [family for family in rc["font.sans-serif"] if family != name]
    rc["font.family"] = "sans-serif"
    rc["axes.unicode_minus"] = False
    return name


def bilingual(label: str, sep: str = "\n") -> str:
    """A label as its Chinese name and its value, e.g. ``'越界禁止\\nprohibited'``.

    A label without a Chinese name (a user's own label set) is shown once.
    """
    chinese = chinese_name(label)
    return label if chinese == label else f"{chinese}{sep}{label}"


def _axes(ax: Any, path: str | Path | None, figsize: tuple[float, float]) -> Any:
    """The Axes to draw on: ``ax``; a standalone figure's when saving only; else pyplot's."""
    _require_matplotlib()
    use_cjk_font()
    if ax is not None:
        return ax
    if path is not None:
        from matplotlib.figure import Figure

        return Figure(figsize=figsize, layout="constrained").add_subplot()
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _save(ax: Any, path: str | Path | None) -> None:
    """Save the figure through a temporary file, so an interrupted save leaves no broken image."""
    if path is not None:
        from ._files import atomic_path

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temporary:
            ax.figure.savefig(temporary, dpi=150, format=path.suffix[1:].lower() or "png")


def plot_confusion(
    evaluation: Any, path: str | Path | None = None, ax: Any = None, title: str | None = None
) -> Any:
    """Draw an :class:`~boundary_nlp.evaluation.Evaluation`'s confusion matrix as a heatmap.

    Rows are gold labels, columns predicted ones; each cell shows its count and its share of
    the row (so the diagonal is each label's recall). Ticks show the Chinese name and the
    label. Saves a PNG (or any format matplotlib knows from the suffix) to ``path`` if given.
    Returns the Axes.
    """
    import numpy as np

    labels = list(evaluation.labels)
    counts = np.asarray(evaluation.confusion, dtype=float)
    if counts.shape != (len(labels), len(labels)):
        raise ValueError(f"confusion matrix of shape {counts.shape} does not match {len(labels)} labels")
    size = max(4.5, 1.6 * len(labels) + 1.5)
    ax = _axes(ax, path, (size + 0.8, size))
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="行占比 share of gold row")
    for i in range(len(labels)):
        for j in range(len(labels)):
            colour = "white" if shares[i, j] > 0.55 else "black"
            ax.text(
                j,
                i,
                f"{int(counts[i, j])}\n{shares[i, j]:.1%}",
                ha="center",
                va="center",
                color=colour,
                fontsize=10,
            )
    ticks = [bilingual(label) for label in labels]
    ax.set_xticks(range(len(labels)), ticks)
    ax.set_yticks(range(len(labels)), ticks)
    ax.set_xlabel("预测标签 predicted")
    ax.set_ylabel("真实标签 gold")
    total = int(counts.sum())
    ax.set_title(title or f"混淆矩阵 confusion matrix (n={total}, 准确率 accuracy {evaluation.accuracy:.1%})")
    _save(ax, path)
    return ax


def plot_pr_curves(
    gold: Sequence[str],
    proba: Any,
    classes: Sequence[str],
    path: str | Path | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Precision-recall curve of each label (one label against the rest).

    ``proba`` is a ``predict_proba`` array whose columns follow ``classes`` (a model's
    ``classes_``). The legend gives each label's average precision. Returns the Axes.
    """
    import numpy as np
    from sklearn.metrics import average_precision_score, precision_recall_curve

    proba = np.asarray(proba, dtype=float)
    gold = np.asarray([str(label) for label in gold], dtype=object)
    classes = [str(label) for label in classes]
    if proba.ndim != 2 or proba.shape != (len(gold), len(classes)):
        raise ValueError(f"proba has shape {proba.shape}, expected ({len(gold)}, {len(classes)})")
    ax = _axes(ax, path, (6.5, 5.0))
    for column, label in enumerate(classes):
        positive = gold == label
        if not positive.any():
            continue
        precision, recall, _ = precision_recall_curve(positive, proba[:, column])
        ap = average_precision_score(positive, proba[:, column])
        ax.step(recall, precision, where="post", label=f"{bilingual(label, ' ')} (AP {ap:.3f})")
    ax.set_xlabel("召回率 recall")
    ax.set_ylabel("精确率 precision")
    ax.set_xlim(0.0, 1.02)
    ax.set_ylim(0.0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    ax.set_title(title or "各标签的精确率-召回率曲线 precision-recall per label")
    _save(ax, path)
    return ax


def plot_threshold_tradeoff(
    gold: Sequence[str],
    scores: Sequence[float],
    positive: str = "prohibited",
    marks: Sequence[float] = (),
    path: str | Path | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """How a threshold on ``scores`` (e.g. P(prohibited)) trades recall against false alarms.

    A message is flagged when its score is at least the threshold. Draws, against the
    threshold, the recall of ``positive`` (flagged share of gold ``positive`` rows), the
    false-alarm rate (flagged share of the other rows) and the precision of the flags.
    ``marks`` draws dashed vertical lines at chosen thresholds. Returns the Axes.
    """
    import numpy as np

    from .evaluation import threshold_tradeoff

    rows = threshold_tradeoff(gold, scores, positive, np.linspace(0.0, 1.0, 201))
    positives = sum(str(label) == positive for label in gold)
    thresholds = np.array([row["threshold"] for row in rows])
    recall = np.array([row["recall"] for row in rows])
    false_alarm = np.array([row["false_alarm_rate"] for row in rows])
    count = np.array([row["flagged"] for row in rows], dtype=float)
    # precision of the flags: true flags (recall x positives) over all flags
    true_flags = np.rint(recall * positives)
    precision = np.divide(true_flags, count, out=np.full(len(rows), np.nan), where=count > 0)
    ax = _axes(ax, path, (7.0, 5.5))
    name = bilingual(positive, " ")
    ax.plot(thresholds, recall, label=f"召回率 recall of {name}")
    ax.plot(thresholds, false_alarm, label="误报率 false-alarm rate (others flagged)")
    ax.plot(thresholds, precision, label="精确率 precision of flags", alpha=0.7)
    for mark in marks:
        ax.axvline(mark, color="grey", linestyle="--", linewidth=1)
        ax.annotate(f"{mark:.2f}", (mark, 0.45), xytext=(3, 0), textcoords="offset points", color="grey")
    ax.set_xlabel(f"阈值 threshold on P({positive})")
    ax.set_ylabel("比例 rate")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="small")
    ax.set_title(title or f"{chinese_name(positive)}：阈值的取舍 threshold trade-off")
    _save(ax, path)
    return ax
