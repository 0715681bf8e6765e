"""What every normalized table holds: the one place its columns are declared.

Each :class:`Table` is fed from one raw table (a registry entity) and names, column by
column, the DoorLoop key it reads, its type and whether it is required. From these specs
come the DDL files under ``sql/normalized/`` (``altus_pipeline.normalized.ddl`` renders
them; a test keeps the files in step), the transform SQL (``transform.py``), the Dagster
assets and their checks. Personal identifiers (SSN, driver's licence, taxpayer ids, bank
and card numbers, screening ids, date of birth) are simply never declared, so no column
can carry them.

Column kinds: ``text``, ``enum`` (text checked against ``domain``), ``date``,
``timestamptz``, ``money`` (``numeric(14,2)``, rounded half-up), ``numeric``, ``integer``,
``boolean``, ``jsonb``, ``ref`` (the target's uuid, a real foreign key) and ``ref_id`` (the
DoorLoop id a reference names, as text). DoorLoop sends a reference as a bare id string or
as an embedded object carrying ``id``, and not always the same way for the same field
(``docs/doorloop.md#references-in-either-shape``): both kinds read either shape as the same
reference. A reference is ``required`` (missing or dangling rejects the record),
``strict`` (may be absent, but a dangling one rejects the record) or ``optional`` (a
dangling one is kept as NULL and recorded in ``normalized_pending_references`` until its
target arrives); rejected records count in no KPI (``docs/kpis.md#general-rules``). A
reference may point at its own table (``accounts.parentAccount``). A polymorphic link (``linkedResource``,
``payToResource``) becomes one reference column per target type, each read only ``when``
the type field names that target; types with no table keep just the DoorLoop id.

Inverse links are stored once, on the side DoorLoop treats as the owner of the link:
``owners.properties`` is ``property_owners`` read from ``property.owners[]``, and
``leasePayment.reversedPayment`` is ``lease_reversed_payments.lease_payment_id``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from altus_pipeline.doorloop.registry import DERIVED_ENTITIES, ENTITIES

# Fixed forever: changing it changes every key in the warehouse.
NAMESPACE = uuid.UUID("5b0d6f0e-3c1a-5e4b-9a57-a1705000d00f")
PREFIX = "normalized_"
KINDS = frozenset(
    {"text", "enum", "date", "timestamptz", "money", "numeric", "integer", "boolean", "jsonb", "ref", "ref_id"}
)
# Kinds that read a reference (a bare id or an object carrying ``id``): the sandbox serves them in either shape.
REFERENCE_KINDS = frozenset({"ref", "ref_id"})
REF_MODES = frozenset({"required", "strict", "optional"})


def key_of(entity: str, doorloop_id: str) -> uuid.UUID:
    """The normalized key of a DoorLoop record: uuid5 of the entity and its DoorLoop id."""
    return uuid.uuid5(NAMESPACE, f"{entity}:{doorloop_id}")


_KEY_HASH = hashlib.sha1(NAMESPACE.bytes, usedforsecurity=False)  # uuid5's hash, the namespace hashed once


def key_hex(entity: str, doorloop_id: str) -> str:
    """``key_of`` as 32 hex digits, which PostgreSQL reads as a uuid.

    The normalizer computes a key for every record it copies in (millions on a first load):
    this is uuid5 without building a ``UUID`` (a quarter of the time), the same bytes.
    """
    digest = _KEY_HASH.copy()
    digest.update(f"{entity}:{doorloop_id}".encode())
    key = bytearray(digest.digest()[:16])
    key[6] = (key[6] & 0x0F) | 0x50  # version 5
    key[8] = (key[8] & 0x3F) | 0x80  # the RFC 4122 variant
    return key.hex()


def snake(name: str) -> str:
    """``marketRent`` → ``market_rent``; ``address.street1`` → ``address_street1``."""
    name = name.replace(".", "_")
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@dataclass(frozen=True)
class Column:
    """One typed column and the JSON path (in the record, or in an array element) it reads."""

    name: str
    kind: str
    path: tuple[str, ...]
    required: bool = False
    domain: tuple[str, ...] = ()
    target: str | None = None  # ref: the normalized table referenced
    mode: str = "optional"  # ref: required | strict | optional
    when: tuple[tuple[str, ...], str] | None = None  # read only when the value at this path equals this

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert self.kind != "ref" or (self.target and self.mode in REF_MODES), self
        assert self.kind != "enum" or self.domain, self

    @property
    def source(self) -> str:
        """The DoorLoop key as people know it (``workOrder.assignedToVendor``; ``*`` for an element)."""
        shown = ".".join(self.path) or "*"
        return f"{shown} when {'.'.join(self.when[0])} = {self.when[1]}" if self.when else shown

    @property
    def not_null(self) -> bool:
        return self.required or (self.kind == "ref" and self.mode == "required")


def _path(source: str) -> tuple[str, ...]:
    return tuple(source.split(".")) if source else ()


def col(
    source: str, kind: str = "text", name: str | None = None, *, required: bool = False, domain: tuple[str, ...] = ()
) -> Column:
    return Column(name or snake(source), kind, _path(source), required=required, domain=domain)


def ref(source: str, target: str, mode: str = "optional", name: str | None = None) -> Column:
    """A reference: column ``<source>_id`` holding the uuid of ``target``'s row."""
    column = name or (snake(source.split(".")[-1]) + "_id" if source else "id")
    return Column(column, "ref", _path(source), required=mode == "required", target=PREFIX + target, mode=mode)


def polymorphic(
    type_source: str,
    id_source: str,
    prefix: str,
    ref_prefix: str,
    targets: Mapping[str, str],
    domain: tuple[str, ...] = (),
) -> tuple[Column, ...]:
    """A link whose target type is named by another field: ``<prefix>_type``,
    ``<prefix>_doorloop_id``, and one optional reference ``<ref_prefix>_<type>_id`` (just
    ``<type>_id`` without a ref_prefix) per type that has a table (the other types keep
    only the DoorLoop id)."""
    type_col = (
        col(type_source, "enum", name=f"{prefix}_type", domain=domain)
        if domain
        else col(type_source, name=f"{prefix}_type")
    )
    refs = tuple(
        Column(
            "_".join(filter(None, (ref_prefix, kind.lower(), "id"))),
            "ref",
            _path(id_source),
            target=PREFIX + target,
            when=(_path(type_source), kind),
        )
        for kind, target in targets.items()
    )
    return (type_col, col(id_source, "ref_id", name=f"{prefix}_doorloop_id"), *refs)


@dataclass(frozen=True)
class Child:
    """A junction or line table fed from an array of the record (or several, see ``role``).

    Its key is the parent column plus ``key`` (a reference for junctions, ``line_number``
    for lines). Elements failing a check reject the whole parent record, except an
    element whose ``optional`` key reference dangles: that element is left out and
    recorded as a pending reference until its target arrives.

    With ``role`` set, the rows come from every array in ``arrays`` and column ``role``
    names the array each came from (``from``, ``to``, ``cc``…); an object where an array
    is expected counts as an array of one (``communication.from``).
    """

    name: str
    parent_column: str
    arrays: tuple[str, ...]
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    lines: bool = False
    required: bool = False  # the array must be present and non-empty
    role: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        assert self.role or len(self.arrays) == 1, self.name

    @property
    def all_columns(self) -> tuple[str, ...]:
        return (
            self.parent_column,
            *((self.role,) if self.role else ()),
            *(("line_number",) if self.lines else ()),
            *(c.name for c in self.columns),
        )

    @property
    def source(self) -> str:
        return "|".join(self.arrays)

    @property
    def by_position(self) -> bool:
        """Keyed by where each element sits (its array and position): one row per element, no two alike."""
        return self.lines and set(self.key) <= {"line_number", self.role}


@dataclass(frozen=True)
class Table:
    name: str
    entity: str  # uuid5 namespace entity, DLQ entity
    source: str  # the registry entity whose raw table feeds it
    columns: tuple[Column, ...]
    children: tuple[Child, ...] = ()
    where: str | None = None  # SQL filter on the raw row (alias r)
    description: str = ""

    @property
    def raw_table(self) -> str:
        return ENTITIES[self.source].raw_table

    def refs(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "ref"]

    def self_refs(self) -> list[Column]:
        """References to this same table (resolved after the batch is written)."""
        return [c for c in self.refs() if c.target == self.name]

    def requires(self) -> list[str]:
        """Normalized tables this one (and its children) reference, in first-use order."""
        seen: list[str] = []
        for c in [*self.columns, *(c for ch in self.children for c in ch.columns)]:
            if c.kind == "ref" and c.target != self.name and c.target not in seen:
                seen.append(c.target)
        return seen

    @property
    def objects(self) -> list[str]:
        return [self.name, *(c.name for c in self.children)]


# -- shared column groups --------------------------------------------------------------

GENDER = ("MALE", "FEMALE", "PREFER_NOT_TO_SAY")
PAYMENT_METHODS = ("CASH", "CHECK", "WIRE", "CREDIT_CARD", "CASHIERS_CHECK", "MONEY_ORDER", "OTHER", "EPAY")
DEPOSIT_STATUS = ("DEPOSITED", "UNDEPOSITED")
NOTE_RESOURCES = ("TENANT", "OWNER", "VENDOR", "PROPERTY", "UNIT", "LEASE", "LEASE_DRAFT", "TASK", "RENTAL_APPLICATION")
FILE_RESOURCES = NOTE_RESOURCES + ("BILL", "BILL_PAYMENT", "VENDOR_CREDIT", "NOTE", "INSURANCE_POLICY", "COMMUNICATION")
# linkedResource types that have a table, and the table
LINKED_TABLES = {
    "TENANT": "tenants",
    "OWNER": "owners",
    "VENDOR": "vendors",
    "PROPERTY": "properties",
    "UNIT": "units",
    "LEASE": "leases",
    "TASK": "tasks",
}
FILE_LINKED_TABLES = {
    **LINKED_TABLES,
    "BILL": "vendor_bills",
    "VENDOR_CREDIT": "vendor_credits",
    "NOTE": "notes",
    "COMMUNICATION": "communications",
}
PAYEE_TABLES = {"VENDOR": "vendors", "OWNER": "owners", "TENANT": "tenants"}
PARTICIPANT_TABLES = {"USER": "users", "TENANT": "tenants", "OWNER": "owners", "VENDOR": "vendors"}
PROSPECT_STATUS = (
    "NEW",
    "CONTACT_ATTEMPTED",
    "CONTACT_MADE",
    "SHOWING_SCHEDULED",
    "SHOWING_COMPLETED",
    "APPLICATION_SENT",
    "APPLICATION_SUBMITTED",
    "LEASE_OFFER_MADE",
    "LEASE_OFFER_ACCEPTED",
    "LEASE_SENT_FOR_SIGNATURE",
    "CLOSED_MOVED_IN",
    "CLOSED_LOST",
)


def audit(created_required: bool = False, by: bool = True) -> tuple[Column, ...]:
    cols = (col("createdAt", "timestamptz", required=created_required), col("updatedAt", "timestamptz"))
    return cols + ((ref("createdBy", "users"), ref("updatedBy", "users")) if by else ())


def address(prefix: str) -> tuple[Column, ...]:
    """An address as columns ``<prefix>_street1`` … (people filter and group by them)."""
    fields = (
        ("street1", "text"),
        ("street2", "text"),
        ("city", "text"),
        ("state", "text"),
        ("zip", "text"),
        ("country", "text"),
        ("lat", "numeric"),
        ("lng", "numeric"),
        ("isValidAddress", "boolean"),
    )
    return tuple(
        col(f"{prefix}.{f}", kind, name=f"{snake(prefix)}_is_valid" if f == "isValidAddress" else None)
        for f, kind in fields
    )


def person() -> tuple[Column, ...]:
    """The person base of tenants, owners and vendors, less every personal identifier."""
    return (
        col("firstName"),
        col("lastName"),
        col("middleName"),
        col("name"),
        col("fullName"),
        col("company", "boolean"),
        col("companyName"),
        col("jobTitle"),
        col("gender", "enum", domain=GENDER),
        col("timezone"),
        col("notes"),
        col("pictureUrl"),
        col("emails", "jsonb"),
        col("phones", "jsonb"),
        col("e164PhoneMobileNumber"),
        *address("primaryAddress"),
    )


def lines(name: str, parent_column: str, property_link: bool = False, description: str = "") -> Child:
    """A transaction's ``lines[]`` (account, amount, memo; expense/bill lines add the property)."""
    cols = [
        col("id", name="doorloop_line_id"),
        ref("account", "accounts"),
        col("amount", "money", required=True),
        col("memo"),
        col("balance", "money"),
    ]
    if property_link:
        cols += [ref("linkedToResourceId", "properties", name="property_id"), col("linkedToResourceType")]
    return Child(
        name,
        parent_column,
        ("lines",),
        tuple(cols),
        key=("line_number",),
        lines=True,
        description=description or f"Lines (account, amount, memo) of {parent_column[:-3]} records.",
    )


def _transaction_lines_table(entity: str, singular: str, extra: tuple[Column, ...], description: str) -> Table:
    return Table(
        PREFIX + entity,
        entity,
        entity,
        (
            col("date", "date", required=True),
            ref("lease", "leases", "required"),
            col("reference"),
            col("memo"),
            col("batch"),
            col("totalAmount", "money"),
            col("totalBalance", "money"),
            *extra,
            col("isFilesSharedWithTenant", "boolean"),
            *audit(),
        ),
        (lines(f"{PREFIX}{singular}_lines", f"{singular}_id"),),
        description=description,
    )


def _vendor_document(entity: str, singular: str, extra: tuple[Column, ...], description: str) -> Table:
    return Table(
        PREFIX + entity,
        entity,
        entity,
        (
            ref("vendor", "vendors"),
            col("date", "date", required=True),
            col("dueDate", "date"),
            *extra,
            col("reference"),
            col("memo"),
            col("batch"),
            col("totalAmount", "money"),
            col("totalBalance", "money"),
            *audit(),
        ),
        (lines(f"{PREFIX}{singular}_lines", f"{singular}_id", property_link=True),),
        description=description,
    )


# -- the tables, parents before children ------------------------------------------------

_TABLES: tuple[Table, ...] = (
    Table(
        PREFIX + "users",
        "users",
        "users",
        (
            col("firstName"),
            col("lastName"),
            col("middleName"),
            col("name"),
            col("loginEmail"),
            col("role"),
            col("active", "boolean"),
            col("status"),
            col("owner", "boolean"),
            col("timezone"),
            col("emails", "jsonb"),
            col("phones", "jsonb"),
            col("e164PhoneMobileNumber"),
            col("lastSeenAt", "timestamptz"),
            col("invitationLastSentAt", "timestamptz"),
            *audit(),
        ),
        description="DoorLoop users (staff); bank accounts are not copied.",
    ),
    Table(
        PREFIX + "accounts",
        "accounts",
        "accounts",
        (
            col("name", required=True),
            col("active", "boolean"),
            col("type"),
            col("class"),
            col("description"),
            ref("parentAccount", "accounts"),
            col("fullyQualifiedName"),
            col("systemAccount", "boolean"),
            col("cashFlowActivity"),
            col("leaseChargeItem", "boolean"),
            col("leaseDepositItem", "boolean"),
            col("taxable", "boolean"),
            col("defaultAccountFor", "jsonb"),
            *audit(),
        ),
        description="Chart of accounts.",
    ),
    Table(
        PREFIX + "owners",
        "owners",
        "owners",
        (
            *person(),
            col("active", "boolean"),
            col("managementStartDate", "date"),
            col("managementEndDate", "date"),
            *audit(),
        ),
        description="Property owners; federal tax info and e-pay details are not copied.",
    ),
    Table(
        PREFIX + "tenants",
        "tenants",
        "tenants",
        (
            *person(),
            col("type", "enum", domain=("LEASE_TENANT", "PROSPECT_TENANT")),
            col("portalInfo.allowAccess", "boolean", name="portal_allow_access"),
            col("portalInfo.loginEmail", name="portal_login_email"),
            col("portalInfo.status", "enum", name="portal_status", domain=("ACTIVE", "INACTIVE", "INVITED")),
            col("prospectInfo.status", "enum", name="prospect_status", domain=PROSPECT_STATUS),
            col("prospectInfo.leadSource", name="prospect_lead_source"),
            col("prospectInfo.expectedMoveInDate", "date", name="prospect_expected_move_in_date"),
            col("dependants", "jsonb"),
            col("emergencyContacts", "jsonb"),
            col("pets", "jsonb"),
            *audit(),
        ),
        description="Tenants and prospects; taxpayer, screening and payment-processor ids are not copied.",
    ),
    Table(
        PREFIX + "properties",
        "properties",
        "properties",
        (
            col("name", required=True),
            col("type"),
            col("typeDescription"),
            col("class", "enum", domain=("RESIDENTIAL", "COMMERCIAL")),
            col("active", "boolean"),
            *address("address"),
            col("description"),
            col("numActiveUnits", "integer"),
            col("amenities", "jsonb"),
            col("pictures", "jsonb"),
            col("settings", "jsonb"),
            col("boardMembers", "jsonb"),
            col("petsPolicy", "jsonb"),
            *audit(),
        ),
        (
            Child(
                PREFIX + "property_owners",
                "property_id",
                ("owners",),
                (ref("owner", "owners", name="owner_id"), col("ownershipPercentage", "numeric")),
                key=("owner_id",),
                description="Who owns each property, with the ownership percentage (from property.owners[]).",
            ),
        ),
        description="Properties with their address as columns.",
    ),
    Table(
        PREFIX + "vendors",
        "vendors",
        "vendors",
        (
            *person(),
            col("active", "boolean"),
            col("balance", "money"),
            col("services", "jsonb"),
            col("insuranceInfo.provider", name="insurance_provider"),
            col("insuranceInfo.coverage", "money", name="insurance_coverage"),
            col("insuranceInfo.effectiveDate", "date", name="insurance_effective_date"),
            col("insuranceInfo.expirationDate", "date", name="insurance_expiration_date"),
            *audit(),
        ),
        (
            Child(
                PREFIX + "vendor_properties",
                "vendor_id",
                ("properties",),
                (ref("", "properties", name="property_id"),),
                key=("property_id",),
                description="Properties each vendor serves (from vendor.properties[]).",
            ),
        ),
        description="Vendors; federal tax info, bank accounts and e-pay details are not copied.",
    ),
    Table(
        PREFIX + "portfolios",
        "portfolios",
        "portfolios",
        (col("name", required=True), *audit()),
        (
            Child(
                PREFIX + "portfolio_properties",
                "portfolio_id",
                ("properties",),
                (ref("", "properties", name="property_id"),),
                key=("property_id",),
                description="Properties of each portfolio (DoorLoop property group).",
            ),
        ),
        description="Portfolios (DoorLoop property groups).",
    ),
    Table(
        PREFIX + "units",
        "units",
        "units",
        (
            col("name"),
            ref("property", "properties", "required"),
            col("active", "boolean"),
            col("addressSameAsProperty", "boolean"),
            *address("address"),
            col("beds", "numeric"),
            col("baths", "numeric"),
            col("size", "numeric"),
            col("marketRent", "money"),
            col("description"),
            col("amenities", "jsonb"),
            col("pictures", "jsonb"),
            col("listing", "jsonb"),
            col("rentalApplicationListing", "jsonb"),
            col("listed", "boolean"),
            col("inEviction", "boolean"),
            *audit(),
        ),
        description="Units, active and inactive.",
    ),
    Table(
        PREFIX + "leases",
        "leases",
        "leases",
        (
            col("name"),
            col("reference"),
            ref("property", "properties", "required"),
            col("start", "date", required=True),
            col("end", "date"),
            col("term", "enum", domain=("Fixed", "AtWill")),
            col("rolloverToAtWill", "boolean"),
            col("status", "enum", domain=("ACTIVE", "INACTIVE")),
            col("evictionPending", "boolean"),
            col("proofOfInsuranceRequired", "boolean"),
            col("notes"),
            col("totalBalanceDue", "money"),
            col("totalDepositsHeld", "money"),
            col("totalRecurringRent", "money"),
            col("totalRecurringPayments", "money"),
            col("totalRecurringCredits", "money"),
            col("totalRecurringCharges", "money"),
            col("outstandingBalance", "money"),
            col("overdueBalance", "money"),
            col("upcomingBalance", "money"),
            col("currentBalance", "money"),
            col("recurringRentFrequency"),
            col("recurringRentStatus"),
            col("proofOfInsuranceProvided", "boolean"),
            col("proofOfInsuranceProvidedAt", "timestamptz"),
            col("proofOfInsuranceEffectiveDate", "date"),
            col("proofOfInsuranceExpirationDate", "date"),
            col("proofOfInsuranceStatus"),
            col("lastLateFeesProcessedDate", "date"),
            col("renewalInfo", "jsonb"),
            col("settings", "jsonb"),
            *audit(),
        ),
        (
            Child(
                PREFIX + "lease_units",
                "lease_id",
                ("units",),
                (ref("", "units", "required", name="unit_id"),),
                key=("unit_id",),
                required=True,
                description="The units of each lease (a lease can span several).",
            ),
        ),
        description="Leases; every unit in lease_units.",
    ),
    Table(
        PREFIX + "lease_tenants",
        "lease_tenants",
        "lease_tenants",
        (
            ref("lease", "leases", "required"),
            ref("tenant", "tenants", "required", name="tenant_id"),
            ref("property", "properties"),
            col("name"),
            col("status", "enum", domain=("PAST", "FUTURE", "CURRENT")),
            col("moveInAt", "date"),
            col("moveOutAt", "date"),
            col("moveOutNoticeAt", "date"),
            col("portalEnabled", "boolean"),
        ),
        (
            Child(
                PREFIX + "lease_tenant_units",
                "lease_tenant_id",
                ("units",),
                (ref("", "units", name="unit_id"),),
                key=("unit_id",),
                description="The units each lease tenant row covers (from units[]).",
            ),
        ),
        description="Tenants of each lease (/leases/tenants): status, move-in, move-out, notice.",
    ),
    Table(
        PREFIX + "lease_payments",
        "lease_payments",
        "lease_payments",
        (
            col("date", "date", required=True),
            ref("lease", "leases", "required"),
            col("amountReceived", "money", required=True),
            col("paymentMethod", "enum", domain=PAYMENT_METHODS),
            ref("depositToAccount", "accounts"),
            ref("receivedFromTenant", "tenants"),
            col("autoApplyPaymentOnCharges", "boolean"),
            col("reference"),
            col("autoDeposit", "boolean"),
            col("depositStatus", "enum", domain=DEPOSIT_STATUS),
            col("memo"),
            col("amountAppliedToCharges", "money"),
            col("amountAppliedToCredits", "money"),
            col("amountNotAppliedToCharges", "money"),
            col("linkedCharges", "jsonb"),
            col("linkedCredits", "jsonb"),
            col("reversedPaymentDate", "date"),
            col("reversedPaymentMemo"),
            col("isFilesSharedWithTenant", "boolean"),
            *audit(),
        ),
        description="Lease payments; check and e-pay details (bank, card) are not copied. "
        "A reversal links to its payment in normalized_lease_reversed_payments.",
    ),
    _transaction_lines_table(
        "lease_charges",
        "lease_charge",
        (col("lastLateFeesProcessedDate", "date"), ref("lateFeeForLeaseCharge", "lease_charges")),
        "Lease charges; lines in normalized_lease_charge_lines.",
    ),
    _transaction_lines_table(
        "lease_credits", "lease_credit", (), "Lease credits; lines in normalized_lease_credit_lines."
    ),
    _transaction_lines_table(
        "lease_reversed_payments",
        "lease_reversed_payment",
        (
            ref("leasePayment", "lease_payments"),
            col("depositStatus", "enum", domain=DEPOSIT_STATUS),
            col("processorFee", "money"),
            col("reason"),
        ),
        "Reversed (returned) lease payments; lines in normalized_lease_reversed_payment_lines.",
    ),
    Table(
        PREFIX + "tasks",
        "tasks",
        "tasks",
        (
            col("subject"),
            col(
                "type", "enum", required=True, domain=("INTERNAL_TASK", "TENANT_REQUEST", "OWNER_REQUEST", "WORK_ORDER")
            ),
            col(
                "status",
                "enum",
                required=True,
                domain=("NOT_STARTED", "RECEIVED", "IN_PROGRESS", "COMPLETED", "ARCHIVED"),
            ),
            col("priority", "enum", domain=("LOW", "MEDIUM", "HIGH")),
            col("description"),
            col("dueDate", "date"),
            col("reference"),
            ref("property", "properties", "strict"),
            ref("unit", "units", "strict"),
            ref("requestedByUser", "users"),
            ref("requestedByTenant", "tenants"),
            ref("requestedByOwner", "owners"),
            col("entryPermission", "enum", domain=("NOT_APPLICABLE", "YES", "NO")),
            col("entryNotes"),
            col("completedAt", "timestamptz"),
            col("dateType"),
            col("createdByType"),
            *polymorphic(
                "linkedResource.resourceType", "linkedResource.resourceId", "linked_resource", "linked", LINKED_TABLES
            ),
            col("tenantRequestType"),
            col("tenantRequestMaintenanceCategory"),
            *audit(created_required=True),
        ),
        (
            Child(
                PREFIX + "task_assignees",
                "task_id",
                ("assignedToUsers",),
                (ref("", "users", name="user_id"),),
                key=("user_id",),
                description="Users each task is assigned to.",
            ),
        ),
        description="Tasks of every type; work orders also in normalized_work_orders.",
    ),
    _vendor_document(
        "vendor_bills",
        "vendor_bill",
        (ref("workOrder", "tasks", name="work_order_task_id"),),
        "Vendor bills; lines in normalized_vendor_bill_lines. work_order_task_id is the work order's task.",
    ),
    _vendor_document("vendor_credits", "vendor_credit", (), "Vendor credits; lines in normalized_vendor_credit_lines."),
    Table(
        PREFIX + "work_orders",
        "work_orders",
        "tasks",
        (
            ref("id", "tasks", "required", name="task_id"),
            ref("workOrder.assignedToVendor", "vendors", name="vendor_id"),
            col("workOrder.approvedByOwner", "boolean", name="approved_by_owner"),
            col("workOrder.instructionsToVendor", name="instructions_to_vendor"),
            col("workOrder.billed", "boolean", name="billed"),
            ref("workOrder.vendorBill", "vendor_bills", name="vendor_bill_id"),
        ),
        where="r.payload ->> 'type' = 'WORK_ORDER'",
        description="Work orders: tasks of type WORK_ORDER with vendor, owner approval, instructions and linked bill.",
    ),
    Table(
        PREFIX + "expenses",
        "expenses",
        "expenses",
        (
            col("date", "date", required=True),
            ref("payFromAccount", "accounts"),
            col("paymentMethod", "enum", domain=PAYMENT_METHODS),
            *polymorphic("payToResourceType", "payToResourceId", "pay_to_resource", "pay_to", PAYEE_TABLES),
            col("memo"),
            col("reference"),
            col("batch"),
            col("totalAmount", "money"),
            col("totalBalance", "money"),
            col("isVoidedCheck", "boolean"),
            *audit(),
        ),
        (lines(PREFIX + "expense_lines", "expense_id", property_link=True),),
        description="Expenses; check and e-pay details are not copied; lines in normalized_expense_lines.",
    ),
    Table(
        PREFIX + "notes",
        "notes",
        "notes",
        (
            col("title"),
            col("body"),
            col("tags", "jsonb"),
            *polymorphic(
                "linkedResource.resourceType",
                "linkedResource.resourceId",
                "linked_resource",
                "linked",
                LINKED_TABLES,
                NOTE_RESOURCES,
            ),
            *audit(),
        ),
        description="Notes on any resource: linked_<type>_id per type with a table, the DoorLoop id for the rest.",
    ),
    Table(
        PREFIX + "communications",
        "communications",
        "communications",
        (
            col("subject"),
            col("type", "enum", domain=("EMAIL", "PHONE", "TEXT")),
            col(
                "status",
                "enum",
                domain=("DRAFT", "FAILED", "BOUNCED", "COMPLAINT", "SENT", "DELIVERED", "OPENED", "CLICKED"),
            ),
            col("from", "jsonb"),
            col("to", "jsonb"),
            col("cc", "jsonb"),
            col("bcc", "jsonb"),
            col("sentAt", "timestamptz", required=True),
            col("threadId"),
            col("externalId"),
            col("bodyPreview"),
            col("openedAt", "jsonb"),
            col("clickedAt", "jsonb"),
            col("bouncedAt", "jsonb"),
            col("announcement", "jsonb"),
            *audit(),
        ),
        (
            Child(
                PREFIX + "communication_participants",
                "communication_id",
                ("from", "to", "cc", "bcc"),
                (
                    col("address"),
                    col("displayName"),
                    *polymorphic(
                        "linkedToType",
                        "linkedToId",
                        "linked_to",
                        "",
                        PARTICIPANT_TABLES,
                        ("USER", "TENANT", "OWNER", "VENDOR", "SYSTEM"),
                    ),
                ),
                key=("role", "line_number"),
                lines=True,
                role="role",
                description="Who each communication was from and to (role from, to, cc, bcc), linked to the person.",
            ),
        ),
        description="Emails, calls and texts; participants in normalized_communication_participants.",
    ),
    Table(
        PREFIX + "files",
        "files",
        "files",
        (
            col("name"),
            col("notes"),
            col("tags", "jsonb"),
            col("size", "integer"),
            col("mimeType"),
            *polymorphic(
                "linkedResource.resourceType",
                "linkedResource.resourceId",
                "linked_resource",
                "linked",
                FILE_LINKED_TABLES,
                FILE_RESOURCES,
            ),
            *audit(),
        ),
        description="File metadata (no signed download URLs).",
    ),
)

TABLES: Mapping[str, Table] = MappingProxyType({t.name: t for t in _TABLES})
WATERMARKS = PREFIX + "watermarks"
PENDING = PREFIX + "pending_references"
# Set on a main table's row that left (rejected, or gone from raw) while rows of other tables
# still point at it: it stays, values kept, so their foreign keys hold until their own runs.
GONE = "gone_at"


def _check_order() -> None:
    seen: set[str] = set()
    for t in _TABLES:
        missing = [r for r in t.requires() if r not in seen]
        assert not missing, f"{t.name} references {missing} declared after it"
        seen.update(t.objects)


_check_order()


def tables_for(entity_names: list[str] | None) -> list[Table]:
    """The normalized tables fed by these registry entities (all when None), in dependency order."""
    if not entity_names:
        return list(_TABLES)
    unknown = [n for n in entity_names if n not in ENTITIES and n not in DERIVED_ENTITIES]
    if unknown:
        raise KeyError(f"unknown entity {unknown[0]!r}")
    return [t for t in _TABLES if t.source in entity_names or t.entity in entity_names]
