"""A listing page parsed once: the values ``json.loads`` gives, each record's text as sent."""

from __future__ import annotations

import json

import pytest

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
]


@pytest.mark.parametrize("body", BODIES)
def test_values_are_json_loads_and_texts_are_the_records_as_sent(body):
    value, texts = parse_listing(body)
    assert value == json.loads(body)
    records = value.get("data") if isinstance(value, dict) else None
    if not isinstance(records, list):
        assert texts is None
        return
    assert [json.loads(t) for t in texts] == records
    at = 0
    for text in texts:  # each text is the body's own slice, in order
        at = body.index(text, at) + len(text)
    assert all(t == t.strip() for t in texts)


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
def test_what_json_loads_refuses_is_refused(body):
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    with pytest.raises(json.JSONDecodeError):
        parse_listing(body)
