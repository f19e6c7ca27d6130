"""The characters a regular expression's matches can start with, read from the pattern itself.

A long alternation such as the vocative's is tried branch by branch at each ``match``, while
the first character of most texts rules every branch out. Reading the set from the parsed
pattern (not listing it by hand) keeps it right when the pattern changes.
"""

from __future__ import annotations

import re

try:  # Python 3.11+
    from re import _parser as sre_parse
except ImportError:  # Python 3.10
    import sre_parse  # type: ignore[no-redef]

# more characters than this: no set is built (a pre-check would rule out little anyway)
MAX_CHARACTERS = 1 << 16

Ranges = list[tuple[int, int]]


class _Unreadable(Exception):
    """A construct :func:`first_characters` does not read (``.``, ``[^…]``, ``\\s``, ...)."""


def first_characters(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Every character a match of ``pattern`` can start with, or ``None`` when that cannot be
    told: the pattern may match the empty string, ignores case, uses a construct this does not
    read, or can start with more than ``MAX_CHARACTERS`` characters.

    Lookarounds consume nothing, so they are passed over (a set that is too large is still
    exact for a pre-check: it never rules out a text the pattern matches).
    """
    if pattern.flags & (re.IGNORECASE | re.LOCALE):
        return None
    try:
        ranges, nullable = _first_of_sequence(sre_parse.parse(pattern.pattern, pattern.flags))
    except _Unreadable:
        return None
    if nullable or sum(high - low + 1 for low, high in ranges) > MAX_CHARACTERS:
        return None
    return frozenset(chr(code) for low, high in ranges for code in range(low, high + 1))


def _first_of_sequence(items) -> tuple[Ranges, bool]:
    """The first characters of a sequence of parsed items, and whether it can match empty."""
    ranges: Ranges = []
    for op, argument in items:
        first, nullable = _first_of_item(op, argument)
        ranges.extend(first)
        if not nullable:
            return ranges, False
    return ranges, True


def _first_of_item(op, argument) -> tuple[Ranges, bool]:
    """The first characters of one parsed item, and whether it can match empty."""
    if op is sre_parse.LITERAL:
        return [(argument, argument)], False
    if op is sre_parse.IN:
        return _first_of_set(argument), False
    if op is sre_parse.BRANCH:
        firsts = [_first_of_sequence(branch) for branch in argument[1]]
        return [r for ranges, _ in firsts for r in ranges], any(nullable for _, nullable in firsts)
    if op is sre_parse.SUBPATTERN:
        _group, add_flags, _del_flags, items = argument
        if add_flags & (re.IGNORECASE | re.LOCALE):
            raise _Unreadable(op)
        return _first_of_sequence(items)
    if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)):
        minimum, _maximum, items = argument
        ranges, nullable = _first_of_sequence(items)
        return ranges, nullable or minimum == 0
    if op is getattr(sre_parse, "ATOMIC_GROUP", None):
        return _first_of_sequence(argument)
    if op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT, sre_parse.AT):
        return [], True  # consumes nothing: the first character comes after it
    raise _Unreadable(op)


def _first_of_set(items) -> Ranges:
    """The characters of a parsed ``[...]`` set of literals and ranges."""
    ranges: Ranges = []
    for op, argument in items:
        if op is sre_parse.LITERAL:
            ranges.append((argument, argument))
        elif op is sre_parse.RANGE:
            ranges.append(argument)
        else:  # NEGATE, CATEGORY (\s, \w ...)
            raise _Unreadable(op)
    return ranges
