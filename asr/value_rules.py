"""What a setting may hold: a type, a range or a list of choices, and a one-line meaning.

One `Rule` per setting, shared by everything that checks it: the pipeline config schema
(asr.pipelines.config_schema), the search options (asr.search.options) and the command line.
`Rule.problem(value)` says what is wrong in words a user can act on ("must be an integer >= 1,
got 'three'"); the caller adds where the value came from (a config file, `--set`, an option).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from asr.errors import AsrError

KINDS = ("bool", "int", "float", "str", "file", "list")
_NAMES = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string",
          "file": "a file path", "list": "a list"}


@dataclass(frozen=True)
class Rule:
    """A setting's type (`kind`, one of KINDS), range, choices and meaning.

    `low`/`high` bound numbers (`low_open`/`high_open`: strictly); `choices` lists the allowed
    strings; `nullable`: None (YAML null) is allowed; `item`: the rule of each element of a list
    (`min_items`: the shortest list). "file" is a path that must name an existing file.
    """

    kind: str
    meaning: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    nullable: bool = False
    item: "Rule | None" = None
    min_items: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown rule kind {self.kind!r}")

    def describe(self) -> str:
        """The allowed values in a few words: 'integer >= 1', 'null or file path', 'one of a, b'."""
        if self.choices:
            text = "one of " + ", ".join(map(str, self.choices))
        elif self.kind == "list":
            text = "list" + (f" (at least {self.min_items})" if self.min_items else "")
            if self.item is not None:
                text += " of " + self.item.describe()
        else:
            text = {"int": "integer", "float": "number", "bool": "true/false", "str": "string",
                    "file": "file path"}[self.kind]
            text += self._range_text()
        return ("null or " + text) if self.nullable else text

    def _range_text(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f" in {left}{_num(self.low)}, {_num(self.high)}{right}"
        if self.low is not None:
            return f" {'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f" {'<' if self.high_open else '<='} {_num(self.high)}"
        return ""

    def problem(self, value) -> str | None:
        """None when `value` is allowed, else 'must be ..., got ...'."""
        if value is None:
            return None if self.nullable else f"must be {self._expected()}, got null"
        if not self._type_ok(value):
            return f"must be {self._expected()}, got {_shown(value)}"
        if self.kind in ("int", "float"):
            if not math.isfinite(value) or not self._in_range(value):
                return f"must be {self._expected()}, got {_shown(value)}"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}, got {_shown(value)}"
        if self.kind == "file" and not _is_file(value):
            return f"no such file {value!r}"
        if self.kind == "list":
            if len(value) < self.min_items:
                return f"must be {self._expected()}, got {_shown(value)}"
            if self.item is not None:
                for i, element in enumerate(value):
                    problem = self.item.problem(element)
                    if problem:
                        return f"item {i + 1}: {problem}"
        return None

    def check(self, value, where: str) -> None:
        """Raise AsrError `<where>: <problem>` when `value` is not allowed."""
        problem = self.problem(value)
        if problem:
            raise AsrError(f"{where}: {problem}")

    def _expected(self) -> str:
        if self.kind in ("int", "float") and not self.choices:
            if self.kind == "int":
                name = "an integer"
            else:
                name = "a number" if self._range_text() else "a finite number"
            text = name + self._range_text()
        elif self.kind == "list":
            text = "a " + self.describe().removeprefix("null or ")
        else:
            text = _NAMES[self.kind]
        return ("null or " + text) if self.nullable else text

    def _type_ok(self, value) -> bool:
        if isinstance(value, bool):
            return self.kind == "bool"
        if self.kind == "int":
            return isinstance(value, numbers.Integral)
        if self.kind == "float":
            return isinstance(value, numbers.Real)
        if self.kind in ("str", "file"):
            return isinstance(value, str) and (self.kind == "str" or value != "")
        if self.kind == "list":
            return isinstance(value, (list, tuple))
        return False

    def _in_range(self, value) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_file(value: str) -> bool:
    from pathlib import Path

    return Path(value).is_file()


THREADS = Rule("int", "CPU threads of the numeric libraries", low=1)
