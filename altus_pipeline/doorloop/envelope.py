"""A listing page parsed once, keeping each record's JSON text as DoorLoop sent it.

The raw load stores and hashes every record's JSON text. Serializing each parsed record
again (``json.dumps``) cost more than parsing the page; here the envelope is walked with
the standard library's scanner, one ``scan_once`` per value, and each record of the
``data`` array keeps the slice of the body it was parsed from. Same values as
``json.loads`` of the whole body, same errors for a body that is not JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

_scan_once = json.JSONDecoder().scan_once
_SPACE = re.compile(r"[ \t\n\r]*")
RECORDS_FIELD = "data"


def parse_listing(text: str) -> tuple[Any, list[str] | None]:
    """The page as ``json.loads(text)`` would give it, and the texts of its ``data`` records.

    The texts are None when the body is not an object holding a ``data`` array (the caller
    refuses such a page). Raises ``json.JSONDecodeError`` for anything ``json.loads`` refuses.
    """
    try:
        return _walk(text)
    except (StopIteration, IndexError) as exc:
        position = exc.value if isinstance(exc, StopIteration) else len(text)
        raise json.JSONDecodeError("Expecting value", text, position) from None


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
