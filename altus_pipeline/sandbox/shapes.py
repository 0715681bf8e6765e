"""The shape the sandbox serves references in: a bare id, or an embedded object carrying ``id``.

DoorLoop sends the same reference either way, and not always the same way for one field
(docs/doorloop.md#references-in-either-shape): ``/leases/tenants`` embeds the tenant, a lease names its units by
bare id. ``altus sandbox serve --reference-shape`` serves the other shape too, so the
pipeline is tested on both: ``flipped`` turns every reference around (a bare id becomes
``{"id": id}``, an object with a string ``id`` becomes that id), ``mixed`` flips the ones
the seed picks. A pick depends only on the seed, the entity, the record's id and the
place in the record, so every read of a record (any page, the single GET, the next sync)
gets the same bytes.

Which fields are references comes from the normalized spec, the one place that declares
them. Records are reshaped as they are served, into new objects: the stored dataset (and
so filters, drift and ``mutate``) never changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.normalized.spec import REFERENCE_KINDS, TABLES

AS_GENERATED = "as-generated"
FLIPPED = "flipped"
MIXED = "mixed"
REFERENCE_SHAPES: tuple[str, ...] = (AS_GENERATED, FLIPPED, MIXED)

KeyPath = tuple[str, ...]


def reference_id(value: Any) -> str | None:
    """The id a reference names in either shape: a bare id string, or an object's string ``id``."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _reference_paths() -> Mapping[str, tuple[KeyPath, ...]]:
    """Per entity, the key paths of its references (a list met on the way holds one per element).

    A record's own ``id`` (which ``work_orders.task_id`` reads) names the record itself,
    not another one: it is never reshaped.
    """
    paths: dict[str, dict[KeyPath, None]] = {name: {} for name in ENTITIES}
    for t in TABLES.values():
        found = paths[t.source]
        found.update((c.path, None) for c in t.columns if c.kind in REFERENCE_KINDS and c.path != ("id",))
        found.update(
            ((*array.split("."), *c.path), None)
            for ch in t.children
            for array in ch.arrays
            for c in ch.columns
            if c.kind in REFERENCE_KINDS
        )
    return MappingProxyType({name: tuple(found) for name, found in paths.items()})


REFERENCE_PATHS: Mapping[str, tuple[KeyPath, ...]] = _reference_paths()


def check_shape(shape: str) -> None:
    """Refuse a shape the sandbox does not know, naming the known ones."""
    if shape not in REFERENCE_SHAPES:
        raise ValueError(f"reference shape {shape!r}: expected one of {', '.join(REFERENCE_SHAPES)}")


def reshape(entity: str, record: Any, shape: str, seed: int) -> Any:
    """``record`` of ``entity`` as served in reference ``shape`` (a new object; ``record`` is not touched)."""
    if shape == AS_GENERATED or not isinstance(record, dict):
        return record
    check_shape(shape)
    place = f"{seed}:{entity}:{record.get('id')}"
    flip: Callable[[str], bool] = (lambda where: True) if shape == FLIPPED else (lambda where: _picked(place + where))
    for path in REFERENCE_PATHS[entity]:
        record = _reshape_at(record, path, flip, "")
    return record


def _picked(place: str) -> bool:
    """Whether ``mixed`` flips the reference at ``place`` (a hash, so no order of reads matters)."""
    return hashlib.blake2b(place.encode(), digest_size=1).digest()[0] & 1 == 1


def _reshape_at(value: Any, path: KeyPath, flip: Callable[[str], bool], where: str) -> Any:
    """``value`` with the references at ``path`` in it flipped where ``flip`` says; ``where`` names the place."""
    if isinstance(value, list):
        return [_reshape_at(v, path, flip, f"{where}[{i}]") for i, v in enumerate(value)]
    if not path:
        return _other_shape(value) if flip(where) else value
    key = path[0]
    if not isinstance(value, dict) or key not in value:
        return value
    return {**value, key: _reshape_at(value[key], path[1:], flip, f"{where}.{key}")}


def _other_shape(value: Any) -> Any:
    """A bare id as ``{"id": id}``, an object with a string ``id`` as that id; anything else as it is."""
    if isinstance(value, str):
        return {"id": value}
    return reference_id(value) or value
