"""The three labels of the labeling guide, their Chinese names and their seriousness."""

from __future__ import annotations

from enum import Enum


class Label(str, Enum):
    """A request's label; the value is the string stored in datasets and returned by ``predict``."""

    IN_SCOPE = "in_scope"
    COURTESY = "courtesy"
    PROHIBITED = "prohibited"

    @property
    def chinese(self) -> str:
        return _CHINESE[self]

    @property
    def severity(self) -> int:
        """0 for in_scope, 1 for courtesy, 2 for prohibited: the guide's "most serious ask" order."""
        return _SEVERITY[self]

    def __str__(self) -> str:
        return self.value


_CHINESE = {
    Label.IN_SCOPE: "工作范围内",
    Label.COURTESY: "人情帮忙",
    Label.PROHIBITED: "越界禁止",
}
_SEVERITY = {Label.IN_SCOPE: 0, Label.COURTESY: 1, Label.PROHIBITED: 2}

LABELS: tuple[str, ...] = tuple(label.value for label in Label)

# a missed red line costs more than a false alarm: the share of prohibited messages a trained
# model must catch on held-out rows (``training.train`` weighs the label until it does)
RECALL_FLOOR = 0.97


def chinese_name(label: str) -> str:
    """The Chinese name of a label of the guide, or the label itself for a user's own labels."""
    try:
        return Label(label).chinese
    except ValueError:
        return label


def most_serious(labels: list[str]) -> str:
    """The most serious of the guide's labels (prohibited > courtesy > in_scope)."""
    if not labels:
        raise ValueError("most_serious() needs at least one label")
    return max(labels, key=lambda value: Label(value).severity)
