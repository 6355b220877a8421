"""Alertmanager label matchers: ``name="value"``, ``!=``, ``=~`` and ``!~``, and their parsers.

A missing label matches as the empty string, exactly as in Alertmanager: ``team=""`` matches
alerts without ``team`` and ``team!="db"`` matches them too. Regular expressions are anchored
on both ends (Alertmanager compiles ``^(?:<re>)$``); here they run through Python's ``re`` with
:func:`re.fullmatch` and the ASCII flag, so ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only
as in Go's RE2. Patterns that RE2 would reject or that Python would read differently
(backreferences, lookaround, possessive quantifiers, ``\\p{..}`` classes, POSIX ``[[:alpha:]]``,
``(?U)``, inline flags after the start) are refused with a ValueError. Remaining known
difference: ``(?i)`` folds only ASCII letters.

Every error is a ValueError with a message meant for an API client (it becomes a 400).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: A label name as Alertmanager's classic matcher parser accepts it.
LABEL_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
#: A label name as Alertmanager's configuration (``match``/``match_re``, ``equal``) accepts it.
CONFIG_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
_MAX_REPEAT = 1000  # RE2's limit on {n,m}


class MatchOp(StrEnum):
    """The four matcher operators, in Alertmanager's sort order."""

    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"

    @property
    def rank(self) -> int:
        """Position in Alertmanager's ``MatchType`` enum (used for sorting)."""
        return list(MatchOp).index(self)

    @property
    def is_regex(self) -> bool:
        """True for ``=~`` and ``!~``."""
        return self in (MatchOp.RE, MatchOp.NRE)


@dataclass(frozen=True)
class Matcher:
    """One label matcher; construct it with :func:`matcher` or the parsers to get validation."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if not LABEL_NAME.fullmatch(self.name):
            raise ValueError(f"invalid label name {self.name!r} in matcher")
        if not isinstance(self.op, MatchOp):
            object.__setattr__(self, "op", parse_op(str(self.op)))
        if self.op.is_regex and self._regex is None:
            object.__setattr__(self, "_regex", compile_regex(self.value))

    def matches_value(self, value: str) -> bool:
        """Whether a label value (``""`` for a missing label) satisfies this matcher."""
        if self.op is MatchOp.EQ:
            return value == self.value
        if self.op is MatchOp.NE:
            return value != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(value) is not None
        return found if self.op is MatchOp.RE else not found

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this matcher (missing labels count as empty)."""
        return self.matches_value(labels.get(self.name, ""))

    @property
    def matches_empty(self) -> bool:
        """True when the matcher also matches alerts that lack the label."""
        return self.matches_value("")

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{escape_value(self.value)}"'

    def to_api(self) -> dict[str, Any]:
        """Alertmanager API v2 form: ``{name, value, isRegex, isEqual}``."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.op.is_regex,
            "isEqual": self.op in (MatchOp.EQ, MatchOp.RE),
        }

    def sort_key(self) -> tuple[str, str, int]:
        """Alertmanager's matcher order: name, then value, then operator."""
        return (self.name, self.value, self.op.rank)


def parse_op(text: str) -> MatchOp:
    """The operator for ``=``, ``!=``, ``=~`` or ``!~``; raise ValueError otherwise."""
    try:
        return MatchOp(text)
    except ValueError:
        raise ValueError(f"unknown matcher operator {text!r}: use =, !=, =~ or !~") from None


def matcher(name: str, op: str, value: str) -> Matcher:
    """Build a validated matcher; regular expressions are compiled (and checked) once."""
    return Matcher(name, parse_op(op), value)


def escape_value(value: str) -> str:
    """OpenMetrics escaping used when printing a matcher: backslash, newline, double quote."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher such as ``severity="page"``, ``team!=db`` or ``code=~"5.."``."""
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"bad matcher format: {text!r} (expected name=value, name!=value, …)")
    name, op, raw = found.groups()
    return Matcher(name, parse_op(op), _unquote(raw, text))


def _unquote(raw: str, text: str) -> str:
    # Follows Alertmanager's classic parser: an optional leading quote requires a trailing
    # one; \" \\ and \n are escapes, any other backslash is literal; inner unescaped quotes fail.
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out: list[str] = []
    expect_close = quoted
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i < len(body) - 1:
            nxt = body[i + 1]
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        if ch == '"':
            if not expect_close or i < len(body) - 1:
                raise ValueError(f"matcher value contains unescaped double quote: {text!r}")
            expect_close = False
        else:
            out.append(ch)
        i += 1
    if expect_close:
        raise ValueError(f"matcher value is missing its closing double quote: {text!r}")
    return "".join(out)


def split_matchers(text: str) -> list[str]:
    """Split a ``{a="b", c=~"d"}`` list on commas outside double quotes (braces optional)."""
    body = text.strip()
    if body.startswith("{"):
        body = body[1:]
    if body.endswith("}"):
        body = body[:-1]
    tokens: list[str] = []
    current: list[str] = []
    inside = escaped = False
    for ch in body:
        if ch == "," and not inside:
            tokens.append("".join(current))
            current = []
            continue
        if ch == '"':
            if escaped:
                escaped = False
            else:
                inside = not inside
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        current.append(ch)
    last = "".join(current).strip()
    if last:
        tokens.append(last)
    return tokens


def parse_matchers(text: str) -> list[Matcher]:
    """Parse a matcher list: ``{a="b", c=~"d.*"}``, ``a=b,c!=d`` or one matcher; may be empty."""
    return [parse_matcher(token) for token in split_matchers(text)]


def parse_config_matchers(lines: Iterable[str]) -> list[Matcher]:
    """A config ``matchers:`` list: each string may itself hold several comma-separated matchers."""
    if isinstance(lines, str):
        raise ValueError("matchers must be a list of strings, e.g. ['severity=\"page\"']")
    result: list[Matcher] = []
    for line in lines:
        if not isinstance(line, str):
            raise ValueError(f"matchers entries must be strings, got {line!r}")
        result.extend(parse_matchers(line))
    return result


def from_match_maps(
    match: Mapping[str, str] | None = None, match_re: Mapping[str, str] | None = None
) -> list[Matcher]:
    """Matchers from the deprecated ``match`` (equality) and ``match_re`` (regex) config maps."""
    result: list[Matcher] = []
    for kind, mapping in (("match", match), ("match_re", match_re)):
        for name, value in (mapping or {}).items():
            if not isinstance(name, str) or not CONFIG_LABEL_NAME.fullmatch(name):
                raise ValueError(f"invalid label name {name!r} in {kind}")
            if not isinstance(value, str):
                raise ValueError(f"{kind} value for {name!r} must be a string, got {value!r}")
            result.append(Matcher(name, MatchOp.EQ if kind == "match" else MatchOp.RE, value))
    return result


def from_api(item: Mapping[str, Any]) -> Matcher:
    """A matcher from the API v2 form ``{name, value, isRegex, isEqual=true}``."""
    name, value = item.get("name"), item.get("value")
    if not isinstance(name, str) or not isinstance(value, str):
        raise ValueError("a matcher needs string fields 'name' and 'value'")
    is_regex, is_equal = item.get("isRegex", False), item.get("isEqual", True)
    if not isinstance(is_regex, bool) or not isinstance(is_equal, bool):
        raise ValueError("matcher fields 'isRegex' and 'isEqual' must be booleans")
    op = {
        (False, True): MatchOp.EQ,
        (False, False): MatchOp.NE,
        (True, True): MatchOp.RE,
        (True, False): MatchOp.NRE,
    }[(is_regex, is_equal)]
    return Matcher(name, op, value)


def matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher matches the label set (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def sort_matchers(matchers: Iterable[Matcher]) -> list[Matcher]:
    """Matchers in Alertmanager's order (name, value, operator)."""
    return sorted(matchers, key=Matcher.sort_key)


def format_matchers(matchers: Sequence[Matcher]) -> str:
    """Alertmanager's ``Matchers.String()``: ``{a="b",c=~"d"}`` in the given order."""
    return "{" + ",".join(str(m) for m in matchers) + "}"


# --- regular expressions -------------------------------------------------------------------

_GO_LETTER_ESCAPES = set("aftnrvxAbBzdDsSwW")
_GO_FLAGS = set("ims")


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile an Alertmanager regex for full-string matching; raise ValueError if unsupported."""
    translated = _check_re2(pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return re.compile(translated, re.ASCII)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    except (FutureWarning, DeprecationWarning) as exc:
        raise ValueError(f"ambiguous regular expression {pattern!r}: {exc}") from None


def _unsupported(pattern: str, what: str) -> ValueError:
    return ValueError(f"unsupported regular expression {pattern!r}: {what} (RE2 syntax only)")


def _check_re2(pattern: str) -> str:
    """Refuse constructs RE2 lacks or Python reads differently; translate ``\\z`` to ``\\Z``."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    quantified = 0
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise ValueError(f"invalid regular expression {pattern!r}: trailing backslash")
            nxt = pattern[i + 1]
            if nxt in "pP":
                raise _unsupported(pattern, "Unicode classes \\p/\\P")
            if nxt == "Q":
                raise _unsupported(pattern, "\\Q…\\E quoting")
            if nxt in "123456789":
                raise _unsupported(pattern, "backreferences and octal escapes")
            if nxt.isalpha() and nxt.isascii() and nxt not in _GO_LETTER_ESCAPES:
                raise _unsupported(pattern, f"escape \\{nxt}")
            if nxt == "x" and i + 2 < n and pattern[i + 2] == "{":
                raise _unsupported(pattern, "\\x{…} escapes; use \\xHH")
            out.append("\\Z" if nxt == "z" and not in_class else ch + nxt)
            i += 2
            quantified = 0
            continue
        if in_class:
            if ch == "[" and pattern.startswith("[:", i):
                raise _unsupported(pattern, "POSIX classes like [[:alpha:]]")
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            # A ']' right after '[' or '[^' is a literal member, not the end of the class.
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):
                out.append("\\]")
                i += 1
            quantified = 0
            continue
        if ch == "(" and pattern.startswith("(?", i):
            i = _check_group(pattern, i, out)
            quantified = 0
            continue
        if ch in "*+?":
            # State 1 after a quantifier, 2 after a lazy one ("a+?"); RE2 allows nothing more.
            if quantified == 1 and ch == "?":
                quantified = 2
            elif quantified:
                raise _unsupported(pattern, "nested repetition or possessive quantifiers")
            else:
                quantified = 1
            out.append(ch)
            i += 1
            continue
        if ch == "{":
            if re.match(r"\{,\d*\}", pattern[i:]):
                out.append("\\{")  # RE2 reads "{,n}" literally, Python as {0,n}
                i += 1
                quantified = 0
                continue
            rep = re.match(r"\{(\d+)(,(\d*))?\}", pattern[i:])
            if rep is not None:
                for num in (rep.group(1), rep.group(3)):
                    if num and int(num) > _MAX_REPEAT:
                        raise _unsupported(pattern, f"repeat count above {_MAX_REPEAT}")
                if quantified:
                    raise _unsupported(pattern, "nested repetition")
                out.append(rep.group(0))
                i += len(rep.group(0))
                quantified = 1
                continue
        out.append(ch)
        i += 1
        quantified = 0
    return "".join(out)


def _check_group(pattern: str, i: int, out: list[str]) -> int:
    """Check a ``(?…`` group opening at ``i``; append it and return the index after it."""
    rest = pattern[i + 2 :]
    if rest.startswith(":"):
        out.append("(?:")
        return i + 3
    named = re.match(r"P<([A-Za-z_][A-Za-z0-9_]*)>", rest)
    if named is not None:
        out.append("(?" + named.group(0))
        return i + 2 + len(named.group(0))
    flags = re.match(r"([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])", rest)
    if flags is None or not (flags.group(1) or flags.group(2)):
        what = {
            "=": "lookahead",
            "!": "lookahead",
            "<": "lookbehind or (?<name>…) groups; use (?P<name>…)",
            ">": "atomic groups",
            "#": "comments",
            "(": "conditionals",
            "P": "named backreferences",
        }.get(rest[:1], "this group syntax")
        raise _unsupported(pattern, what)
    letters = set(flags.group(1) + (flags.group(2) or ""))
    if "U" in letters:
        raise _unsupported(pattern, "the ungreedy flag (?U)")
    if not letters <= _GO_FLAGS:
        raise _unsupported(pattern, f"flags {''.join(sorted(letters - _GO_FLAGS))}")
    if flags.group(3) == ")" and i != 0:
        raise _unsupported(pattern, "inline flags after the start; use a scoped group (?i:…)")
    out.append("(?" + flags.group(0))
    return i + 2 + len(flags.group(0))
