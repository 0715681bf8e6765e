"""The entity registry: the one list of DoorLoop entities in the code.

Every other part (the client, the sandbox, the raw assets, the SQL file names and the
roadmap) derives what it needs from here, so adding an entity is one entry. The entities
without an endpoint of their own (work orders are tasks of one type) are listed here too, in
``DERIVED_ENTITIES``, with the entity they are read from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class ParentLink:
    """How master data that DoorLoop stamps no ``updatedAt`` on is read in a daily run.

    A lease tenant row carries no ``updatedAt``, but it belongs to one lease (``field``
    names it, and ``filter`` lists one lease's rows alone) and embeds a copy of its tenant
    (``embeds``: the entity of each copy and the record key holding it). Such a row changes
    when its parent or an embedded record does, which stamps them, or when one of its
    ``dated`` fields (a move-in, a move-out) passes, which moves its ``status``; each dated
    field has the listing filters that select a range of it (``_from``, ``_to``).
    """

    parent: str
    field: str
    filter: str
    embeds: tuple[tuple[str, str], ...] = ()
    dated: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Entity:
    """One DoorLoop list endpoint and how the pipeline reads it.

    ``date_filter`` names the DoorLoop filter pair (``filter_<date_filter>_from`` /
    ``_to``) that selects records by business date, and ``date_field`` the record key
    it filters on. Entities with a date filter are transactions, partitioned by that
    date; entities without are master data, read whole or newest-changed first (``raw/incremental.py``),
    or, with a ``parent``, by the parents that changed.
    """

    name: str
    path: str
    date_field: str | None = None
    date_filter: str | None = None
    list_params: Mapping[str, str] = field(default_factory=dict)
    parent: ParentLink | None = None

    @property
    def partitioned(self) -> bool:
        return self.date_filter is not None

    @property
    def read_after(self) -> tuple[str, ...]:
        """The entities whose raw tables a daily read of this one consults: its parent's, its copies'."""
        if self.parent is None:
            return ()
        return (self.parent.parent, *(name for name, _ in self.parent.embeds))

    @property
    def raw_table(self) -> str:
        return f"doorloop_raw_{self.name}"

    @property
    def date_filter_from(self) -> str:
        return f"filter_{self.date_filter}_from"

    @property
    def date_filter_to(self) -> str:
        return f"filter_{self.date_filter}_to"

    def date_params(self, start: str, end: str) -> dict[str, str]:
        """Query parameters selecting business dates ``start``..``end`` inclusive."""
        if not self.partitioned:
            raise ValueError(f"entity {self.name!r} is not partitioned by date")
        return {self.date_filter_from: start, self.date_filter_to: end}


def _transaction(name: str, path: str, date_field: str = "date", date_filter: str = "date") -> Entity:
    return Entity(name=name, path=path, date_field=date_field, date_filter=date_filter)


_ENTITIES: tuple[Entity, ...] = (
    Entity("accounts", "/accounts"),
    _transaction("communications", "/communications", date_field="sentAt", date_filter="sentAt"),
    _transaction("expenses", "/expenses"),
    _transaction("files", "/files", date_field="createdAt", date_filter="createdAt"),
    Entity("leases", "/leases"),
    _transaction("lease_charges", "/lease-charges"),
    _transaction("lease_credits", "/lease-credits"),
    _transaction("lease_payments", "/lease-payments"),
    _transaction("lease_reversed_payments", "/lease-reversed-payments"),
    Entity(
        "lease_tenants",
        "/leases/tenants",
        parent=ParentLink(
            parent="leases",
            field="lease",
            filter="filter_lease",
            embeds=(("tenants", "tenant"),),
            dated=(
                ("moveInAt", "filter_movedInAt_from", "filter_movedInAt_to"),
                ("moveOutAt", "filter_movedOutAt_from", "filter_movedOutAt_To"),
            ),
        ),
    ),
    _transaction("notes", "/notes", date_field="createdAt", date_filter="createdAt"),
    Entity("owners", "/owners"),
    Entity("portfolios", "/property-groups"),
    Entity("properties", "/properties"),
    Entity("tasks", "/tasks"),
    Entity("tenants", "/tenants"),
    Entity("units", "/units", list_params=MappingProxyType({"filter_active": "all"})),
    Entity("users", "/users"),
    Entity("vendors", "/vendors"),
    _transaction("vendor_bills", "/vendor-bills"),
    _transaction("vendor_credits", "/vendor-credits"),
)

ENTITIES: Mapping[str, Entity] = MappingProxyType({e.name: e for e in _ENTITIES})


@dataclass(frozen=True)
class DerivedEntity:
    """An entity DoorLoop has no endpoint for, read out of the raw records of a registry entity.

    Its raw object is a view over the ``source`` entity's raw table
    (``sql/raw/doorloop_raw_<name>.sql``), refreshed with it; its normalized tables are built
    from the source's raw records. ``selects`` says which of them, ``reason`` why there is no
    endpoint to read instead.
    """

    name: str
    source: str
    selects: str
    reason: str

    @property
    def raw_table(self) -> str:
        return f"doorloop_raw_{self.name}"

    @property
    def description(self) -> str:
        return f"View over raw {self.selects} ({self.reason})."


DERIVED_ENTITIES: Mapping[str, DerivedEntity] = MappingProxyType(
    {
        d.name: d
        for d in (
            DerivedEntity("work_orders", "tasks", "tasks of type WORK_ORDER", "DoorLoop has no work-order endpoint"),
        )
    }
)
assert all(d.source in ENTITIES and d.name not in ENTITIES for d in DERIVED_ENTITIES.values())
assert all(
    e.parent.parent in ENTITIES and all(name in ENTITIES for name, _ in e.parent.embeds)
    for e in ENTITIES.values()
    if e.parent is not None
)


def derived_from(entities: Iterable[Entity]) -> list[DerivedEntity]:
    """The derived entities whose source is one of ``entities``: loading those refreshes these."""
    names = {e.name for e in entities}
    return [d for d in DERIVED_ENTITIES.values() if d.source in names]


def entity(name: str) -> Entity:
    """Look an entity up by name, with an error that lists the valid names."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise KeyError(f"unknown DoorLoop entity {name!r}; known: {', '.join(sorted(ENTITIES))}") from None


def entity_for_path(path: str) -> Entity | None:
    """The entity served at a list path such as ``/leases/tenants`` (None if none)."""
    for e in _ENTITIES:
        if e.path == path:
            return e
    return None
