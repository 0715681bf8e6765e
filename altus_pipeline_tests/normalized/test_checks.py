"""The normalized layer's key, reference and enum checks catch what they guard.

While PostgreSQL enforces a key or a reference (a validated constraint), the checks count
only what the constraint leaves possible; once the constraint is gone they count over the
whole table again. Either way the figures are those of a plain count over the table.
"""

from __future__ import annotations

import pytest

from altus_pipeline.checks.normalized import _dangling_sql, normalized_checks
from altus_pipeline.checks.steps import Check
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.normalized.test_normalized import normalize_direct
from altus_pipeline_tests.support.raw import load_raw

PAYMENTS = "normalized_lease_payments"
LINES = "normalized_lease_charge_lines"


def _check(asset: str, name: str) -> Check:
    return next(c for c in normalized_checks if c.spec.asset_key.to_user_string() == asset and c.spec.name == name)


def _figures(check: Check, resource: WarehouseResource) -> tuple[bool, dict]:
    result = check(warehouse=resource)
    return result.passed, {k: v.value for k, v in result.metadata.items()}


def _scalar(wh: Warehouse, query, *params) -> object:
    with wh.connect() as conn:
        return conn.execute(query, params).fetchone()[0]


def _run(wh: Warehouse, *statements: str) -> None:
    with wh.connect() as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


@pytest.fixture
def normalized(warehouse, small_dataset) -> tuple[Warehouse, WarehouseResource]:
    load_raw(warehouse, small_dataset)
    normalize_direct(warehouse)
    return warehouse, WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema)


def test_a_link_to_a_row_gone_or_missing_dangles_with_or_without_its_foreign_key(normalized):
    wh, resource = normalized
    check = _check(PAYMENTS, "no_dangling_foreign_keys")
    passed, figures = _figures(check, resource)
    assert passed and set(figures.values()) == {0} and "dangling_lease_id" in figures

    lease, paid = _scalar(
        wh,
        f"SELECT array[lease_id::text, count(*)::text] FROM {PAYMENTS} GROUP BY lease_id ORDER BY count(*) DESC LIMIT 1",
    )
    _run(wh, f"UPDATE normalized_leases SET gone_at = now() WHERE id = '{lease}'")
    passed, figures = _figures(check, resource)
    assert not passed and figures["dangling_lease_id"] == int(paid) > 0
    assert sum(figures.values()) == int(paid)  # the other references still hold

    _run(
        wh,
        f"ALTER TABLE {PAYMENTS} DROP CONSTRAINT {PAYMENTS}_lease_id_fkey",
        f"UPDATE {PAYMENTS} SET lease_id = gen_random_uuid() WHERE id = "
        f"(SELECT id FROM {PAYMENTS} WHERE lease_id <> '{lease}' ORDER BY id LIMIT 1)",
    )
    passed, figures = _figures(check, resource)
    assert not passed and figures["dangling_lease_id"] == int(paid) + 1
    assert _scalar(wh, _dangling_sql(PAYMENTS, "lease_id", "normalized_leases")) == int(paid) + 1


def test_a_repeated_key_is_counted_once_the_primary_key_no_longer_holds_it(normalized):
    wh, resource = normalized
    check = _check(LINES, "primary_key_unique_non_null")
    passed, figures = _figures(check, resource)
    assert passed and figures == {"null_keys": 0, "duplicate_keys": 0, "enforced_by_primary_key": True}

    _run(
        wh,
        f"ALTER TABLE {LINES} DROP CONSTRAINT {LINES}_pkey",
        f"INSERT INTO {LINES} SELECT * FROM {LINES} ORDER BY lease_charge_id, line_number LIMIT 1",
    )
    passed, figures = _figures(check, resource)
    assert not passed and figures == {"null_keys": 0, "duplicate_keys": 1, "enforced_by_primary_key": False}


def test_each_enum_column_outside_its_domain_is_counted(normalized):
    wh, resource = normalized
    check = _check(PAYMENTS, "enum_domains")
    passed, figures = _figures(check, resource)
    assert passed and figures == {"outside_payment_method": 0, "outside_deposit_status": 0}

    _run(
        wh,
        f"ALTER TABLE {PAYMENTS} DROP CONSTRAINT {PAYMENTS}_payment_method_check",
        f"UPDATE {PAYMENTS} SET payment_method = 'BARTER' WHERE id IN (SELECT id FROM {PAYMENTS} ORDER BY id LIMIT 2)",
    )
    passed, figures = _figures(check, resource)
    assert not passed and figures == {"outside_payment_method": 2, "outside_deposit_status": 0}
