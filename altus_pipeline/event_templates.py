"""A ranged run's materializations serialized once per asset, not once per partition.

Dagster records a materialization per partition of a ranged run (a reconcile: 1,126 per
transaction asset), and its event log serializes each one whole, although they differ only
in the partition and the timestamp: that JSON encoding was the largest single cost of an
empty-account ``altus sync``. A ``Template`` is the serialized event with marks in place of
those two fields; an event of the same shape is stored as its partition and timestamp, which
PostgreSQL writes into the template's text (``instance_storage``). A template is made once
two events in a row are ``alike``, so a run of events that are all different costs no
serialization more than before.

"The same shape" is proven, never assumed: every part of the event other than the partition
and the timestamp is the same object, or of the same type with the same value (``_same``),
so its serialization is the same text. An event whose shape differs (the last partition of a
run carries the load's figures) or that holds a value this cannot compare is serialized by
Dagster as before. The text filled in is byte for byte Dagster's ``serialize_value`` (a test
holds the stored rows to that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dagster._core.definitions.events import AssetMaterialization
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._serdes import serialize_value

PARTITION_MARK = "altus-template-partition-6b1f"
_TIMESTAMP_MARK = -1.2345678901234567e-300  # a float no event carries; its repr is unique in the text
TIMESTAMP_TEXT = json.dumps(_TIMESTAMP_MARK)
_MATERIALIZATION = DagsterEventType.ASSET_MATERIALIZATION.value
_SCALARS = (str, int, bool, type(None))


@dataclass(frozen=True)
class Template:
    """One serialized materialization with its partition and timestamp marked, and its row."""

    shape: EventLogEntry
    text: str
    row: dict[str, Any]

    @classmethod
    def of(cls, event: EventLogEntry, row: dict[str, Any]) -> Template | None:
        """The template of ``event`` (stored as ``row``), or None when it is not a partition's
        materialization or its marks are not each found once in the text."""
        shape = _shape(event)
        if shape is None:
            return None
        text = serialize_value(shape)
        if text.count(PARTITION_MARK) != 1 or text.count(TIMESTAMP_TEXT) != 1:
            return None
        return cls(shape, text, row)

    def values_of(self, event: EventLogEntry) -> Filling | None:
        """What fills this template's marks to make ``event``'s text, or None when its shape
        is not this one's."""
        if not _matches(event, self.shape):
            return None
        partition = event.dagster_event.event_specific_data.materialization.partition
        return Filling(partition, json.dumps(partition)[1:-1], json.dumps(event.timestamp))


@dataclass(frozen=True)
class Filling:
    """An event's values for a template's marks: its partition (raw, and as its JSON text has
    it) and its timestamp as JSON. The timestamp mark is replaced first, so a partition filled
    in is never taken for a mark."""

    partition: str
    escaped: str
    stamp: str


def alike(a: EventLogEntry, b: EventLogEntry) -> bool:
    """Whether ``a`` and ``b`` are materializations of partitions that differ in nothing else
    (``b`` can be filled in from ``a``'s template)."""
    shape = _shape(a)
    return shape is not None and _matches(b, shape)


def _shape(event: EventLogEntry) -> EventLogEntry | None:
    """``event`` with its partition and timestamp replaced by the marks, when it is the
    materialization of a partition (None otherwise)."""
    dagster_event = event.dagster_event
    if (
        type(event) is not EventLogEntry
        or type(event.timestamp) is not float
        or type(dagster_event) is not DagsterEvent
        or dagster_event.event_type_value != _MATERIALIZATION
    ):
        return None
    data = dagster_event.event_specific_data
    if type(data) is not StepMaterializationData or type(data.materialization) is not AssetMaterialization:
        return None
    materialization = data.materialization
    if type(materialization.partition) is not str or not materialization.partition:
        return None
    marked = data._replace(materialization=materialization._replace(partition=PARTITION_MARK))
    return event._replace(timestamp=_TIMESTAMP_MARK, dagster_event=dagster_event._replace(event_specific_data=marked))


# The path from an event down to its partition: (field that varies, field to descend into).
_VARYING = (
    ("timestamp", "dagster_event"),
    (None, "event_specific_data"),
    (None, "materialization"),
    ("partition", None),
)


def _matches(event: EventLogEntry, shape: EventLogEntry) -> bool:
    """Whether ``event`` is ``shape`` but for its timestamp and partition (``_shape(event)`` is
    ``_same`` as ``shape``), without building ``event``'s shape: every other field is compared
    level by level down the path to the partition."""
    if type(event.timestamp) is not float:
        return False
    a: Any = event
    b: Any = shape
    for varying, descend in _VARYING:
        if type(a) is not type(b):
            return False
        for name, x, y in zip(a._fields, tuple.__iter__(a), tuple.__iter__(b), strict=True):
            if name != varying and name != descend and not _same(x, y):
                return False
        if descend is not None:
            a, b = getattr(a, descend), getattr(b, descend)
    partition = event.dagster_event.event_specific_data.materialization.partition
    return type(partition) is str and partition != ""


def _same(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` serialize to the same text: the same object, or the same type
    holding the same values (a named tuple or record: the same fields). Equality alone is not
    enough (``1 == 1.0``, ``0.0 == -0.0``, and a named tuple equals another class's with the
    same fields); a type not known here is the same only as itself."""
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b):
        return False
    if kind in _SCALARS:
        return a == b
    if kind is float:
        return a.hex() == b.hex()
    if isinstance(a, tuple):  # named tuples and Dagster's records, which refuse plain iteration
        return tuple.__len__(a) == tuple.__len__(b) and all(map(_same, tuple.__iter__(a), tuple.__iter__(b)))
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if kind is dict:
        return (
            a.keys() == b.keys()
            and all(type(key) is str for key in a)
            and all(_same(value, b[key]) for key, value in a.items())
        )
    return False
