"""List query semantics of the sandbox: DoorLoop's ``filter_*`` parameters and ``sort_by``.

Filter names are DoorLoop's exact per-endpoint names (docs/doorloop.md), so a client that
misspells one gets unfiltered data here just as it would from DoorLoop. The date filters
of partitioned entities are not written here: they come from the registry
(``Entity.date_filter_from/_to`` on ``Entity.date_field``), so the client and the sandbox
cannot drift apart.

Filters match only dict records that carry the filtered field; a record that is not a
dict, or lacks the field, never matches (but with no filters every record is served).
Foreign keys are followed the way DoorLoop links records: units, leases and tasks name
their ``property``; owners are listed on ``property.owners[].owner``; portfolios list
their ``properties``; tenants reach leases and units only through ``/leases/tenants`` rows.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from altus_pipeline.doorloop.registry import ENTITIES, Entity, ParentLink
from altus_pipeline.sandbox.shapes import reference_id

Record = dict[str, Any]
Predicate = Callable[[Record], bool]


class FilterError(ValueError):
    """A filter or sort value the sandbox cannot read; answered with HTTP 400."""


class Related:
    """Foreign-key lookups across entities for one request, each index built on first use."""

    def __init__(self, records: Callable[[str], Sequence[Any]]) -> None:
        self._records = records
        self._indexes: dict[tuple[str, str, str], dict[str, set[str]]] = {}

    def linked(self, entity: str, via: str, ids: Iterable[str], target: str) -> set[str]:
        """The ``target`` ids of the ``entity`` records whose ``via`` field holds one of ``ids``."""
        index = self._index(entity, via, target)
        return set().union(*(index.get(i, set()) for i in ids))

    def _index(self, entity: str, via: str, target: str) -> dict[str, set[str]]:
        key = (entity, via, target)
        if key not in self._indexes:
            index: dict[str, set[str]] = {}
            for record in self._records(entity):
                targets = _ids(_collect(record, target))
                for source in _ids(_collect(record, via)):
                    index.setdefault(source, set()).update(targets)
            self._indexes[key] = index
        return self._indexes[key]


Link = Callable[[Record, Related], set[str]]
Expand = Callable[[str, Related], set[str]]
FilterFactory = Callable[[str, Related], Predicate]


def _collect(value: Any, path: str) -> list[Any]:
    """The values at a dotted ``path``, fanning out over lists (``lines.account``)."""
    values = [value]
    for key in path.split("."):
        values = list(_flatten(v[key] for v in values if isinstance(v, dict) and key in v))
    return values


def _flatten(values: Iterable[Any]) -> Iterable[Any]:
    for value in values:
        if isinstance(value, list):
            yield from value
        else:
            yield value


def _ids(values: Iterable[Any]) -> set[str]:
    """Ids in foreign-key values: plain id strings or embedded objects carrying an ``id``."""
    return {found for found in map(reference_id, values) if found is not None}


# --- links: which ids a record points at ---------------------------------------------------


def _path(path: str) -> Link:
    return lambda record, related: _ids(_collect(record, path))


def _join(start: Link, entity: str, via: str, target: str) -> Link:
    """Follow a foreign key through another entity (a payment's lease to its property)."""
    return lambda record, related: related.linked(entity, via, start(record, related), target)


def _either(*links: Link) -> Link:
    return lambda record, related: set().union(*(link(record, related) for link in links))


_OWN = _path("id")
_LEASE = _path("lease")
_PROPERTY = _path("property")
_LINE_PROPERTY = _path("lines.linkedToResourceId")
_LEASE_PROPERTY = _either(_PROPERTY, _join(_LEASE, "leases", "id", "property"))
_LEASE_UNIT = _either(_path("unit"), _join(_LEASE, "leases", "id", "units"))
_OWNER_PROPERTY = _join(_OWN, "properties", "owners.owner", "id")
_TENANT_ROW = {field: _join(_OWN, "lease_tenants", "tenant", field) for field in ("property", "lease", "units")}
_LEASE_TENANT = _either(_path("tenants"), _join(_OWN, "lease_tenants", "lease", "tenant"))


def _participants(field: str) -> Link:
    """A field of any communication participant (sender, recipients, copies)."""
    return _either(*(_path(f"{side}.{field}") for side in ("from", "to", "cc", "bcc")))


# --- filter factories ------------------------------------------------------------------------


def _itself(value: str, related: Related) -> set[str]:
    return {value}


def _group_properties(value: str, related: Related) -> set[str]:
    return related.linked("portfolios", "id", [value], "properties")


def _owner_properties(value: str, related: Related) -> set[str]:
    return related.linked("properties", "owners.owner", [value], "id")


def _class_properties(value: str, related: Related) -> set[str]:
    return related.linked("properties", "class", [value], "id")


def _has(link: Link, expand: Expand = _itself) -> FilterFactory:
    """Match records whose ``link`` ids meet the ids the filter value stands for."""

    def factory(value: str, related: Related) -> Predicate:
        wanted = expand(value, related)
        return lambda record: not wanted.isdisjoint(link(record, related))

    return factory


def _flag(field: str, *, allow_all: bool = False) -> FilterFactory:
    """``true``/``false`` on a boolean field (``all`` lifts the filter where DoorLoop allows it)."""

    def factory(value: str, related: Related) -> Predicate:
        if allow_all and value.lower() == "all":
            return lambda record: True
        wanted = parse_bool(value)
        return lambda record: record.get(field) is wanted

    return factory


def _positive(field: str) -> FilterFactory:
    """``true``/``false`` on "this amount is above zero" (open balance, open bills)."""

    def factory(value: str, related: Related) -> Predicate:
        wanted = parse_bool(value)
        return lambda record: _is_number(record.get(field)) and (record[field] > 0) is wanted

    return factory


def _greater_than(field: str) -> FilterFactory:
    def factory(value: str, related: Related) -> Predicate:
        try:
            bound = float(value)
        except ValueError:
            raise ValueError("expected a number") from None
        return lambda record: _is_number(record.get(field)) and record[field] > bound

    return factory


def _date_compare(path: str, accept: Callable[[date, date], bool]) -> FilterFactory:
    """Compare the date at ``path`` (dotted, e.g. ``insuranceInfo.expirationDate``) with the value."""

    def factory(value: str, related: Related) -> Predicate:
        bound = _parse_date_param(value)

        def predicate(record: Record) -> bool:
            days = (_as_utc_date(v) for v in _collect(record, path))
            return any(day is not None and accept(day, bound) for day in days)

        return predicate

    return factory


def _from(field: str) -> FilterFactory:
    return _date_compare(field, lambda day, bound: day >= bound)


def _to(field: str) -> FilterFactory:
    return _date_compare(field, lambda day, bound: day <= bound)


def _before(field: str) -> FilterFactory:
    return _date_compare(field, lambda day, bound: day < bound)


def _text(*paths: str) -> FilterFactory:
    """Case-insensitive substring on name-like fields."""

    def factory(value: str, related: Related) -> Predicate:
        needle = value.casefold()
        return lambda record: any(needle in text.casefold() for text in _strings(record, paths))

    return factory


def _strings(record: Record, paths: Sequence[str]) -> Iterable[str]:
    for path in paths:
        yield from (value for value in _collect(record, path) if isinstance(value, str))


def _task_status(value: str, related: Related) -> Predicate:
    """Task status, plus DoorLoop's ``NOT_COMPLETED`` meaning any status but COMPLETED."""
    if value == "NOT_COMPLETED":
        return lambda record: isinstance(record.get("status"), str) and record["status"] != "COMPLETED"
    return _has(_path("status"))(value, related)


def _assigned_to_user(value: str, related: Related) -> Predicate:
    """A user id among ``assignedToUsers``, or ``unassigned`` for tasks nobody holds."""
    if value == "unassigned":
        return lambda record: not record.get("assignedToUsers")
    return _has(_path("assignedToUsers"))(value, related)


def _lease_term(value: str, related: Related) -> Predicate:
    """Lease term, tolerant of DoorLoop's three spellings (``AtWill``, ``AT_WILL``, ``atwill``)."""
    wanted = _squash(value)
    return lambda record: isinstance(record.get("term"), str) and _squash(record["term"]) == wanted


def _squash(text: str) -> str:
    return text.replace("_", "").casefold()


# --- value parsing -----------------------------------------------------------------------------


def parse_bool(value: str) -> bool:
    """DoorLoop's boolean query values: ``true`` / ``false`` (any case)."""
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise ValueError("expected true or false")
    return lowered == "true"


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_date_param(value: str) -> date:
    day = _strict_date(value)
    if day is None:
        raise ValueError("expected a date YYYY-MM-DD")
    return day


def _strict_date(value: str) -> date | None:
    """``YYYY-MM-DD`` exactly (``fromisoformat`` alone would also take week dates).

    A regex then ``fromisoformat`` rather than ``strptime``: this runs for every record a
    date filter looks at, and ``strptime`` made large listings crawl.
    """
    if not _ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _as_utc_date(value: Any) -> date | None:
    """The business date of a record value: a ``YYYY-MM-DD`` date or the UTC day of a timestamp."""
    if not isinstance(value, str):
        return None
    if len(value) == 10:
        return _strict_date(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- per-endpoint filter tables (DoorLoop's names) -----------------------------------------------


def _scope(
    link: Link,
    *,
    prop: str | None = "filter_property",
    group: str | None = "filter_group",
    owner: str | None = "filter_owner",
) -> dict[str, FilterFactory]:
    """The property / portfolio / owner filters, all resolved through the record's properties."""
    names = ((prop, _itself), (group, _group_properties), (owner, _owner_properties))
    return {name: _has(link, expand) for name, expand in names if name is not None}


def _created_at() -> dict[str, FilterFactory]:
    return {"filter_createdAt_from": _from("createdAt"), "filter_createdAt_to": _to("createdAt")}


_PERSON_TEXT = _text("name", "fullName", "firstName", "lastName", "companyName", "emails.address")

_LEASE_TRANSACTION = {**_scope(_LEASE_PROPERTY, group=None), "filter_lease": _has(_LEASE)}
_LEASE_PAYMENT = {**_LEASE_TRANSACTION, "filter_paymentMethod": _has(_path("paymentMethod"))}
_VENDOR_BILL = {
    **_scope(_LINE_PROPERTY, owner=None),
    "filter_vendor": _has(_path("vendor")),
    "filter_due_date_from": _from("dueDate"),
    "filter_due_date_to": _to("dueDate"),
    "filter_openBills": _positive("totalBalance"),
}
_ATTACHMENT = {
    "filter_resourceId": _has(_path("linkedResource.resourceId")),
    "filter_createdBy": _has(_path("createdBy")),
    "filter_tags": _has(_path("tags")),
}

_FILTERS: dict[str, dict[str, FilterFactory]] = {
    "properties": {
        **_scope(_OWN, prop=None),
        "filter_text": _text("name"),
        "filter_class": _has(_path("class")),
    },
    "units": {
        **_scope(_PROPERTY),
        "filter_text": _text("name"),
        "filter_active": _flag("active", allow_all=True),
    },
    "leases": {
        **_scope(_PROPERTY),
        "filter_text": _text("name"),
        "filter_start_date_from": _from("start"),
        "filter_start_date_to": _to("start"),
        "filter_end_date_from": _from("end"),
        "filter_end_date_to": _to("end"),
        "filter_propertyClass": _has(_PROPERTY, _class_properties),
        "filter_unit": _has(_path("units")),
        "filter_tenant": _has(_LEASE_TENANT),
        "filter_outstandingBalanceGreaterThan": _greater_than("outstandingBalance"),
        "filter_status": _has(_path("status")),
        "filter_term": _lease_term,
    },
    "lease_tenants": {
        **_scope(_PROPERTY, owner=None),
        "filter_lease": _has(_LEASE),
        "filter_status": _has(_path("status")),
        "filter_text": _text("name"),
        "filter_movedInAt_from": _from("moveInAt"),
        "filter_movedInAt_to": _to("moveInAt"),
        "filter_movedOutAt_from": _from("moveOutAt"),
        "filter_movedOutAt_To": _to("moveOutAt"),
    },
    "tenants": {
        **_scope(_TENANT_ROW["property"], owner=None),
        "filter_lease": _has(_TENANT_ROW["lease"]),
        "filter_unit": _has(_TENANT_ROW["units"]),
        "filter_text": _PERSON_TEXT,
        "filter_type": _has(_path("type")),
    },
    "owners": {
        **_scope(_OWNER_PROPERTY, owner=None),
        "filter_active": _flag("active", allow_all=True),
        "filter_text": _PERSON_TEXT,
        "filter_management_ends_before": _before("managementEndDate"),
        **_created_at(),
    },
    "vendors": {
        "filter_property": _has(_path("properties")),
        "filter_active": _flag("active", allow_all=True),
        "filter_insurance_expires_before": _before("insuranceInfo.expirationDate"),
        "filter_openBalance": _positive("balance"),
        **_created_at(),
    },
    "tasks": {
        **_scope(_PROPERTY, group="filter_propertyGroup", owner=None),
        "filter_unit": _has(_path("unit")),
        "filter_type": _has(_path("type")),
        "filter_status": _task_status,
        **_created_at(),
        "filter_dueDate_from": _from("dueDate"),
        "filter_dueDate_to": _to("dueDate"),
        "filter_completedAt_from": _from("completedAt"),
        "filter_completedAt_to": _to("completedAt"),
        "filter_assignedToUser": _assigned_to_user,
        "filter_text": _text("subject", "description", "reference"),
        "filter_requestedById": _has(_either(*(_path(f"requestedBy{who}") for who in ("User", "Tenant", "Owner")))),
    },
    "lease_payments": _LEASE_PAYMENT,
    "lease_charges": {**_LEASE_TRANSACTION, "filter_unit": _has(_LEASE_UNIT)},
    "lease_credits": _LEASE_TRANSACTION,
    "lease_reversed_payments": _LEASE_PAYMENT,
    "expenses": {
        **_scope(_LINE_PROPERTY),
        "filter_vendor": _has(_path("payToResourceId")),
        "filter_tenant": _has(_path("payToResourceId")),
        "filter_payFromAccount": _has(_path("payFromAccount")),
    },
    "vendor_bills": _VENDOR_BILL,
    "vendor_credits": _VENDOR_BILL,
    "communications": {
        "filter_participantLinkedToType": _has(_participants("linkedToType")),
        "filter_participantLinkedToId": _has(_participants("linkedToId")),
        "filter_threadId": _has(_path("threadId")),
        "filter_status": _has(_path("status")),
        "filter_type": _has(_path("type")),
    },
    "notes": {**_ATTACHMENT, "filter_text": _text("title", "body")},
    "files": {**_ATTACHMENT, "filter_text": _text("name", "notes")},
}

#: Filters DoorLoop applies when the caller does not send them (units: active only).
_DEFAULTS: dict[str, dict[str, str]] = {"units": {"filter_active": "true"}}


def _registry_date_filters(entity: Entity) -> dict[str, FilterFactory]:
    if not entity.partitioned or entity.date_field is None:
        return {}
    return {entity.date_filter_from: _from(entity.date_field), entity.date_filter_to: _to(entity.date_field)}


def _build_filters() -> Mapping[str, Mapping[str, FilterFactory]]:
    unknown = (set(_FILTERS) | set(_DEFAULTS)) - set(ENTITIES)
    if unknown:
        raise RuntimeError(f"sandbox filters name entities missing from the registry: {sorted(unknown)}")
    return {name: {**_FILTERS.get(name, {}), **_registry_date_filters(e)} for name, e in ENTITIES.items()}


#: Every entity's filters by exact query-parameter name.
FILTERS: Mapping[str, Mapping[str, FilterFactory]] = _build_filters()


class ReadIndex(ABC):
    """One stored list of an entity's records, indexed by the filters the pipeline reads it by."""

    def __init__(self, records: Sequence[Any], filters: tuple[str, ...]) -> None:
        self.records = records
        self.filters = filters

    def covers(self, params: Mapping[str, str]) -> bool:
        """Whether a listing asked for with ``params`` filters by what this index holds."""
        return not params.keys().isdisjoint(self.filters)

    @abstractmethod
    def select(self, params: Mapping[str, str]) -> tuple[list[int], list[int]]:
        """Positions of the records ``params`` selects, and of those the index cannot judge."""


class DateIndex(ReadIndex):
    """A transaction entity's records by business date, so a dated listing bisects instead of
    parsing every record's date.

    A record whose date field is a list (fanned out by the filters) is kept aside and judged
    by the filters themselves, so the index changes how fast a listing is answered, never
    what it holds.
    """

    def __init__(self, records: Sequence[Any], field: str, filters: tuple[str, str]) -> None:
        super().__init__(records, filters)
        dated: list[tuple[date, int]] = []
        self._unsure: list[int] = []
        for position, record in enumerate(records):
            value = record.get(field) if isinstance(record, dict) else None
            if isinstance(value, list):
                self._unsure.append(position)
            elif (day := _as_utc_date(value)) is not None:
                dated.append((day, position))
        dated.sort()
        self._days = [day for day, _ in dated]
        self._positions = [position for _, position in dated]

    def select(self, params: Mapping[str, str]) -> tuple[list[int], list[int]]:
        since, until = (_parse_date_param(params[name]) if name in params else None for name in self.filters)
        low = 0 if since is None else bisect_left(self._days, since)
        high = len(self._days) if until is None else bisect_right(self._days, until)
        return self._positions[low:high], self._unsure


class ParentIndex(ReadIndex):
    """A child entity's records (lease tenant rows) by the parent they belong to, so a daily
    run's read of one changed parent's rows is a lookup instead of a pass over every row."""

    def __init__(self, records: Sequence[Any], link: ParentLink) -> None:
        super().__init__(records, (link.filter,))
        self._rows: dict[str, list[int]] = {}
        for position, record in enumerate(records):
            for parent in _ids(_collect(record, link.field)):
                self._rows.setdefault(parent, []).append(position)

    def select(self, params: Mapping[str, str]) -> tuple[list[int], list[int]]:
        return self._rows.get(params[self.filters[0]], []), []


def read_index(target: Entity, records: Sequence[Any]) -> ReadIndex | None:
    """The index of ``records`` by what the pipeline reads ``target`` by (the registry's date
    filter of a transaction, the parent filter of a child), as DoorLoop's database would have one;
    None for an entity read whole."""
    if target.partitioned and target.date_field is not None:
        return DateIndex(records, target.date_field, (target.date_filter_from, target.date_filter_to))
    if target.parent is not None:
        return ParentIndex(records, target.parent)
    return None


def apply_filters(
    entity: str,
    records: Sequence[Any],
    query: Mapping[str, str],
    related: Related,
    index: ReadIndex | None = None,
) -> list[Any]:
    """The records of ``entity`` that pass every known filter in ``query`` (unknown params ignored).

    ``index``, the ``read_index`` of these very ``records``, answers the filters it covers.
    """
    table = FILTERS[entity]
    params = {**_DEFAULTS.get(entity, {}), **query}
    predicates = {
        name: _predicate(name, value, table[name], related) for name, value in params.items() if name in table
    }
    if index is not None and index.covers(predicates):
        settled, unsure = index.select(params)
        others = [p for name, p in predicates.items() if name not in index.filters]
        every, unjudged = list(predicates.values()), set(unsure)
        return [
            records[i]
            for i in sorted(settled + unsure)
            if all(p(records[i]) for p in (every if i in unjudged else others))
        ]
    if not predicates:
        return list(records)
    return [r for r in records if isinstance(r, dict) and all(p(r) for p in predicates.values())]


def _predicate(name: str, value: str, factory: FilterFactory, related: Related) -> Predicate:
    try:
        return factory(value, related)
    except ValueError as exc:
        raise FilterError(f"{name}={value!r}: {exc}") from None


def sort_records(records: list[Any], sort_by: str | None, descending: bool) -> list[Any]:
    """Stable sort on one field; records lacking it sort first (last when descending).

    Without ``sort_by`` the stored order is kept (DoorLoop's default order is undocumented).
    Values of different types (a corrupt ``"12,50 USD"`` among numbers) are ordered by
    type first so a corrupt record never breaks the listing.
    """
    if not sort_by:
        return list(records)
    return sorted(records, key=lambda record: _sort_key(record, sort_by), reverse=descending)


def _sort_key(record: Any, field: str) -> tuple[Any, ...]:
    if not isinstance(record, dict) or field not in record or record[field] is None:
        return (0,)
    value = record[field]
    if isinstance(value, (int, float)):
        return (1, 0, value)
    if isinstance(value, str):
        return (1, 1, value)
    return (1, 2, repr(value))
