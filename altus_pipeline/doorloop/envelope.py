"""A listing page parsed once, keeping each record's JSON text as DoorLoop sent it.

The raw load stores and hashes every record's JSON text. Serializing each parsed record
again (``json.dumps``) cost more than parsing the page, so the page is split instead.
A UTF-8 body is split by msgspec: its top level and its ``data`` array decode to
``msgspec.Raw`` values (each value's bytes, checked as JSON but not built into objects),
and each record is then decoded from its own bytes, at less than half the standard
library's cost. A body msgspec refuses (not UTF-8, ``NaN``, a lone surrogate, a number
beyond a float's range, not JSON at all) or in another encoding is walked with the
standard library's scanner instead, one ``scan_once`` per value, each record of the
``data`` array keeping the slice of the body it was parsed from. Either way: the values
``json.loads`` of the whole body gives, its errors for a body that is not JSON, and the
texts as sent.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

import msgspec

_scan_once = json.JSONDecoder().scan_once
_SPACE = re.compile(r"[ \t\n\r]*")
_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_VALUE = msgspec.json.Decoder()
RECORDS_FIELD = "data"


def parse_listing(body: bytes, encoding: str = "utf-8") -> tuple[Any, list[str] | None]:
    """The page as ``json.loads(body.decode(encoding))`` would give it, and the texts of its ``data`` records.

    The texts are None when the body is not an object holding a ``data`` array (the caller
    refuses such a page). Raises ``json.JSONDecodeError`` for anything ``json.loads``
    refuses, ``UnicodeDecodeError`` for a body that is not in ``encoding``.
    """
    if codecs.lookup(encoding).name == "utf-8":
        try:
            return _split(body)
        except msgspec.DecodeError:  # what msgspec refuses, the standard library judges
            pass
    text = body.decode(encoding)
    try:
        return _walk(text)
    except (StopIteration, IndexError) as exc:
        position = exc.value if isinstance(exc, StopIteration) else len(text)
        raise json.JSONDecodeError("Expecting value", text, position) from None


def _split(body: bytes) -> tuple[dict[str, Any], list[str] | None]:
    """A UTF-8 envelope split by msgspec (``msgspec.DecodeError`` for anything else)."""
    fields: dict[str, Any] = {}
    texts: list[str] | None = None
    for key, raw in _FIELDS.decode(body).items():
        items = _items(raw) if key == RECORDS_FIELD else None
        if items is None:
            fields[key] = _VALUE.decode(raw)
        else:
            fields[key] = [_VALUE.decode(item) for item in items]
            texts = [str(item, "utf-8") for item in items]
    return fields, texts


def _items(raw: msgspec.Raw) -> list[msgspec.Raw] | None:
    """The items of a JSON array, each as its bytes; None when ``raw`` is another value."""
    try:
        return _ITEMS.decode(raw)
    except msgspec.ValidationError:
        return None


def _walk(text: str) -> tuple[Any, list[str] | None]:
    at = _SPACE.match(text, 0).end()
    if text[at] != "{":  # not an envelope: parse it whole, no record texts
        return json.loads(text), None
    fields: dict[str, Any] = {}
    texts: list[str] | None = None
    at = _SPACE.match(text, at + 1).end()
    if text[at] == "}":
        return _end(text, at + 1, fields), None
    while True:
        if text[at] != '"':
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        key, at = _scan_once(text, at)
        at = _SPACE.match(text, at).end()
        if text[at] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        at = _SPACE.match(text, at + 1).end()
        if key == RECORDS_FIELD and text[at] == "[":
            fields[key], texts, at = _records(text, at + 1)
        else:
            fields[key], at = _scan_once(text, at)
            if key == RECORDS_FIELD:
                texts = None
        at = _SPACE.match(text, at).end()
        if text[at] == "}":
            return _end(text, at + 1, fields), texts
        if text[at] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
        at = _SPACE.match(text, at + 1).end()


def _records(text: str, at: int) -> tuple[list[Any], list[str], int]:
    """The values of an array starting after its ``[``, their texts, and the index after its ``]``."""
    records: list[Any] = []
    texts: list[str] = []
    at = _SPACE.match(text, at).end()
    if text[at] == "]":
        return records, texts, at + 1
    while True:
        record, end = _scan_once(text, at)
        records.append(record)
        texts.append(text[at:end])
        at = _SPACE.match(text, end).end()
        if text[at] == "]":
            return records, texts, at + 1
        if text[at] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
        at = _SPACE.match(text, at + 1).end()


def _end(text: str, at: int, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields``, once nothing but white space follows the envelope."""
    at = _SPACE.match(text, at).end()
    if at != len(text):
        raise json.JSONDecodeError("Extra data", text, at)
    return fields
