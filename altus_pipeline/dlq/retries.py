"""What the DLQ sensor plans: due records become partitioned ``RunRequest``s.

Each tick reads the due records (``statements.due_groups``), grouped by the asset
partition (or partition range) a run must rebuild — the raw asset's partition for
extract and validate records, the normalized table's asset for normalize records — and
requests one run per group (normalize records: the raw rows they came from, then their
table). The records are marked ``retrying`` in the same transaction
(transient ones get a lease), so the next tick does not request them again; the run key
(asset, partition, attempts, schedule generation) makes each request idempotent for the
daemon as well.

When raw records were resolved since the last tick (a retry succeeded), one run brings
what is downstream of raw up to date: the normalized tables (incremental: cheap when
little changed), the KPI partitions of the daily window and the views. The cursor is that
resolution watermark, plus the tick's counts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg

from altus_pipeline.dlq.model import RetryPolicy
from altus_pipeline.dlq.statements import DueGroup, due_groups, mark_requested, payloads_field, resolved_since
from altus_pipeline.doorloop.registry import ENTITIES, Entity
from altus_pipeline.normalized.spec import TABLES
from altus_pipeline.partitions import clip_range, full_range, range_tags, reconcile_tags
from altus_pipeline.raw.load import business_date
from altus_pipeline.schedules import DOWNSTREAM_GROUPS, daily_window

RETRY_TAG = "altus/dlq_retry"
_RAW_BY_TABLE = {e.raw_table: e for e in ENTITIES.values()}


def _ranged(request_tags: dict[str, str], first: dt.date | str, last: dt.date | str) -> dict[str, str]:
    return {**request_tags, **range_tags(first, last)}


def _payload_dates(conn, entity: Entity, ids: tuple[int, ...]) -> tuple[str, str] | None:
    """First and last business date of the records' payloads (partitions of their raw rows)."""
    days = sorted(d for d in (business_date(v) for v in payloads_field(conn, ids, entity.date_field)) if d is not None)
    window = clip_range(days[0], days[-1]) if days else None  # a date before the partitions or in the future
    return (window[0].isoformat(), window[1].isoformat()) if window else None


def run_request(conn, group: DueGroup) -> dg.RunRequest | None:
    """The run that retries ``group``; None when its asset is not one this code location has.

    Extract and validate records rebuild their raw asset's partition (range); those of a
    partitioned asset that belong to no partition (a record without a usable business
    date, a failed reconcile) are retried by a reconcile of that asset, the only listing
    that can see them. Normalize records rebuild their table *after* re-reading its raw
    rows (the raw partitions of the records' business dates, or the snapshot), so a record
    fixed upstream loads.
    """
    tags = {RETRY_TAG: "true", "altus/dlq_records": ",".join(str(i) for i in group.record_ids[:40])}
    if group.stage == "normalize":
        table = TABLES.get(group.asset_key)
        if table is None:
            return None
        entity = _RAW_BY_TABLE.get(table.raw_table)
        keys = [dg.AssetKey(name) for name in table.objects]  # a table and its children are one step
        if entity is None:
            return dg.RunRequest(run_key=group.run_key, asset_selection=keys, tags=tags)
        keys.insert(0, dg.AssetKey(table.raw_table))
        if not entity.partitioned:
            return dg.RunRequest(run_key=group.run_key, asset_selection=keys, tags=tags)
        dates = _payload_dates(conn, entity, group.record_ids)
        if dates is None:  # no usable date: normalize again from what raw holds
            return dg.RunRequest(run_key=group.run_key, asset_selection=keys[1:], tags=tags)
        return dg.RunRequest(run_key=group.run_key, asset_selection=keys, tags=_ranged(tags, *dates))
    entity = _RAW_BY_TABLE.get(group.asset_key)
    if entity is None:
        return None
    keys = [dg.AssetKey(group.asset_key)]
    if not entity.partitioned:
        return dg.RunRequest(run_key=group.run_key, asset_selection=keys, tags=tags)
    if not group.partition_key:
        return dg.RunRequest(run_key=group.run_key, asset_selection=keys, tags={**tags, **reconcile_tags()})
    first, _, last = group.partition_key.partition("...")
    window = clip_range(first, last or first)
    if window is None:  # no longer a partition (ALTUS_PARTITION_START moved on): only a reconcile lists it
        return dg.RunRequest(run_key=group.run_key, asset_selection=keys, tags={**tags, **reconcile_tags()})
    if last:
        return dg.RunRequest(run_key=group.run_key, asset_selection=keys, tags=_ranged(tags, *window))
    return dg.RunRequest(run_key=group.run_key, asset_selection=keys, partition_key=first, tags=tags)


def _cursor(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        value = {}
    return value if isinstance(value, dict) else {}


def evaluate(conn, cursor: str | None, downstream: Downstream) -> tuple[list[dg.RunRequest], str, list[str]]:
    """One tick against an open connection (the caller commits): requests, new cursor, log lines."""
    state = _cursor(cursor)
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    requested_ids: list[int] = []
    for group in due_groups(conn):
        request = run_request(conn, group)
        if request is None:
            notes.append(f"skipped {group.asset_key} {group.partition_key}: not an asset of this code location")
            continue
        requests.append(request)
        requested_ids.extend(group.record_ids)
    if requested_ids:
        mark_requested(conn, requested_ids, RetryPolicy.from_env())
    # raw failures resolved since the last tick: bring what is downstream of raw up to date
    since = state.get("resolved_since")
    watermark, resolved, first_day, tables = resolved_since(conn, since)
    if resolved and since is not None:
        request = downstream.request(sorted(tables), watermark, first_day)
        if request is not None:
            requests.append(request)
            notes.append(f"{resolved} raw record(s) resolved: run requested for what is downstream of them")
    new_state = {
        # the first tick starts from the beginning of time (0) when nothing was resolved yet
        "resolved_since": watermark if watermark is not None else (since if since is not None else 0),
        "requested": len(requests),
    }
    return requests, json.dumps(new_state, sort_keys=True), notes


@dataclass(frozen=True)
class Downstream:
    """What a resolved raw failure makes stale: the normalized tables, KPIs and views below
    its raw asset (a multi-asset whole, as it cannot be subset).

    Partitioned ones (KPIs) are rebuilt for the daily window ending today, widened back to
    the first day of the resolved records.
    """

    below: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # raw table -> downstream keys
    partitioned: frozenset[str] = frozenset()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for keys in self.below.values() for k in keys))

    @classmethod
    def of(cls, assets: list) -> Downstream:
        defs_of = [a for a in assets if isinstance(a, dg.AssetsDefinition)]
        wanted = {s.key for a in defs_of for s in a.specs if s.group_name in DOWNSTREAM_GROUPS}
        order = {
            k: i
            for i, k in enumerate(
                s.key for g in DOWNSTREAM_GROUPS for a in defs_of for s in a.specs if s.group_name == g
            )
        }
        siblings = {s.key: [t.key for t in a.specs] for a in defs_of for s in a.specs}
        children: dict[dg.AssetKey, set[dg.AssetKey]] = {}
        for a in defs_of:
            for spec in a.specs:
                for dep in spec.deps:
                    children.setdefault(dep.asset_key, set()).add(spec.key)
        below = {}
        for entity in ENTITIES.values():
            seen: set[dg.AssetKey] = set()
            todo = [dg.AssetKey(entity.raw_table)]
            while todo:
                for child in children.get(todo.pop(), ()):
                    for key in siblings.get(child, [child]):
                        if key in wanted and key not in seen:
                            seen.add(key)
                            todo.append(key)
            below[entity.raw_table] = tuple(k.to_user_string() for k in sorted(seen, key=order.__getitem__))
        partitioned = frozenset(
            s.key.to_user_string() for a in defs_of for s in a.specs if s.key in wanted and s.partitions_def is not None
        )
        return cls(below, partitioned)

    def request(self, raw_tables: list[str], watermark: int, first_day: str | None) -> dg.RunRequest | None:
        keys = list(dict.fromkeys(k for t in raw_tables for k in self.below.get(t, ())))
        if not keys:
            return None
        tags = {RETRY_TAG: "true"}
        if self.partitioned.intersection(keys):
            start, end = daily_window(dt.datetime.now(dt.UTC).date())
            if first_day:
                start = min(start, max(dt.date.fromisoformat(first_day), full_range()[0]))
            tags.update(range_tags(start, end))
        return dg.RunRequest(
            run_key=f"dlq:downstream:{watermark}", asset_selection=[dg.AssetKey(k) for k in keys], tags=tags
        )
