"""What to do about a request, from the article; the texts live in ``resources/advice.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Advice:
    """What the team member should do (``action``) and a short reply they can send (``reply``)."""

    action: str
    reply: str

    def __str__(self) -> str:
        return f"{self.action}\n建议回复：{self.reply}"


@lru_cache(maxsize=1)
def _advice_data() -> dict:
    text = resources.files("boundary_nlp").joinpath("resources/advice.json").read_text("utf-8")
    return json.loads(text)


def advice_for(label: str, uncertain: bool = False) -> Advice | None:
    """Advice for one of the guide's labels; ``None`` for labels the file does not know."""
    data = _advice_data()
    if uncertain:
        return Advice(**data["uncertain"])
    entry = data["labels"].get(label)
    return Advice(**entry) if entry else None


def over_limit_advice() -> Advice:
    """The article's guidance once a client's favors have become routine."""
    return Advice(**_advice_data()["over_limit"])
