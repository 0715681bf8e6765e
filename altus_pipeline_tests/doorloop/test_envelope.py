"""A listing page parsed once: the values ``json.loads`` gives, each record's text as sent.

A UTF-8 body is split by msgspec; a body in another encoding, or one msgspec refuses, by
the standard library's scanner. Both are held to ``json.loads`` of the decoded body.
"""

from __future__ import annotations

import json

import pytest

from altus_pipeline.doorloop import envelope
from altus_pipeline.doorloop.envelope import parse_listing

BODIES = [
    '{"total":2,"data":[{"id":"a","n":[1,2.5,{"x":null}]},{"id":"b","s":"caf\\u00e9 \\"q\\" é"}]}',
    ' \n{ "data" : [ 1 , "two" , [ ] , { } , true , null ] ,\t"total" : 6 }\r\n',
    '{"total":0,"data":[]}',
    '{"total":1,"data":[{"id":"nul","note":"a\\u0000b"}],"extra":{"data":[9]}}',
    '{"data":[1],"total":1,"data":[2,3]}',
    "{}",
    '{"data":5,"total":1}',
    '{"data":[1],"data":"later"}',
    "[1,2]",
    '"text"',
    '{"total":1,"data":[{"id":"big","n":123456789012345678901234567890,"f":-0.0,"e":1.5e-7}]}',
    # what msgspec refuses and the standard library reads: it judges these pages
    '{"total":1,"data":[{"id":"nan","amount":NaN,"other":-Infinity}]}',
    '{"total":1,"data":[{"id":"lone","s":"\\ud800"}]}',
    '{"total":1,"data":[{"id":"huge","n":1e400}]}',
]
ENCODINGS = ["utf-8", "UTF8", "utf-16"]  # the first two are split by msgspec, utf-16 by the scanner


def _same(a, b) -> bool:
    """Equal as values, keys in the same order, NaN equal to NaN (``json.loads`` reads ``NaN``)."""
    return json.dumps(a) == json.dumps(b)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("body", BODIES)
def test_values_are_json_loads_and_texts_are_the_records_as_sent(body, encoding):
    value, texts = parse_listing(body.encode(encoding), encoding)
    assert _same(value, json.loads(body))
    records = value.get("data") if isinstance(value, dict) else None
    if not isinstance(records, list):
        assert texts is None
        return
    assert _same([json.loads(t) for t in texts], records)
    at = 0
    for text in texts:  # each text is the body's own slice, in order
        at = body.index(text, at) + len(text)
    assert all(t == t.strip() for t in texts)


def test_a_utf8_page_is_split_without_the_standard_librarys_scanner(monkeypatch):
    """The fast path is the one taken: a page msgspec can split never reaches ``_walk``."""

    def refuse(text):
        raise AssertionError("the standard library walked a page msgspec splits")

    monkeypatch.setattr(envelope, "_walk", refuse)
    value, texts = parse_listing(BODIES[0].encode())
    assert value == json.loads(BODIES[0])
    assert texts == ['{"id":"a","n":[1,2.5,{"x":null}]}', '{"id":"b","s":"caf\\u00e9 \\"q\\" é"}']


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    "body",
    [
        "",
        "{",
        '{"total"',
        '{"total":',
        '{"data":[1,',
        '{"data":[1 2]}',
        '{"data":[1,]}',
        '{"data":[}',
        '{"total":1,}',
        "{total:1}",
        '{"total" 1}',
        '{"total":1}x',
        '{"data":[{"id":"a}]}',
        '{"data":["\x01"]}',
    ],
)
def test_what_json_loads_refuses_is_refused(body, encoding):
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    with pytest.raises(json.JSONDecodeError):
        parse_listing(body.encode(encoding), encoding)


def test_a_body_not_in_its_encoding_is_refused():
    """Bytes that are not UTF-8 fail as decoding them would (the client retries such a body)."""
    with pytest.raises(UnicodeDecodeError):
        parse_listing(b'{"total":1,"data":["caf\xe9"]}', "utf-8")
    value, texts = parse_listing(b'{"total":1,"data":["caf\xe9"]}', "latin-1")
    assert value == {"total": 1, "data": ["café"]} and texts == ['"café"']
