"""Unknown sections and keys in the config files, by line, with the nearest known key.

A typo must never fall back to a default in silence: `uri = ...` for `url` in `[database]`
ran the hub on the default SQLite file. `tomllib` keeps no positions, so `key_lines` reads
the raw text of a file that `tomllib` has already accepted and notes the line of every table
header and key; `unknown_keys` compares the parsed document with the keys the hub knows and
names file, line, table and the nearest known key (difflib), e.g.

    hub.toml: line 3: [database]: unknown key uri; did you mean url?

The scan only has to find keys, not values: it follows strings (basic, literal and
multi-line), comments and brackets so that nothing inside a value is taken for a key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping

KeyPath = tuple[str | int, ...]

_BARE = r"[A-Za-z0-9_-]+"
_BASIC = r'"(?:[^"\\]|\\.)*"'
_LITERAL = r"'[^']*'"
_SIMPLE_KEY = f"(?:{_BARE}|{_BASIC}|{_LITERAL})"
_DOTTED_KEY = rf"{_SIMPLE_KEY}(?:\s*\.\s*{_SIMPLE_KEY})*"
_ARRAY_HEADER = re.compile(rf"\s*\[\[\s*({_DOTTED_KEY})\s*\]\]")
_TABLE_HEADER = re.compile(rf"\s*\[\s*({_DOTTED_KEY})\s*\]")
_KEY_VALUE = re.compile(rf"\s*({_DOTTED_KEY})\s*=")
_KEY_PART = re.compile(_SIMPLE_KEY)


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(_unquote(m.group(0)) for m in _KEY_PART.finditer(dotted))


def _unquote(key: str) -> str:
    if key.startswith('"'):
        return key[1:-1].encode("utf-8").decode("unicode_escape") if "\\" in key else key[1:-1]
    if key.startswith("'"):
        return key[1:-1]
    return key


class _Value:
    """Where a value that may span lines ends: open brackets and multi-line strings."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_string: str | None = None  # '"""' or "'''" while inside a multi-line string

    @property
    def open(self) -> bool:
        return self.depth > 0 or self.in_string is not None

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            if self.in_string is not None:
                end = text.find(self.in_string, i)
                if end < 0:
                    return
                i = end + 3
                self.in_string = None
                continue
            c = text[i]
            if c == "#":
                return
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.in_string = text[i : i + 3]
                i += 3
            elif c == '"':
                m = re.compile(_BASIC).match(text, i)
                i = m.end() if m else len(text)
            elif c == "'":
                end = text.find("'", i + 1)
                i = len(text) if end < 0 else end + 1
            else:
                self.depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(c, 0)
                i += 1


def key_lines(text: str) -> dict[KeyPath, int]:
    """The line (from 1) of each table header and key: `("database",)`, `("database", "url")`,
    `("office", 0)`, `("office", 0, "account")`. Array tables count from 0 as in the parsed list."""
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    array_counts: dict[tuple[str, ...], int] = {}
    value = _Value()
    for number, line in enumerate(text.splitlines(), start=1):
        if value.open:
            value.feed(line)
            continue
        if m := _ARRAY_HEADER.match(line):
            name = _parts(m.group(1))
            index = array_counts.get(name, -1) + 1
            array_counts[name] = index
            table = (*name, index)
            lines.setdefault(table, number)
        elif m := _TABLE_HEADER.match(line):
            table = _parts(m.group(1))
            lines.setdefault(table, number)
        elif m := _KEY_VALUE.match(line):
            path = (*table, *_parts(m.group(1)))
            lines.setdefault(path, number)
            value.feed(line[m.end() :])
    return lines


def nearest(key: str, known: list[str]) -> str:
    """ "; did you mean url?" for the closest known key, else the list of known keys."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(known)}"


def unknown_keys(
    doc: Mapping[str, object], schema: Mapping[str, list[str] | None], lines: Mapping[KeyPath, int]
) -> Iterator[tuple[int | None, str]]:
    """(line, problem) for every section or key of `doc` the hub does not know.

    `schema` maps each known top-level name to the keys of its table (a list of names),
    or to None for a plain top-level value."""
    for name, value in doc.items():
        if name not in schema:
            what = "section" if isinstance(value, (dict, list)) else "key"
            shown = f"[{name}]" if isinstance(value, dict) else f"[[{name}]]" if isinstance(value, list) else name
            yield (lines.get((name,)) or lines.get((name, 0)), f"unknown {what} {shown}{nearest(name, list(schema))}")
            continue
        known = schema[name]
        if known is None:
            continue
        tables = (
            [(f"[{name}]", (name,), value)]
            if isinstance(value, dict)
            else [(f"{name}[{i}]", (name, i), entry) for i, entry in enumerate(value) if isinstance(entry, dict)]
            if isinstance(value, list)
            else []
        )
        for where, path, table in tables:
            for key in table:
                if key not in known:
                    yield (lines.get((*path, key)), f"{where}: unknown key {key}{nearest(key, list(known))}")
