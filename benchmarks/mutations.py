"""Mutation check: does each test catch the break it claims to guard against?

Run: ``.venv/bin/python benchmarks/mutations.py [--only NAME ...] [--no-baseline]``
(with ``ALTUS_TEST_DATABASE_URL`` set, as for the tests).

The tree is copied to a scratch folder (the working tree is never edited). Each entry of
``BREAKS`` replaces one exact piece of text in one file of the copy, runs only the test
files that guard it against the copy (``PYTHONPATH`` and the working directory point at
it, so CLI subprocesses run the broken code too), then puts the file back. A break whose
tests fail is *caught*; one whose tests pass is *missed*. A baseline run of every listed
test file on the unbroken copy comes first, so a catch means the break, not a test that
already failed. Exit 1 when anything is missed or the baseline fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv", ".altus", "__pycache__", "*.egg-info", ".pytest_cache")
KPI = "altus_pipeline/kpi/snapshot.sql"
BOUNDARIES = ("altus_pipeline_tests/kpi/test_kpi_boundaries.py",)


@dataclass(frozen=True)
class Break:
    """One deliberate bug: ``old`` (found exactly once in ``path``) becomes ``new``."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


BREAKS: tuple[Break, ...] = (
    Break(
        "aging 61-95 / >95 instead of 61-90 / >90",
        KPI,
        "(2, 61, 90), (3, 91, NULL)",
        "(2, 61, 95), (3, 96, NULL)",
        BOUNDARIES,
    ),
    Break(
        "aging 0-29 / 30-60 instead of 0-30 / 31-60",
        KPI,
        "(0, 0, 30), (1, 31, 60)",
        "(0, 0, 29), (1, 30, 60)",
        BOUNDARIES,
    ),
    Break("expiring_30 excludes D + 30", KPI, 'greatest(start, "end" - 30)', 'greatest(start, "end" - 29)', BOUNDARIES),
    Break("expiring_90 reaches D + 91", KPI, 'greatest(start, "end" - 90)', 'greatest(start, "end" - 91)', BOUNDARIES),
    Break(
        "move-outs t12m include D - 365",
        KPI,
        "property_id, eff_end, eff_end + 364",
        "property_id, eff_end, eff_end + 365",
        BOUNDARIES,
    ),
    Break(
        "work orders t90 include D - 90",
        KPI,
        "w.completed_day > d.as_of_date - 90",
        "w.completed_day >= d.as_of_date - 90",
        BOUNDARIES,
    ),
    Break(
        "delinquency window includes D - 30",
        KPI,
        "RANGE BETWEEN interval '29 days' PRECEDING",
        "RANGE BETWEEN interval '30 days' PRECEDING",
        BOUNDARIES,
    ),
    Break(
        "month-to-date starts the day after the 1st",
        KPI,
        "WINDOW m AS (PARTITION BY pkey, date_trunc('month', date) ORDER BY date)",
        "WINDOW m AS (PARTITION BY pkey, date_trunc('month', date - 1) ORDER BY date)",
        BOUNDARIES,
    ),
    Break(
        "a balance still holds on the day of the lease's next movement",
        KPI,
        "least(coalesce(s.next_date - 1, %(end)s::date), %(end)s::date) AS hi",
        "least(coalesce(s.next_date, %(end)s::date), %(end)s::date) AS hi",
        BOUNDARIES,
    ),
    Break(
        "charges are left out of aging by the largest pool of the lease's steps, not the smallest",
        KPI,
        "SELECT lease_id, min(pool) AS pool FROM aged_steps",
        "SELECT lease_id, max(pool) AS pool FROM aged_steps",
        ("altus_pipeline_tests/kpi/test_kpis.py",),
    ),
    Break(
        "the history before the range also counts the range's first day",
        KPI,
        "FROM tx WHERE date < %(start)s::date GROUP BY lease_id",
        "FROM tx WHERE date <= %(start)s::date GROUP BY lease_id",
        ("altus_pipeline_tests/kpi/test_kpis.py", "altus_pipeline_tests/kpi/test_kpi_history.py"),
    ),
    Break(
        "a timestamp of DoorLoop's shape that the parser accepts skips the pattern without the round trip",
        "altus_pipeline/warehouse/casts.py",
        "WHEN to_char({s}::timestamptz AT TIME ZONE 'UTC', {format}) = {s} THEN true",
        "WHEN true THEN true",
        ("altus_pipeline_tests/warehouse/test_casts.py",),
    ),
    Break(
        "a step in the range forgets a reversal dated before it",
        KPI,
        "greatest(o.last_reversal, s.last_reversal) AS last_reversal",
        "s.last_reversal AS last_reversal",
        ("altus_pipeline_tests/kpi/test_kpis.py",),
    ),
    Break(
        "a kept connection is handed out without being scoped to the warehouse again",
        "altus_pipeline/warehouse/db.py",
        "_scope(conn, schema)\n            except psycopg.Error:",
        "conn.info\n            except psycopg.Error:",
        ("altus_pipeline_tests/warehouse/test_connections.py",),
    ),
    Break(
        "a connection is kept after its block raised",
        "altus_pipeline/warehouse/db.py",
        "conn.rollback()\n                conn.close()\n            raise",
        "conn.rollback()\n                _IDLE.give(self.url, self.schema, autocommit, conn)\n            raise",
        ("altus_pipeline_tests/warehouse/test_connections.py",),
    ),
    Break(
        "a forked child takes its parent's kept connections",
        "altus_pipeline/warehouse/db.py",
        "if self._pid != os.getpid():  # a forked child",
        "if False:  # a forked child",
        ("altus_pipeline_tests/warehouse/test_connections.py",),
    ),
    Break(
        "kept connections pile up past the cap",
        "altus_pipeline/warehouse/db.py",
        "closing += [c for _, c, _ in self._idle[: -self.KEEP]]  # the oldest beyond KEEP\n                del self._idle[: -self.KEEP]",
        "pass",
        ("altus_pipeline_tests/warehouse/test_connections.py",),
    ),
    Break(
        "a connection idle too long is still handed out",
        "altus_pipeline/warehouse/db.py",
        "self._idle = [entry for entry in self._idle if now - entry[2] <= self.MAX_IDLE_SECONDS]",
        "stale = []",
        ("altus_pipeline_tests/warehouse/test_connections.py",),
    ),
    Break(
        "a kept connection is handed to a block under other libpq settings",
        "altus_pipeline/warehouse/db.py",
        'if k.startswith("PG")',
        'if k.startswith("NOT_PG")',
        ("altus_pipeline_tests/warehouse/test_connections.py",),
    ),
    Break(
        "no connection is kept",
        "altus_pipeline/warehouse/db.py",
        "            raise\n        _IDLE.give(self.url, self.schema, autocommit, conn)",
        "            raise\n        conn.close()",
        ("altus_pipeline_tests/warehouse/test_connections.py",),
    ),
    Break(
        "rent roll picks the earliest-starting covering lease",
        "sql/views/get_full_rent_roll.sql",
        "ORDER BY lu.unit_id, c.start DESC, c.id",
        "ORDER BY lu.unit_id, c.start, c.id",
        ("altus_pipeline_tests/views/test_rent_roll.py",),
    ),
    Break(
        "rent roll balance leaves out payments",
        "sql/views/get_full_rent_roll.sql",
        "SELECT p.lease_id, -p.amount_received",
        "SELECT p.lease_id, 0 * p.amount_received",
        ("altus_pipeline_tests/views/test_rent_roll.py",),
    ),
    Break(
        "views refresh without CONCURRENTLY",
        "altus_pipeline/assets/views.py",
        'sql.SQL("CONCURRENTLY ") if populated[0] else sql.SQL("")',
        'sql.SQL("")',
        ("altus_pipeline_tests/views/test_views_concurrently.py",),
    ),
    Break(
        "a closed case may move to settled",
        "altus_pipeline/legal/phases.py",
        "    if current in CLOSED:\n",
        '    if current in CLOSED and not (current == "closed" and target == "settled"):\n',
        ("altus_pipeline_tests/legal/test_legal_terminal_phases.py",),
    ),
    Break(
        "a refused request's error names the token",
        "altus_pipeline/doorloop/client.py",
        "message = self._scrub(_error_message(response))",
        'message = f"{_error_message(response)} (token {self.token})"',
        ("altus_pipeline_tests/cli/test_token_never_leaks.py",),
    ),
    Break(
        "the sandbox ignores a shortened minute window",
        "altus_pipeline/sandbox/server.py",
        "config.rate_window_seconds, clock",
        "60.0, clock",
        ("altus_pipeline_tests/doorloop/test_sandbox_server.py::test_a_shortened_minute_window_clears_in_seconds",),
    ),
    Break(
        "a listing is never read ahead",
        "altus_pipeline/doorloop/client.py",
        "if read_ahead and collected < page.total and len(page.records) == self.page_size:",
        "if False:",
        (
            "altus_pipeline_tests/doorloop/test_client.py::test_the_next_pages_are_requested_while_the_caller_handles_this_one",
        ),
    ),
    Break(
        "a listing is read one page ahead, not two",
        "altus_pipeline/doorloop/client.py",
        "READ_AHEAD_PAGES = 2",
        "READ_AHEAD_PAGES = 1",
        (
            "altus_pipeline_tests/doorloop/test_client.py::test_the_next_pages_are_requested_while_the_caller_handles_this_one",
        ),
    ),
    Break(
        "a caller that stops cancels only the first page read ahead",
        "altus_pipeline/doorloop/client.py",
        "for unwanted in ahead:",
        "for unwanted in list(ahead)[:1]:",
        ("altus_pipeline_tests/doorloop/test_client.py::test_a_caller_that_stops_leaves_no_page_asking_again",),
    ),
    Break(
        "a page read ahead does not count its request",
        "altus_pipeline/doorloop/client.py",
        "stats.tally(requests=1)",
        "None",
        ("altus_pipeline_tests/doorloop/test_client.py::test_pages_read_ahead_count_every_request_and_retry",),
    ),
    Break(
        "a first load is staged, not copied into the empty table",
        "altus_pipeline/raw/load.py",
        "direct = not (plan and plan.incremental) and self._empty_for_this_load()",
        "direct = False",
        (
            "altus_pipeline_tests/raw/test_load_writes.py::test_a_first_load_listing_an_id_twice_fails_as_a_listing_that_moved",
        ),
    ),
    Break(
        "an asset's check step runs every check, not the ones selected",
        "altus_pipeline/checks/steps.py",
        "if c.spec.key not in context.selected_asset_check_keys:",
        "if False:",
        ("altus_pipeline_tests/dagster/test_check_steps.py::test_a_check_selected_alone_runs_alone",),
    ),
    Break(
        "altus dev's child inherits an ignored SIGINT",
        "altus_pipeline/cli/dev.py",
        "child = subprocess.Popen(command, cwd=cwd, preexec_fn=_interruptible)",
        "child = subprocess.Popen(command, cwd=cwd)",
        (
            "altus_pipeline_tests/dagster/test_dev_entry_points.py::test_a_sigterm_to_altus_dev_ends_every_process_it_started",
        ),
    ),
    Break(
        "the client retries a 429 without waiting out Retry-After",
        "altus_pipeline/doorloop/client.py",
        "wait = _retry_after(response)",
        "wait = 0.0",
        ("altus_pipeline_tests/doorloop/test_client.py::test_rate_limit_429_waits_out_retry_after",),
    ),
    Break(
        "ALTUS_UPDATE_SNAPSHOTS rewrites the snapshot in CI",
        "altus_pipeline_tests/dagster/test_asset_specs.py",
        '    if os.environ.get("CI"):\n',
        "    if False:\n",
        ("altus_pipeline_tests/dagster/test_asset_specs.py::test_ci_refuses_to_rewrite_the_snapshot",),
    ),
    Break(
        "an event template matches on equality alone (1 == 1.0)",
        "altus_pipeline/event_templates.py",
        "    kind = type(a)\n    if kind is not type(b):",
        "    return a == b\n    kind = type(a)\n    if kind is not type(b):",
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "a templated event keeps its template's timestamp",
        "altus_pipeline/event_templates.py",
        "json.dumps(event.timestamp))",
        "json.dumps(self.shape.timestamp))",
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "a templated partition is filled in unescaped",
        "altus_pipeline/instance_storage.py",
        "COALESCE(b.escaped, b.partition)",
        "b.partition",
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "every event of a batch gets the first event's set of tags",
        "altus_pipeline/instance_storage.py",
        "sets.setdefault(tagged, len(sets) + 1)",
        "sets.setdefault(tagged, 1)",
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "event tags paired with the batch's ids reversed",
        "altus_pipeline/instance_storage.py",
        "row_number() OVER (ORDER BY id)",
        "row_number() OVER (ORDER BY id DESC)",
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "a templated event is stored without its template's tags",
        "altus_pipeline/instance_storage.py",
        '                    "tags": template_tags,\n',
        '                    "tags": None,\n',
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "a batch stored as dagster-postgres stores it, tags in a second statement",
        "altus_pipeline/instance_storage.py",
        "        if not asset_events or not self.has_table(AssetEventTagsTable.name):",
        "        if True:",
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "a batch's statement sent to a storage without the tags table",
        "altus_pipeline/instance_storage.py",
        "        if not asset_events or not self.has_table(AssetEventTagsTable.name):",
        "        if not asset_events:",
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "a command's Dagster storage waits for the warehouse's migration",
        "altus_pipeline/cli/session.py",
        "        instance = dagster_instance(self._unmigrated)\n",
        "        instance = dagster_instance(self.warehouse)\n",
        ("altus_pipeline_tests/cli/test_session.py",),
    ),
    Break(
        "a command's instance handed out before the warehouse is migrated",
        "altus_pipeline/cli/session.py",
        "        self._migration.result()\n        return instance\n",
        "        return instance\n",
        ("altus_pipeline_tests/cli/test_session.py",),
    ),
    Break(
        "every event notified again",
        "altus_pipeline/instance_storage.py",
        "            event_id = conn.execute(insert).scalar_one()\n",
        '            event_id = conn.execute(insert).scalar_one()\n            conn.execute(sqlalchemy.text("NOTIFY run_events"))\n',
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "the run storage opens a connection per call",
        "altus_pipeline/instance_storage.py",
        "        self._run_storage.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=20)\n",
        "",
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "the warehouse resource migrates again after the command did",
        "altus_pipeline/warehouse/migrations.py",
        "    if (warehouse.url, warehouse.schema) not in _MIGRATED:",
        "    if True:",
        (
            "altus_pipeline_tests/warehouse/test_warehouse.py::test_a_run_after_the_commands_migration_does_not_migrate_again",
        ),
    ),
    Break(
        "a template made for every event unlike the one before",
        "altus_pipeline/instance_storage.py",
        "if filling is None and alone is not None and alike(alone[0], event):",
        "if filling is None and alone is not None:",
        ("altus_pipeline_tests/dagster/test_event_log_storage.py",),
    ),
    Break(
        "the collector's last pass over everything at exit",
        "altus_pipeline/cli/main.py",
        "atexit.register(gc.freeze)\n",
        "pass\n",
        ("altus_pipeline_tests/cli/test_startup.py",),
    ),
    Break(
        "a command collects its young garbage every 700 allocations",
        "altus_pipeline/cli/main.py",
        "    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])\n",
        "",
        ("altus_pipeline_tests/cli/test_startup.py",),
    ),
    Break(
        "loading the Definitions imports pandas",
        "altus_pipeline/legal/export.py",
        "import psycopg\nfrom psycopg import sql\n",
        "import pandas  # noqa: F401\nimport psycopg\nfrom psycopg import sql\n",
        ("altus_pipeline_tests/cli/test_startup.py",),
    ),
    Break(
        "two warehouses in one database share their writers' turns",
        "altus_pipeline/warehouse/locks.py",
        "%s || ':' || current_schema() || '.' || %s",
        "%s || ':' || %s",
        ("altus_pipeline_tests/warehouse/test_locks.py",),
    ),
    Break(
        "the reference check trusts a foreign key that was dropped",
        "altus_pipeline/checks/normalized.py",
        "fk_backed=(c, t) in keys",
        "fk_backed=True",
        ("altus_pipeline_tests/normalized/test_checks.py",),
    ),
    Break(
        "the key check trusts a primary key that was dropped",
        "altus_pipeline/checks/normalized.py",
        "keyed = enforced(conn, asset).primary_key == tuple(key)",
        "keyed = True",
        ("altus_pipeline_tests/normalized/test_checks.py",),
    ),
    Break(
        "a soft delete leaves last_changed_at where it was",
        "altus_pipeline/raw/load.py",
        "SET deleted_at = now(), last_changed_at = now(), last_run_id",
        "SET deleted_at = now(), last_run_id",
        ("altus_pipeline_tests/raw/test_load_writes.py",),
    ),
    Break(
        "a first load leaves its foreign keys and indexes dropped",
        "altus_pipeline/warehouse/constraints.py",
        "    for _, create, *_ in statements:",
        "    for _, create, *_ in statements[:0]:",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load adds its foreign keys back without validating them",
        "altus_pipeline/warehouse/constraints.py",
        "t.relname, c.conname, pg_get_constraintdef(c.oid))",
        "t.relname, c.conname, pg_get_constraintdef(c.oid) || ' NOT VALID')",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load leaves its secondary indexes dropped",
        "altus_pipeline/warehouse/constraints.py",
        "SELECT format('DROP INDEX %%I', c.relname), pg_get_indexdef(i.indexrelid)",
        "SELECT format('DROP INDEX %%I', c.relname), 'SELECT 1'",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a normalize into a table that holds rows takes the first load's exclusive locks",
        "altus_pipeline/normalized/transform.py",
        '        if self._x(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(t.name))).fetchone()[0]:\n'
        "            return False\n",
        "",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load of a few rows takes the exclusive locks",
        "altus_pipeline/normalized/transform.py",
        "        if live_rows < FIRST_LOAD_ROWS:",
        "        if live_rows < 0:",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load drops a primary key another table's foreign key relies on",
        "altus_pipeline/warehouse/constraints.py",
        "AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid)",
        "",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load leaves its primary keys dropped",
        "altus_pipeline/warehouse/constraints.py",
        "       format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', t.relname, k.conname, pg_get_constraintdef(k.oid)),",
        "       CASE k.contype WHEN 'p' THEN 'SELECT 1' ELSE "
        "format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', t.relname, k.conname, pg_get_constraintdef(k.oid)) END,",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load leaves its unique keys dropped",
        "altus_pipeline/warehouse/constraints.py",
        "format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', t.relname, k.conname, pg_get_constraintdef(k.oid))",
        "'SELECT 1'",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load reports a record's last bad element instead of its first",
        "altus_pipeline/normalized/transform.py",
        '"ORDER BY {parent_id}, {order}) {e} ON',
        '"ORDER BY {parent_id}, src DESC, ord DESC) {e} ON',
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load keeps the payloads of its valid rows instead of its rejected rows'",
        "altus_pipeline/normalized/transform.py",
        '"CASE WHEN {} IS NOT NULL THEN c.payload END"',
        '"CASE WHEN {} IS NULL THEN c.payload END"',
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load drops the payloads a junction's pending references are read from",
        "altus_pipeline/normalized/transform.py",
        "read_again = not first_load or any(ch.pending_from_payloads for ch in children)",
        "read_again = not first_load",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a row with a dangling reference records its resolved references pending too",
        "altus_pipeline/normalized/transform.py",
        '"({}, {}, CASE WHEN {} THEN c.{} END)"',
        '"({}, {}, CASE WHEN {} OR true THEN c.{} END)"',
        ("altus_pipeline_tests/normalized/test_normalized.py", "altus_pipeline_tests/normalized/test_first_load.py"),
    ),
    Break(
        "a line whose optional reference dangles is not recorded pending",
        "altus_pipeline/normalized/transform.py",
        '"WHERE s.{ref} IS NOT NULL AND s.{col} IS NULL"',
        '"WHERE s.{ref} IS NOT NULL AND s.{col} IS NOT NULL"',
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load lets raw loads of its table write while it types the rows",
        "altus_pipeline/normalized/transform.py",
        'self._x(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(t.raw_table)))',
        "pass",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load's layered elements type every field as the element's own JSON type",
        "altus_pipeline/normalized/transform.py",
        """sql.SQL("({j} #>> '{{}}') AS {s}, jsonb_typeof({j}) AS {t}").format(
                    j=j, s=sql.Identifier(f"s{i}"), t=sql.Identifier(f"t{i}")
                )
            )
            if refers:""",
        """sql.SQL("({j} #>> '{{}}') AS {s}, jsonb_typeof(e.v) AS {t}").format(
                    j=j, s=sql.Identifier(f"s{i}"), t=sql.Identifier(f"t{i}")
                )
            )
            if refers:""",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a first load's layered elements forget the checks of references that dangle",
        "altus_pipeline/normalized/transform.py",
        "err=_first_error(flat.errors + flat.later),",
        "err=_first_error(flat.errors),",
        ("altus_pipeline_tests/normalized/test_first_load.py",),
    ),
    Break(
        "a settled re-run reads again every row with a junction or line row",
        "altus_pipeline/normalized/transform.py",
        '"JOIN {name} n ON n.id = j.{parent} WHERE x.{gone} IS NOT NULL"',
        '"JOIN {name} n ON n.id = j.{parent} WHERE x.{gone} IS NOT NULL OR true"',
        ("altus_pipeline_tests/normalized/test_normalized.py",),
    ),
    Break(
        "a split page's record texts are its values serialized again, not the texts sent",
        "altus_pipeline/doorloop/envelope.py",
        'texts = [str(item, "utf-8") for item in items]',
        'texts = [json.dumps(value, separators=(",", ":")) for value in fields[key]]',
        ("altus_pipeline_tests/doorloop/test_envelope.py",),
    ),
    Break(
        "a page msgspec refuses is refused, not read by the standard library",
        "altus_pipeline/doorloop/envelope.py",
        "except msgspec.DecodeError:  # what msgspec refuses, the standard library judges\n            pass",
        "except msgspec.DecodeError as exc:\n            raise json.JSONDecodeError(str(exc), '', 0) from None",
        ("altus_pipeline_tests/doorloop/test_envelope.py",),
    ),
    Break(
        "every page is walked by the standard library's scanner",
        "altus_pipeline/doorloop/envelope.py",
        'if codecs.lookup(encoding).name == "utf-8":',
        "if False:",
        ("altus_pipeline_tests/doorloop/test_envelope.py",),
    ),
    Break(
        "a sync's failed migration on its thread is not raised",
        "altus_pipeline/cli/session.py",
        "        self._migration.result()\n        return self._unmigrated\n",
        "        return self._unmigrated\n",
        ("altus_pipeline_tests/cli/test_session.py",),
    ),
    Break(
        "the normalizer's fast uuid5 sets the wrong version",
        "altus_pipeline/normalized/spec.py",
        "(key[6] & 0x0F) | 0x50",
        "(key[6] & 0x0F) | 0x40",
        ("altus_pipeline_tests/normalized/test_normalized.py",),
    ),
    Break(
        "a daily read of lease tenants ignores the tenants that changed",
        "altus_pipeline/raw/incremental.py",
        "    for name, key in link.embeds:\n        changed.append(",
        "    for name, key in ():\n        changed.append(",
        (
            "altus_pipeline_tests/raw/test_incremental_master.py::test_lease_tenants_are_read_by_the_leases_and_tenants_that_changed",
        ),
    ),
    Break(
        "a lease read whole keeps the rows it no longer lists",
        "altus_pipeline/raw/load.py",
        "if parents or (soft_delete and",
        "if (soft_delete and",
        (
            "altus_pipeline_tests/raw/test_incremental_master.py::test_lease_tenants_are_read_by_the_leases_and_tenants_that_changed",
        ),
    ),
    Break(
        "rows whose move date passed are not read",
        "altus_pipeline/raw/incremental.py",
        "    if first > today:  # read today already",
        "    if first <= today:  # read today already",
        (
            "altus_pipeline_tests/raw/test_incremental_master.py::test_lease_tenants_whose_move_date_passed_are_read_by_that_date",
        ),
    ),
    Break(
        "lease tenants read by lease even when one full read costs no more",
        "altus_pipeline/raw/incremental.py",
        "if requests >= math.ceil(live / page_size):",
        "if requests > math.ceil(live / page_size):",
        (
            "altus_pipeline_tests/raw/test_incremental_master.py::test_a_daily_run_without_changes_makes_one_request_per_entity",
        ),
    ),
    Break(
        "lease tenants loaded before the leases they follow",
        "altus_pipeline/assets/raw.py",
        "deps=[ENTITIES[name].raw_table for name in entity.read_after],",
        "deps=[],",
        (
            "altus_pipeline_tests/raw/test_incremental_master.py::test_a_daily_run_loads_the_leases_before_the_lease_tenants_that_follow_them",
        ),
    ),
    Break(
        "the sandbox stamps no lease when its tenants are edited",
        "altus_pipeline/sandbox/server.py",
        "self._stamp(link.parent, touched)",
        "touched.clear()",
        (
            "altus_pipeline_tests/doorloop/test_sandbox_server.py::test_a_lease_tenant_change_goes_through_its_lease_and_its_tenant",
            "altus_pipeline_tests/raw/test_incremental_master.py::test_lease_tenants_are_read_by_the_leases_and_tenants_that_changed",
        ),
    ),
    Break(
        "the generator piles late edits onto as_of's last millisecond",
        "altus_pipeline/sandbox/generator.py",
        "updated = created + (edited % room if edited > room > timedelta(0) else min(edited, room))",
        "updated = created + min(edited, room)",
        (
            "altus_pipeline_tests/doorloop/test_generator.py::test_the_newest_edits_are_spread_over_time_as_an_accounts_are",
        ),
    ),
    Break(
        "the sandbox's date index keeps serving the records a change replaced",
        "altus_pipeline/sandbox/server.py",
        "if index.records is not records:",
        "if False:",
        (
            "altus_pipeline_tests/doorloop/test_sandbox_server.py::test_a_dated_listing_holds_every_record_of_its_utc_days_in_stored_order",
        ),
    ),
    Break(
        "the sandbox's date index leaves out the first day of a range",
        "altus_pipeline/sandbox/filters.py",
        "low = 0 if since is None else bisect_left(self._days, since)",
        "low = 0 if since is None else bisect_right(self._days, since)",
        (
            "altus_pipeline_tests/doorloop/test_sandbox_server.py::test_a_dated_listing_holds_every_record_of_its_utc_days_in_stored_order",
        ),
    ),
    Break(
        "the sandbox's date index lets through a record of many dates unjudged",
        "altus_pipeline/sandbox/filters.py",
        "(every if i in unjudged else others)",
        "(others)",
        (
            "altus_pipeline_tests/doorloop/test_sandbox_server.py::test_a_dated_listing_holds_every_record_of_its_utc_days_in_stored_order",
        ),
    ),
    Break(
        "the sandbox's parent index reads a row's parent only as a bare id",
        "altus_pipeline/sandbox/filters.py",
        "for parent in _ids(_collect(record, link.field)):",
        "for parent in [record.get(link.field)] if isinstance(record, dict) else []:",
        (
            "altus_pipeline_tests/doorloop/test_sandbox_server.py::test_a_parents_rows_are_those_naming_it_in_either_shape_in_stored_order",
        ),
    ),
    Break(
        "the sandbox's parent index drops the listing's other filters",
        "altus_pipeline/sandbox/filters.py",
        "(every if i in unjudged else others)",
        "(every if i in unjudged else [])",
        (
            "altus_pipeline_tests/doorloop/test_sandbox_server.py::test_a_parents_rows_are_those_naming_it_in_either_shape_in_stored_order",
        ),
    ),
    Break(
        "a sync's records count a derived view's rows",
        "altus_pipeline/cli/report.py",
        'for key in ("rows_listed", "rows_written", "dagster/row_count"):\n        if any(key in m for m in metas):',
        'for key in ("dagster/row_count",):\n        if any(key in m for m in metas):',
        (
            "altus_pipeline_tests/cli/test_cli_output.py::test_a_syncs_records_are_those_it_listed_not_the_rows_a_derived_view_holds",
        ),
    ),
)


def run_tests(tree: Path, tests: tuple[str, ...]) -> tuple[int, float, str]:
    """Run pytest on ``tests`` inside ``tree``; the exit code, the seconds and the summary line."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, time.monotonic() - started, lines[-1] if lines else done.stderr.strip()[-200:]


def check_copy_is_imported(tree: Path) -> None:
    """The copy, not the editable install of the working tree, must be what the tests import."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    where = subprocess.run(
        [sys.executable, "-c", "import altus_pipeline; print(altus_pipeline.__file__)"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(where).is_relative_to(tree):
        raise SystemExit(f"the tests would import {where}, not the scratch copy under {tree}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only the breaks whose name contains one of these")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run on the unbroken copy")
    args = parser.parse_args()
    breaks = [b for b in BREAKS if not args.only or any(o in b.name for o in args.only)]
    with tempfile.TemporaryDirectory(prefix="altus-mutations-") as scratch:
        tree = Path(scratch) / "tree"
        shutil.copytree(REPO, tree, ignore=SKIP)
        check_copy_is_imported(tree)
        for b in breaks:
            if (tree / b.path).read_text().count(b.old) != 1:
                raise SystemExit(f"{b.name}: the text to break is not in {b.path} exactly once")
        failed = 0
        if not args.no_baseline:
            files = tuple(dict.fromkeys(t for b in breaks for t in b.tests))
            code, seconds, summary = run_tests(tree, files)
            print(f"baseline (no break): {'ok' if code == 0 else 'FAILED'} in {seconds:.0f}s: {summary}", flush=True)
            failed += code != 0
        for b in breaks:
            target = tree / b.path
            original = target.read_text()
            target.write_text(original.replace(b.old, b.new))
            try:
                code, seconds, summary = run_tests(tree, b.tests)
            finally:
                target.write_text(original)
            verdict = "caught" if code == 1 else "MISSED" if code == 0 else f"caught? (pytest exit {code})"
            failed += code != 1
            print(f"{verdict:8} {b.name} [{b.path}] in {seconds:.0f}s: {summary}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
