"""Matcher parsing (Alertmanager's classic syntax), matching and RE2 regex checks."""

from __future__ import annotations

import pytest

from ninefold.alert.matchers import (
    Matcher,
    MatchOp,
    compile_regex,
    format_matchers,
    from_api,
    from_match_maps,
    matcher,
    matches,
    parse_config_matchers,
    parse_matcher,
    parse_matchers,
    sort_matchers,
)


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('severity="page"', "severity", "=", "page"),
        ("severity=page", "severity", "=", "page"),
        ("  team  !=  db  ", "team", "!=", "db"),
        ('code=~"5.."', "code", "=~", "5.."),
        ("code!~5..", "code", "!~", "5.."),
        ('empty=""', "empty", "=", ""),
        ("empty=", "empty", "=", ""),
        ('q="say \\"hi\\""', "q", "=", 'say "hi"'),
        ('nl="a\\nb"', "nl", "=", "a\nb"),
        ('bs="a\\\\b"', "bs", "=", "a\\b"),
        ('lit="a\\qb"', "lit", "=", "a\\qb"),  # spurious escape stays literal
        ("a==b", "a", "=", "=b"),  # as in Alertmanager: the value is "=b"
        ("single='x'", "single", "=", "'x'"),  # single quotes are not quotes
        ('u="日本, チーム"', "u", "=", "日本, チーム"),
        ("colon:name=1", "colon:name", "=", "1"),
        ('space="  padded  "', "space", "=", "  padded  "),
        ('eq="a=b"', "eq", "=", "a=b"),
    ],
)
def test_parse_matcher(text: str, name: str, op: str, value: str) -> None:
    m = parse_matcher(text)
    assert (m.name, m.op.value, m.value) == (name, op, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "bad matcher format"),
        ("noop", "bad matcher format"),
        ("1abc=x", "bad matcher format"),
        ("a-b=x", "bad matcher format"),
        ('a="x"y"', "unescaped double quote"),
        ('a=x"', "unescaped double quote"),
        ('a="x', "closing double quote"),
        ('trail="a\\"', "closing double quote"),  # the quote is escaped, nothing closes
        ("a=~(x", "invalid regular expression"),
        ("a=~x\\1", "backreferences"),
        ("a=~(?=x)", "lookahead"),
    ],
)
def test_parse_matcher_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_matcher(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{foo = "bar", dings != "bums", }', [("foo", "=", "bar"), ("dings", "!=", "bums")]),
        ("foo=bar,dings!=bums", [("foo", "=", "bar"), ("dings", "!=", "bums")]),
        ("{}", []),
        ("", []),
        ('{a="x,y", b=~"c|d"}', [("a", "=", "x,y"), ("b", "=~", "c|d")]),
        ('{quote="She said: \\"Hi, all\\""}', [("quote", "=", 'She said: "Hi, all"')]),
        ('statuscode=~"5.."', [("statuscode", "=~", "5..")]),
        ('{a="}"}', [("a", "=", "}")]),
    ],
)
def test_parse_matchers(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert [(m.name, m.op.value, m.value) for m in parse_matchers(text)] == expected


def test_parse_matchers_reports_the_bad_one() -> None:
    with pytest.raises(ValueError, match="bad matcher format: 'oops'"):
        parse_matchers("a=b, oops")


def test_config_forms() -> None:
    ms = parse_config_matchers(['a="1", b=~"2|3"', "c!=4"])
    assert [str(m) for m in ms] == ['a="1"', 'b=~"2|3"', 'c!="4"']
    with pytest.raises(ValueError, match="list of strings"):
        parse_config_matchers("a=1")
    with pytest.raises(ValueError, match="must be strings"):
        parse_config_matchers([1])  # type: ignore[list-item]
    legacy = from_match_maps({"service": "db"}, {"env": "prod|staging"})
    assert [(m.name, m.op) for m in legacy] == [("service", MatchOp.EQ), ("env", MatchOp.RE)]
    with pytest.raises(ValueError, match="invalid label name 'a:b' in match_re"):
        from_match_maps(None, {"a:b": "x"})
    with pytest.raises(ValueError, match="must be a string"):
        from_match_maps({"a": 1})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("m", "labels", "want"),
    [
        (matcher("team", "=", "db"), {"team": "db"}, True),
        (matcher("team", "=", "db"), {}, False),
        (matcher("team", "=", ""), {}, True),  # missing label matches the empty string
        (matcher("team", "!=", "db"), {}, True),
        (matcher("team", "!=", "db"), {"team": "db"}, False),
        (matcher("code", "=~", "5.."), {"code": "503"}, True),
        (matcher("code", "=~", "5.."), {"code": "5031"}, False),  # anchored at the end
        (matcher("code", "=~", "5.."), {"code": "1503"}, False),  # ... and at the start
        (matcher("env", "=~", "prod|staging"), {"env": "staging"}, True),
        (matcher("env", "=~", "prod|staging"), {"env": "prodx"}, False),  # ^(?:a|b)$ grouping
        (matcher("env", "!~", "prod|staging"), {}, True),
        (matcher("env", "=~", ".*"), {}, True),
        (matcher("env", "=~", ".+"), {}, False),
        (matcher("d", "=~", "\\d+"), {"d": "٣"}, False),  # \d is ASCII only, as in RE2
        (matcher("w", "=~", "(?i)disk.*"), {"w": "DiskFull"}, True),
        (matcher("n", "=~", "a.b"), {"n": "a\nb"}, False),  # '.' does not match newline
        (matcher("n", "=~", "(?s)a.b"), {"n": "a\nb"}, True),
        (matcher("z", "=~", "a\\z"), {"z": "a"}, True),
        (matcher("z", "=~", "a$"), {"z": "a\n"}, False),
        (matcher("b", "=~", "a{,2}"), {"b": "a{,2}"}, True),  # literal in RE2
    ],
)
def test_matches(m: Matcher, labels: dict[str, str], want: bool) -> None:
    assert m.matches(labels) is want


def test_matches_all_and_api_forms() -> None:
    ms = parse_matchers('{a="1", b!="2"}')
    assert matches(ms, {"a": "1"})
    assert not matches(ms, {"a": "1", "b": "2"})
    assert matches([], {"anything": "x"})
    api = [m.to_api() for m in parse_matchers('{a="1", b!="2", c=~"3", d!~"4"}')]
    assert api[1] == {"name": "b", "value": "2", "isRegex": False, "isEqual": False}
    assert [str(from_api(x)) for x in api] == ['a="1"', 'b!="2"', 'c=~"3"', 'd!~"4"']
    assert from_api({"name": "a", "value": "1"}).op is MatchOp.EQ  # isEqual defaults to true
    with pytest.raises(ValueError, match="'name' and 'value'"):
        from_api({"name": "a"})
    with pytest.raises(ValueError, match="booleans"):
        from_api({"name": "a", "value": "1", "isRegex": "yes"})


def test_sorting_and_printing() -> None:
    ms = sort_matchers(parse_matchers('b="1", a!="2", a="2", a="1", q="x\\"y\\\\z\\n"'))
    assert format_matchers(ms) == '{a="1",a="2",a!="2",b="1",q="x\\"y\\\\z\\n"}'


def test_matcher_validation() -> None:
    with pytest.raises(ValueError, match="unknown matcher operator"):
        matcher("a", "==", "b")
    with pytest.raises(ValueError, match="invalid label name"):
        matcher("a b", "=", "c")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a*+", "possessive"),
        ("a++", "possessive"),
        ("a**", "nested repetition"),
        ("a{2}{3}", "nested repetition"),
        ("(?=a)", "lookahead"),
        ("(?<!a)b", "lookbehind"),
        ("(a)\\1", "backreferences"),
        ("(?P<x>a)(?P=x)", "backreferences"),
        ("\\pL", "Unicode classes"),
        ("[[:alpha:]]", "POSIX"),
        ("(?U)a+", "ungreedy"),
        ("a(?i)b", "inline flags"),
        ("(?x)a b", "flags x"),
        ("a{1001}", "repeat count"),
        ("(?>a)", "atomic"),
        ("\\Qa.b\\E", "quoting"),
        ("\\x{41}", "\\\\x\\{"),
        ("\\u0041", "escape"),
        ("[a--b]", "ambiguous"),
        ("(", "invalid regular expression"),
        ("\\", "trailing backslash"),
    ],
)
def test_unsupported_regexes(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_regex(pattern)


@pytest.mark.parametrize(
    "pattern",
    ["", ".*", "a+?", "a??", "a{2}?", "(?i)x", "x(?i:y)", "(?P<n>a)", "[]a]", "[^]a]", "\\d\\w\\s"],
)
def test_supported_regexes(pattern: str) -> None:
    compile_regex(pattern)
