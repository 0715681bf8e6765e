"""A synthetic DoorLoop account: deterministic, internally consistent and streamable.

The sandbox server and the tests need an account whose KPIs are worth computing:
vacancies and turnover, past, current and future leases, multi-unit and multi-tenant
leases, holdovers, tenants who pay on time, late, in part or not at all, bounced
payments, and work orders finished within a day or still open. Keys and shapes follow
the real DoorLoop JSON (docs/doorloop.md).

Generation has two stages. The *plan* (people, properties, units, leases, tasks) is
drawn up front and held in memory as small slotted objects. Records are *rendered*
lazily per entity; every transaction stream is replayed per lease or per property from
an RNG seeded by the run seed and that owner's id. So the bytes do not depend on the
order a consumer reads the entities in, and ``large`` never holds its millions of
transactions at once.
"""

from __future__ import annotations

import calendar
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from altus_pipeline.doorloop.registry import ENTITIES


@dataclass(frozen=True)
class Scale:
    """How big a generated account is: units exactly, everything else follows from it."""

    name: str
    properties: int
    units: int
    years: int
    users: int
    owners: int
    vendors: int


SCALES: Mapping[str, Scale] = MappingProxyType(
    {
        s.name: s
        for s in (
            Scale("small", properties=10, units=100, years=2, users=5, owners=6, vendors=10),
            Scale("medium", properties=100, units=2_000, years=3, users=15, owners=40, vendors=30),
            Scale("large", properties=1_000, units=20_000, years=5, users=60, owners=300, vendors=150),
        )
    }
)

#: The "today" of generated data, pinned so the same seed always gives the same bytes.
DEFAULT_AS_OF = date(2026, 11, 1)

_DAY = timedelta(days=1)
_GRACE_DAYS = 4  # rent unpaid after this many days past due draws a late fee the next day
_NSF_FEE_CENTS = 3_500

_FIRST_NAMES = (
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Wei",
    "Ashley",
    "Andrew",
    "Emily",
    "Joshua",
    "Maria",
    "Kevin",
    "Aisha",
    "Brian",
    "Priya",
    "Omar",
    "Sofia",
)
_LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyen",
    "Hill",
    "Patel",
    "Kim",
)
_STREETS = (
    "Maple",
    "Oak",
    "Cedar",
    "Pine",
    "Elm",
    "Willow",
    "Birch",
    "Lake",
    "Hill",
    "Park",
    "Washington",
    "Lincoln",
    "Jefferson",
    "Madison",
    "Sunset",
    "River",
    "Highland",
    "Meadow",
    "Forest",
    "Spring",
)
_STREET_KINDS = ("St", "Ave", "Blvd", "Dr", "Ln", "Rd", "Way", "Ct")
_NAME_SUFFIXES = ("Apartments", "Court", "Commons", "Place", "Gardens", "Terrace", "Flats", "Plaza")


class _City(NamedTuple):
    name: str
    state: str
    zip_prefix: str
    rent_factor: float


_CITIES = (
    _City("Columbus", "OH", "432", 0.85),
    _City("Cleveland", "OH", "441", 0.8),
    _City("Tampa", "FL", "336", 1.15),
    _City("Orlando", "FL", "328", 1.1),
    _City("Austin", "TX", "787", 1.25),
    _City("Dallas", "TX", "752", 1.1),
    _City("Atlanta", "GA", "303", 1.1),
    _City("Charlotte", "NC", "282", 1.0),
    _City("Phoenix", "AZ", "850", 1.05),
    _City("Indianapolis", "IN", "462", 0.85),
)

#: (DoorLoop property type, class, weight); single-family homes always have exactly one unit.
_PROPERTY_KINDS = (
    ("SINGLE_FAMILY", "RESIDENTIAL", 25),
    ("MULTI_FAMILY", "RESIDENTIAL", 50),
    ("CONDO", "RESIDENTIAL", 8),
    ("TOWNHOME", "RESIDENTIAL", 7),
    ("OFFICE", "COMMERCIAL", 5),
    ("RETAIL", "COMMERCIAL", 5),
)
#: Owner splits as whole percentages, so every property's shares sum to exactly 100.
_OWNERSHIP_SPLITS = ((100,), (50, 50), (60, 40), (75, 25), (40, 30, 30), (34, 33, 33))
_OWNERSHIP_WEIGHTS = (55, 15, 10, 8, 7, 5)

#: Chart of accounts: (key used here, name, DoorLoop type, active).
_CHART = (
    ("operating_bank", "Operating Bank Account", "ASSET_BANK", True),
    ("trust_bank", "Security Deposit Trust Account", "ASSET_BANK", True),
    ("old_bank", "Old Checking (closed)", "ASSET_BANK", False),
    ("receivable", "Accounts Receivable", "ASSET_ACCOUNTS_RECEIVABLE", True),
    ("undeposited", "Undeposited Funds", "ASSET_OTHER_CURRENT_ASSETS", True),
    ("payable", "Accounts Payable", "LIABILITY_ACCOUNTS_PAYABLE", True),
    ("deposits_held", "Security Deposits Held", "LIABILITY_OTHER_CURRENT_LIABILITY", True),
    ("owner_equity", "Owner Contributions", "EQUITY", True),
    ("rent", "Rent Income", "INCOME", True),
    ("late_fees", "Late Fee Income", "INCOME", True),
    ("nsf_fees", "Returned Payment Fee Income", "INCOME", True),
    ("concessions", "Rent Concessions", "INCOME", True),
    ("repairs", "Repairs and Maintenance", "EXPENSE", True),
    ("bad_debt", "Bad Debt", "EXPENSE", True),
    ("landscaping", "Landscaping", "EXPENSE", True),
    ("cleaning", "Cleaning and Janitorial", "EXPENSE", True),
    ("utilities", "Utilities", "EXPENSE", True),
    ("insurance", "Property Insurance", "EXPENSE", True),
)

_USER_ROLES = ("Administrator", "Property Manager", "Maintenance Coordinator", "Leasing Agent", "Accountant")
#: Vendor trades: repair trades take work orders, the others bill or are paid monthly.
_REPAIR_TRADES = ("Plumbing", "HVAC", "Electrical", "General Maintenance", "Pest Control")
_SERVICE_TRADES = ("Landscaping", "Cleaning", "Utilities", "Insurance")
_PAYMENT_METHODS = ("EPAY", "CHECK", "CASH", "MONEY_ORDER", "CREDIT_CARD", "CASHIERS_CHECK")
_PAYMENT_METHOD_WEIGHTS = (55, 20, 5, 8, 10, 2)
#: How a lease's tenants pay: profile name and share of leases.
_PAYERS = (("prompt", 72), ("late", 12), ("partial", 7), ("delinquent", 5), ("prepay", 4))
_OPEN_TASK_STATUSES = ("NOT_STARTED", "RECEIVED", "IN_PROGRESS")

_REPAIRS = (
    "Leaking kitchen faucet",
    "AC not cooling",
    "Clogged bathroom drain",
    "Broken window latch",
    "Water heater not working",
    "Smoke detector chirping",
    "Garbage disposal jammed",
    "Dishwasher leaking",
    "Pest control treatment",
    "Replace front door lock",
    "Ceiling water stain",
    "Outlet not working",
)
_COMMON_AREA_REPAIRS = ("Parking lot light out", "Hallway carpet cleaning", "Gate motor repair", "Roof leak inspection")
_INTERNAL_TASKS = (
    "Schedule annual inspection",
    "Renew property insurance",
    "Review delinquency report",
    "Update rent roll",
)
_OWNER_REQUESTS = ("Owner asks for a quarterly budget review", "Owner requests photos of the renovation")
_NOTE_TITLES = ("Call log", "Follow-up", "Inspection notes", "Tenant feedback", "Payment arrangement")


def _rng(seed: int, *scope: object) -> random.Random:
    """An RNG of its own per (seed, scope): a stream replays identically whatever ran before it."""
    return random.Random(":".join(str(part) for part in (seed, *scope)))


def _new_id(rng: random.Random) -> str:
    """A DoorLoop id: 24 lowercase hex digits, like a MongoDB ObjectId."""
    return f"{rng.getrandbits(96):024x}"


def _money(cents: int) -> float:
    """Dollars as DoorLoop sends them; cents / 100 never prints more than two decimals."""
    return cents / 100


def _round_to(cents: float, step: int) -> int:
    return max(step, int(round(cents / step)) * step)


def _iso(moment: datetime) -> str:
    """An ISO-8601 UTC timestamp with milliseconds, e.g. 2025-03-04T10:11:12.123Z."""
    return moment.isoformat(timespec="milliseconds") + "Z"


def _at(rng: random.Random, day: date, first_hour: int = 7, last_hour: int = 21) -> datetime:
    """A moment during the working hours of ``day`` (millisecond precision)."""
    ms = int((first_hour + rng.random() * (last_hour - first_hour)) * 3_600_000)
    return datetime(day.year, day.month, day.day) + timedelta(milliseconds=ms)


def _street(rng: random.Random) -> str:
    return f"{rng.randint(100, 9999)} {rng.choice(_STREETS)} {rng.choice(_STREET_KINDS)}"


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _due_dates(first: date, last: date) -> Iterator[date]:
    """Rent due dates: ``first`` itself (a prorated month unless it is the 1st), then each 1st up to ``last``."""
    if first > last:
        return
    yield first
    due = _add_months(first.replace(day=1), 1)
    while due <= last:
        yield due
        due = _add_months(due, 1)


def _month_days(first: date, last: date) -> Iterator[date]:
    """The first day of every month whose 1st lies in [first, last]."""
    day = first if first.day == 1 else _add_months(first.replace(day=1), 1)
    while day <= last:
        yield day
        day = _add_months(day, 1)


def _split(total: int, weights: Sequence[float], minimum: int) -> list[int]:
    """Split ``total`` into integer parts of at least ``minimum``, proportional to ``weights``, summing exactly."""
    spare = total - minimum * len(weights)
    if spare < 0:
        raise ValueError(f"cannot split {total} into {len(weights)} parts of at least {minimum}")
    shares = [spare * w / sum(weights) for w in weights]
    parts = [int(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: parts[i] - shares[i])
    for i in by_remainder[: spare - sum(parts)]:
        parts[i] += 1
    return [minimum + p for p in parts]


def _split_evenly(cents: int, parts: int) -> list[int]:
    base, extra = divmod(cents, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass(slots=True)
class _Person:
    """A user, owner, vendor or tenant: what other records refer to, the rest is rendered from the id."""

    id: str
    first: str
    last: str
    created: datetime
    role: str = ""  # users: DoorLoop role; vendors: trade
    company: str | None = None
    active: bool = True
    prospect_of: _Property | None = None  # prospects only: the property they asked about

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def email(self) -> str:
        return f"{self.first}.{self.last}.{self.id[-4:]}@example.com".lower()

    @property
    def phone(self) -> str:
        return f"+1555{int(self.id[-6:], 16) % 10_000_000:07d}"


@dataclass(slots=True)
class _Unit:
    id: str
    name: str
    beds: int
    baths: float
    size: int
    market_cents: int
    market_listed: bool = True  # False: marketRent is null in DoorLoop (never filled in)
    active: bool = True


@dataclass(slots=True)
class _Lease:
    """A lease and how its tenancy ends; ``vacated`` is None when the household renewed."""

    id: str
    units: list[_Unit]
    tenants: list[_Person]
    start: date
    end: date | None
    term: str
    rollover: bool
    renewal: bool
    rent_cents: int
    deposit_cents: int
    payer: str
    created: datetime
    vacated: date | None

    @property
    def until(self) -> date:
        """Last day the lease keeps its units: the move-out, or for a renewal the end of term."""
        if self.vacated is not None:
            return self.vacated
        assert self.end is not None, "an at-will lease always has a move-out"
        return self.end


@dataclass(slots=True)
class _Task:
    id: str
    type: str
    subject: str
    property: _Property | None
    unit: _Unit | None
    created: datetime
    status: str
    completed: datetime | None
    users: list[str]
    requester: _Person | None
    vendor: _Person | None = None
    bill_id: str | None = None
    bill_cents: int = 0


@dataclass(slots=True)
class _Property:
    id: str
    name: str
    kind: str
    klass: str
    street: str
    city: _City
    owners: list[tuple[str, int]]
    vendors: dict[str, _Person]  # trade -> vendor serving this property
    created: datetime = datetime.min
    units: list[_Unit] = field(default_factory=list)
    leases: list[_Lease] = field(default_factory=list)
    tasks: list[_Task] = field(default_factory=list)


@dataclass(slots=True)
class _Entry:
    """One money movement of a lease, decided but not yet rendered as a DoorLoop record.

    ``lines`` are (account key, cents, memo); a payment has one line, the bank account
    it went into. ``extra`` holds the record's further keys (links to other records).
    """

    id: str
    day: date
    memo: str
    lines: list[tuple[str, int, str]]
    extra: dict[str, str]

    @property
    def cents(self) -> int:
        return sum(cents for _, cents, _ in self.lines)


class _PaymentPlan(NamedTuple):
    """How a month's rent gets paid: days after the due date, and the share of the balance."""

    delay: int
    share: float


#: How each kind of ledger entry moves the lease balance (KPI contract, "Lease balance").
_BALANCE_SIGN = {"charges": 1, "credits": -1, "payments": -1, "reversed_payments": 1}


class _Ledger:
    """Every money movement of one lease up to as_of, replayed from the lease's own RNG.

    Rent is charged monthly; how the tenants pay depends on the lease's payer profile.
    Rent still owed after the grace period draws a late fee, a few payments bounce (a
    reversed payment plus a returned-payment fee) and some leases get credits. At
    move-out the deposit is applied to what is owed and most of any rest is written off.

    Replaying only decides amounts, dates and ids (cheap); :meth:`records` renders one
    kind of entry with an RNG of that kind's own, so reading one entity never pays for
    rendering the others and the bytes do not depend on which is read.
    """

    def __init__(self, account: _Account, lease: _Lease) -> None:
        self.account, self.lease = account, lease
        self.rng = _rng(account.seed, "ledger", lease.id)
        self.balance = 0
        self.entries: dict[str, list[_Entry]] = {kind: [] for kind in _BALANCE_SIGN}
        self.method = self.rng.choices(_PAYMENT_METHODS, _PAYMENT_METHOD_WEIGHTS)[0]
        self.split = len(lease.tenants) > 1 and self.rng.random() < 0.3  # roommates pay their shares
        self._replay()

    def records(self, kind: str) -> Iterator[dict]:
        """The lease's entries of one kind as DoorLoop records."""
        rng = _rng(self.account.seed, "ledger", self.lease.id, kind)
        for entry in self.entries[kind]:
            yield self._payment_record(rng, entry) if kind == "payments" else self._line_record(rng, entry)

    def _replay(self) -> None:
        lease, account, rng = self.lease, self.account, self.rng
        last = min(lease.until, account.as_of)
        if account.start <= lease.start <= account.as_of and not lease.renewal:
            if lease.deposit_cents:
                deposit = [("deposits_held", lease.deposit_cents, "Security deposit")]
                self._add("charges", lease.start, "Security deposit", deposit)
            if rng.random() < 0.08:
                self._credit(lease.start, _round_to(lease.rent_cents * rng.uniform(0.1, 0.5), 500), "Move-in special")
        for due in _due_dates(max(lease.start, account.start), last):
            rent = self._rent_due(due)
            memo = f"Rent {calendar.month_name[due.month]} {due.year}"
            lines = [("rent", cents, memo) for cents in _split_evenly(rent, len(lease.units))]
            self._collect(due, self._add("charges", due, "Monthly rent", lines), last)
            if rng.random() < 0.015:
                self._credit(due + timedelta(days=rng.randint(3, 20)), rng.randint(25, 200) * 100, "Goodwill credit")
        if lease.vacated is not None and account.start <= lease.vacated <= account.as_of:
            self._settle(lease.vacated)

    def _settle(self, moved_out: date) -> None:
        """Close the account of a household that left: deposit against the balance, then a write-off."""
        owed = min(self.balance, self.lease.deposit_cents)
        if owed > 0:
            self._add("credits", moved_out, "Security deposit applied", [("deposits_held", owed, "Deposit applied")])
        write_off = moved_out + timedelta(days=self.rng.randint(60, 150))
        if self.balance > 0 and self.rng.random() < 0.7 and write_off <= self.account.as_of:
            self._add("credits", write_off, "Bad debt write-off", [("bad_debt", self.balance, "Uncollectible balance")])

    def _rent_due(self, due: date) -> int:
        """The monthly rent, prorated when the due date is not the 1st (a mid-month start)."""
        if due.day == 1:
            return self.lease.rent_cents
        days = calendar.monthrange(due.year, due.month)[1]
        return round(self.lease.rent_cents * (days - due.day + 1) / days)

    def _collect(self, due: date, rent_charge: _Entry, last: date) -> None:
        """The month's payment(s) and, if rent is still owed after the grace period, a late fee."""
        plan = self._payment_plan()
        paid_in_grace = plan is not None and plan.delay <= _GRACE_DAYS
        if plan is not None and paid_in_grace:
            self._pay_share(due, plan)
        fee_day = due + timedelta(days=_GRACE_DAYS + 1)
        if self.balance > 0 and fee_day <= last:
            fee = min(max(self.lease.rent_cents // 20, 5_000), 15_000)
            self._add(
                "charges", fee_day, "Late fee", [("late_fees", fee, "Late fee")], lateFeeForLeaseCharge=rent_charge.id
            )
        if plan is not None and not paid_in_grace:
            self._pay_share(due, plan)

    def _payment_plan(self) -> _PaymentPlan | None:
        """This month's payment under the lease's payer profile, or None when nothing is paid."""
        rng, payer = self.rng, self.lease.payer
        if payer == "prompt":
            return _PaymentPlan(rng.randint(-3, 3) if rng.random() < 0.96 else rng.randint(6, 14), 1.0)
        if payer == "late":
            return _PaymentPlan(rng.randint(3, 4) if rng.random() < 0.5 else rng.randint(6, 20), 1.0)
        if payer == "partial":
            return _PaymentPlan(rng.randint(0, 12), 1.0 if rng.random() < 0.2 else rng.uniform(0.4, 0.9))
        if payer == "delinquent":
            return None if rng.random() < 0.45 else _PaymentPlan(rng.randint(3, 25), rng.uniform(0.3, 1.0))
        return _PaymentPlan(rng.randint(0, 2), 2.0 if rng.random() < 0.15 else 1.0)  # prepay: at times a month ahead

    def _pay_share(self, due: date, plan: _PaymentPlan) -> None:
        """Pay ``plan.share`` of the balance; paying ahead never predates the lease or the history."""
        day = max(due + timedelta(days=plan.delay), self.lease.start, self.account.start)
        cents = round(self.balance * plan.share)
        if cents <= 0 or day > self.account.as_of:
            return
        tenants = self.lease.tenants if self.split else [self.rng.choice(self.lease.tenants)]
        for tenant, part in zip(tenants, _split_evenly(cents, len(tenants)), strict=True):
            self._pay(day, part, tenant)

    def _pay(self, day: date, cents: int, tenant: _Person) -> None:
        bank = "operating_bank" if self.rng.random() < 0.95 else "trust_bank"
        payment = self._add(
            "payments", day, f"Payment from {tenant.name}", [(bank, cents, "")], receivedFromTenant=tenant.id
        )
        if self.method in ("CHECK", "EPAY") and self.rng.random() < 0.015:
            self._reverse(payment, day + timedelta(days=self.rng.randint(2, 6)))

    def _reverse(self, payment: _Entry, day: date) -> None:
        """A bounced payment: the reversal, its link on the payment and a returned-payment fee."""
        if day > self.account.as_of:
            return
        reversal = self._add(
            "reversed_payments",
            day,
            "Returned payment (NSF)",
            [("rent", payment.cents, "Returned payment")],
            leasePayment=payment.id,
            reason="NSF",
        )
        payment.extra.update(reversedPayment=reversal.id, reversedPaymentDate=day.isoformat())
        self._add("charges", day, "Returned payment fee", [("nsf_fees", _NSF_FEE_CENTS, "Returned payment fee")])

    def _credit(self, day: date, cents: int, memo: str) -> None:
        if day <= min(self.lease.until, self.account.as_of):
            self._add("credits", day, memo, [("concessions", cents, memo)])

    def _add(self, kind: str, day: date, memo: str, lines: list[tuple[str, int, str]], **extra: str) -> _Entry:
        entry = _Entry(_new_id(self.rng), day, memo, lines, extra)
        self.entries[kind].append(entry)
        self.balance += _BALANCE_SIGN[kind] * entry.cents
        return entry

    def _line_record(self, rng: random.Random, entry: _Entry) -> dict:
        chart = self.account.chart
        lines = [(chart[key], cents, memo) for key, cents, memo in entry.lines]
        return _transaction(
            rng, self.account, entry.day, lines, entry.memo, record_id=entry.id, lease=self.lease.id, **entry.extra
        )

    def _payment_record(self, rng: random.Random, entry: _Entry) -> dict:
        ((bank, cents, _),) = entry.lines
        return {
            "id": entry.id,
            "reference": str(rng.randint(10_000, 999_999)),
            "date": entry.day.isoformat(),
            "lease": self.lease.id,
            "amountReceived": _money(cents),
            "paymentMethod": self.method,
            "depositToAccount": self.account.chart[bank],
            **entry.extra,
            "autoApplyPaymentOnCharges": True,
            "depositStatus": "DEPOSITED",
            "memo": entry.memo,
            **self.account.audit(rng, entry.day),
        }


def _transaction(
    rng: random.Random,
    account: _Account,
    day: date,
    lines: Sequence[tuple[str, int, str]],
    memo: str,
    linked_property: str | None = None,
    record_id: str | None = None,
    **fields: object,
) -> dict:
    """A DoorLoop line-item transaction (charge, credit, reversed payment, bill, vendor credit, expense).

    ``lines`` are (account id, cents, memo); with ``linked_property`` the lines are
    expense/bill lines pointing at that property. ``record_id`` is for records whose id
    the plan already handed out (a work order's bill).
    """
    rendered = []
    for account_id, cents, text in lines:
        line = {"id": _new_id(rng), "account": account_id, "amount": _money(cents), "memo": text}
        if linked_property is not None:
            line.update(linkedToResourceId=linked_property, linkedToResourceType="property")
        rendered.append(line)
    return {
        "id": record_id or _new_id(rng),
        "reference": str(rng.randint(10_000, 999_999)),
        "date": day.isoformat(),
        **fields,
        "memo": memo,
        "lines": rendered,
        "totalAmount": _money(sum(cents for _, cents, _ in lines)),
        **account.audit(rng, day),
    }


class _Account:
    """One generated DoorLoop account: the plan, and one method per registry entity rendering its records.

    The methods are named after the registry entities; :func:`generate` looks them up by
    name, so the entity list lives in the registry only. ``keep_ledgers`` keeps each
    lease's replayed ledger for the other entities that need it (five read it): worth it
    when every record is held in memory anyway, never when streaming ``large``.
    """

    def __init__(self, scale: Scale, seed: int, as_of: date, keep_ledgers: bool = False) -> None:
        self.seed, self.as_of = seed, as_of
        self.ledgers: dict[str, _Ledger] | None = {} if keep_ledgers else None
        self.start = _years_before(as_of, scale.years)
        self.cutoff = datetime.combine(as_of + _DAY, time())  # every timestamp falls before it
        self.last_moment = self.cutoff - timedelta(milliseconds=1)
        self.opened = datetime.combine(self.start - timedelta(days=4 * 365), time(9))
        rng = _rng(seed, "plan")
        self.chart = {key: _new_id(rng) for key, *_ in _CHART}
        self.staff = [
            self._person(
                rng, self.opened + timedelta(days=30 * i), role=_USER_ROLES[i % len(_USER_ROLES)], active=i != 3
            )
            for i in range(scale.users)
        ]
        self.owner_people = [self._owner(rng, i) for i in range(scale.owners)]
        trades = _REPAIR_TRADES + _SERVICE_TRADES
        self.vendor_people = [self._vendor(rng, trades[i % len(trades)]) for i in range(scale.vendors)]
        self.tenant_people: list[_Person] = []
        self.paired: frozenset[int] = frozenset()  # account-wide unit positions: see _plan_properties
        self.offline: frozenset[int] = frozenset()
        self.property_plans = self._plan_properties(rng, scale)
        self.company_tasks = [
            self._task(rng, None, None, when, "INTERNAL_TASK", rng.choice(_INTERNAL_TASKS))
            for when in self._arrivals(rng, 3)
        ]

    # ---- plan -------------------------------------------------------------------------

    def _person(self, rng: random.Random, created: datetime, **facts: Any) -> _Person:
        return _Person(_new_id(rng), rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES), created, **facts)

    def _owner(self, rng: random.Random, index: int) -> _Person:
        """Owners; about one in ten is a former owner (inactive, no properties), some are companies."""
        owner = self._person(rng, self.opened + timedelta(days=rng.randint(0, 3 * 365)), active=index % 10 != 5)
        if rng.random() < 0.3:
            owner.company = f"{rng.choice(_STREETS)} {rng.choice(('Holdings', 'Capital', 'Properties'))} LLC"
        return owner

    def _vendor(self, rng: random.Random, trade: str) -> _Person:
        vendor = self._person(rng, self.opened + timedelta(days=rng.randint(0, 3 * 365)), role=trade)
        vendor.company = f"{vendor.last} {trade} {rng.choice(('Co', 'Services', 'Inc', 'LLC'))}"
        return vendor

    def _plan_properties(self, rng: random.Random, scale: Scale) -> list[_Property]:
        """Properties and their units (exactly ``scale.units``), single-family homes having one unit each.

        The rarer unit features are drawn as samples of fixed size over all units rather
        than unit by unit, so that even ``small`` has some: about 1 unit in 40 is let
        together with its neighbour, 1 in 20 is off the market, 1 in 50 has no market rent.
        """
        weights = [w for *_, w in _PROPERTY_KINDS]
        kinds = [rng.choices(_PROPERTY_KINDS, weights)[0][:2] for _ in range(scale.properties)]
        if all(kind == "SINGLE_FAMILY" for kind, _ in kinds):
            kinds[0] = ("MULTI_FAMILY", "RESIDENTIAL")
        multi = [i for i, (kind, _) in enumerate(kinds) if kind != "SINGLE_FAMILY"]
        sizes = [1] * scale.properties
        spare = scale.units - (scale.properties - len(multi))
        for i, size in zip(multi, _split(spare, [rng.lognormvariate(0, 0.6) for _ in multi], 2), strict=True):
            sizes[i] = size
        firsts = [sum(sizes[:i]) for i in range(scale.properties)]  # position of each property's first unit
        pairable = [firsts[i] + n for i in multi if sizes[i] >= 4 for n in range(sizes[i] - 1)]
        self.paired = frozenset(rng.sample(pairable, max(1, len(pairable) // 40)))
        self.offline = frozenset(rng.sample(range(scale.units), max(1, scale.units // 20)))
        plans = [self._plan_property(i, *kinds[i], firsts[i], sizes[i]) for i in range(scale.properties)]
        units = [unit for prop in plans for unit in prop.units]
        for unit in rng.sample(units, max(1, len(units) // 50)):
            unit.market_listed = False
        return plans

    def _plan_property(self, index: int, kind: str, klass: str, first: int, unit_count: int) -> _Property:
        rng = _rng(self.seed, "property", index)
        street = _street(rng)
        name = street if kind == "SINGLE_FAMILY" else f"{rng.choice(_STREETS)} {rng.choice(_NAME_SUFFIXES)}"
        split = rng.choices(_OWNERSHIP_SPLITS, _OWNERSHIP_WEIGHTS)[0]
        owners = rng.sample([o for o in self.owner_people if o.active], len(split))
        vendors = {}
        for trade in _REPAIR_TRADES + _SERVICE_TRADES:
            vendors[trade] = rng.choice([v for v in self.vendor_people if v.role == trade] or self.vendor_people)
        prop = _Property(
            _new_id(rng),
            name,
            kind,
            klass,
            street,
            rng.choice(_CITIES),
            [(o.id, share) for o, share in zip(owners, split, strict=True)],
            vendors,
        )
        prop.units = [self._unit(rng, prop, n) for n in range(unit_count)]
        occupants: dict[str, list[_Lease]] = {}
        for units, offline in self._spaces(rng, prop, first):
            leases = self._plan_space(rng, units, offline)
            prop.leases.extend(leases)
            for unit in units:
                occupants[unit.id] = leases
        first_created = min([lease.created for lease in prop.leases], default=datetime.combine(self.start, time(9)))
        prop.created = first_created - timedelta(days=rng.randint(1, 30))
        prop.tasks = self._plan_tasks(rng, prop, occupants)
        self._plan_prospects(rng, prop)
        return prop

    def _unit(self, rng: random.Random, prop: _Property, n: int) -> _Unit:
        if prop.kind == "SINGLE_FAMILY":
            name, beds, size = prop.street, rng.randint(2, 4), rng.randint(1_100, 2_400)
        elif prop.klass == "COMMERCIAL":
            name, beds, size = f"Suite {100 * (n // 10 + 1) + n % 10}", 0, rng.randint(600, 5_000)
        else:
            name, beds = f"{n // 8 + 1}{n % 8 + 1:02d}", rng.choices((0, 1, 2, 3), (10, 40, 38, 12))[0]
            size = 450 + 320 * beds + rng.randint(-60, 120)
        if prop.klass == "COMMERCIAL":
            market = size * rng.uniform(150, 260)
        else:
            market = (650 + 330 * beds) * 100 * prop.city.rent_factor * rng.uniform(0.9, 1.12)
            market *= 1.3 if prop.kind == "SINGLE_FAMILY" else 1.0
        baths = 1.0 if beds <= 1 else rng.choice((1.0, 1.5, 2.0, 2.5))
        return _Unit(_new_id(rng), name, beds, baths, size, _round_to(market, 500))

    def _spaces(self, rng: random.Random, prop: _Property, first: int) -> Iterator[tuple[list[_Unit], date | None]]:
        """Rentable spaces: a unit, or two neighbours always let together (a multi-unit lease).

        A space with an off-market unit was taken off the market before as_of: its units
        are inactive and its leases all ended by then. ``first`` is the account-wide
        position of the property's first unit.
        """
        units, i = prop.units, 0
        while i < len(units):
            width = 2 if first + i in self.paired else 1
            space = units[i : i + width]
            offline = None
            if any(first + n in self.offline for n in range(i, i + width)):
                offline = self.as_of - timedelta(days=rng.randint(15, 500))
                for unit in space:
                    unit.active = False
            yield space, offline
            i += width

    def _plan_space(self, rng: random.Random, units: list[_Unit], offline: date | None) -> list[_Lease]:
        """The leases of one space back to back: renewals, vacancies, and a future lease when already signed."""
        leases: list[_Lease] = []
        last_start = offline or self.as_of + timedelta(days=90)
        start = self.start - timedelta(days=rng.randint(0, 3 * 365))
        renewing: _Lease | None = None  # the lease a renewal follows (same household)
        rent = self._asking_rent(rng, units, start)
        while start <= last_start:
            if start > self.as_of and not self._signed_ahead(rng, start, renewal=renewing is not None):
                break
            lease = self._lease(rng, units, start, rent, renewing)
            if offline is not None and lease.until > offline:
                lease.vacated = offline
            leases.append(lease)
            if lease.start > self.as_of:
                break
            if lease.vacated is None:
                start, rent, renewing = lease.until + _DAY, _round_to(rent * rng.uniform(1.02, 1.06), 500), lease
            else:
                start = lease.vacated + timedelta(days=1 + self._vacancy_days(rng))
                rent, renewing = self._asking_rent(rng, units, start), None
        return leases

    @staticmethod
    def _vacancy_days(rng: random.Random) -> int:
        """Days a space stands empty between households: usually weeks, now and then months."""
        slow_to_let = rng.randint(30, 150) if rng.random() < 0.15 else 0
        return int(rng.expovariate(1 / 30)) + slow_to_let

    def _signed_ahead(self, rng: random.Random, start: date, renewal: bool) -> bool:
        """Whether a lease starting after as_of is already signed (so it exists as a future lease)."""
        return start - self.as_of <= timedelta(days=75) if renewal else rng.random() < 0.5

    def _asking_rent(self, rng: random.Random, units: list[_Unit], start: date) -> int:
        """Rent for a new lease: today's market rent deflated ~3.5 % a year back to ``start``."""
        years_ago = max((self.as_of - start).days, 0) / 365
        market = sum(unit.market_cents for unit in units)
        return _round_to(market * 1.035**-years_ago * rng.uniform(0.94, 1.04), 500)

    def _household(self, rng: random.Random, start: date) -> list[_Person]:
        # before the lease is drawn up (a future lease's tenants were entered by as_of, before its lease)
        created = min(_at(rng, start - timedelta(days=rng.randint(46, 90))), datetime.combine(self.as_of, time()))
        size = rng.choices((1, 2, 3), (62, 30, 8))[0]
        people = [self._person(rng, created) for _ in range(size)]
        if size > 1 and rng.random() < 0.6:
            for person in people[1:]:
                person.last = people[0].last
        self.tenant_people.extend(people)
        return people

    def _lease(self, rng: random.Random, units: list[_Unit], start: date, rent: int, renewing: _Lease | None) -> _Lease:
        """A new lease; a renewal keeps the household and its deposit."""
        term, end, rollover, vacated = self._tenancy(rng, start)
        if renewing is None:
            tenants, deposit = self._household(rng, start), 0 if rng.random() < 0.1 else _round_to(rent, 5_000)
        else:
            tenants, deposit = renewing.tenants, renewing.deposit_cents
        created = min(_at(rng, start - timedelta(days=rng.randint(7, 45))), _at(rng, self.as_of, 7, 8))
        payer = rng.choices([p for p, _ in _PAYERS], [w for _, w in _PAYERS])[0]
        return _Lease(
            _new_id(rng),
            units,
            tenants,
            start,
            end,
            term,
            rollover,
            renewing is not None,
            rent,
            deposit,
            payer,
            created,
            vacated,
        )

    @staticmethod
    def _tenancy(rng: random.Random, start: date) -> tuple[str, date | None, bool, date | None]:
        """Terms and outcome of a lease: (term, end, rolloverToAtWill, move-out or None if renewed).

        Fixed leases mostly run a year; households renew, move out at the end, break
        the lease early, or stay on after the end (month to month when the lease rolls
        over to at-will, otherwise a holdover). At-will leases have no end at all.
        """
        if rng.random() < 0.12:
            return "AtWill", None, False, start + timedelta(days=rng.randint(60, 900))
        end = _add_months(start, rng.choices((12, 6, 18, 24), (70, 8, 7, 15))[0]) - _DAY
        rollover = rng.random() < 0.3
        outcome = rng.random()
        if outcome < 0.45:
            vacated = None
        elif outcome < 0.51:
            vacated = start + timedelta(days=rng.randint(45, (end - start).days - 10))
        elif rollover and outcome < 0.8:
            vacated = end + timedelta(days=rng.randint(30, 420))
        elif outcome < 0.85:
            vacated = end + timedelta(days=rng.randint(5, 60))
        else:
            vacated = end - timedelta(days=rng.randint(0, 3))
        return "Fixed", end, rollover, vacated

    def _plan_prospects(self, rng: random.Random, prop: _Property) -> None:
        """Prospects: tenants who asked about a property but are on no lease."""
        for _ in range(len(prop.units) // 8 + rng.randint(0, 2)):
            created = _at(rng, self.start + timedelta(days=rng.randint(0, (self.as_of - self.start).days)))
            self.tenant_people.append(self._person(rng, created, prospect_of=prop))

    def _arrivals(self, rng: random.Random, per_year: float) -> list[datetime]:
        """Moments of a Poisson process over the history window, ``per_year`` on average."""
        moments, moment = [], datetime.combine(self.start, time())
        while True:
            moment += timedelta(days=rng.expovariate(per_year / 365))
            if moment >= self.cutoff:
                return moments
            moments.append(moment)

    def _plan_tasks(self, rng: random.Random, prop: _Property, occupants: dict[str, list[_Lease]]) -> list[_Task]:
        """Work orders and requests: per active unit, in common areas, and the manager's own tasks."""
        tasks = []
        for unit in (unit for unit in prop.units if unit.active):
            for kind, per_year in (("WORK_ORDER", 0.9), ("TENANT_REQUEST", 0.25)):
                for when in self._arrivals(rng, per_year):
                    tasks.append(self._task(rng, prop, unit, when, kind, rng.choice(_REPAIRS), occupants[unit.id]))
        for when in self._arrivals(rng, 1.5):
            tasks.append(self._task(rng, prop, None, when, "WORK_ORDER", rng.choice(_COMMON_AREA_REPAIRS)))
        for when in self._arrivals(rng, 1.0):
            tasks.append(self._task(rng, prop, None, when, "INTERNAL_TASK", rng.choice(_INTERNAL_TASKS)))
        for when in self._arrivals(rng, 0.3):
            tasks.append(self._task(rng, prop, None, when, "OWNER_REQUEST", rng.choice(_OWNER_REQUESTS)))
        return tasks

    def _task(
        self,
        rng: random.Random,
        prop: _Property | None,
        unit: _Unit | None,
        created: datetime,
        kind: str,
        subject: str,
        leases: Sequence[_Lease] = (),
    ) -> _Task:
        """A task with its outcome; work orders get a vendor and, once done, usually a vendor bill."""
        day = created.date()
        occupant = next((lease.tenants[0] for lease in leases if lease.start <= day <= lease.until), None)
        if kind == "TENANT_REQUEST" and occupant is None:
            kind = "INTERNAL_TASK"
        status, completed = self._task_outcome(rng, created)
        crew = [u.id for u in self.staff if u.active and u.role in ("Property Manager", "Maintenance Coordinator")]
        users = [rng.choice(crew or [self.staff[0].id])] if rng.random() < 0.9 else []
        task = _Task(_new_id(rng), kind, subject, prop, unit, created, status, completed, users, occupant)
        if kind == "WORK_ORDER" and prop is not None:
            task.vendor = prop.vendors[rng.choice(_REPAIR_TRADES)]
            if completed is not None and rng.random() < 0.8:
                task.bill_id = _new_id(rng)
                task.bill_cents = min(max(int(rng.lognormvariate(5.4, 0.8) * 100), 7_500), 800_000)
        return task

    def _task_outcome(self, rng: random.Random, created: datetime) -> tuple[str, datetime | None]:
        """(status, completedAt): a third done within 24 hours, most within two weeks, a few stall.

        Stalled tasks stay open for four months, then get archived.
        """
        draw = rng.random()
        if draw < 0.06:
            stale = created < self.cutoff - timedelta(days=120)
            return ("ARCHIVED" if stale else rng.choice(_OPEN_TASK_STATUSES)), None
        if draw < 0.35:
            hours = rng.uniform(0.5, 23.9)
        elif draw < 0.85:
            hours = rng.uniform(24, 14 * 24)
        else:
            hours = rng.uniform(14 * 24, 90 * 24)
        completed = created + timedelta(hours=hours)
        if completed >= self.cutoff:
            return rng.choice(_OPEN_TASK_STATUSES), None
        return "COMPLETED", completed

    # ---- rendering helpers ------------------------------------------------------------

    def audit(self, rng: random.Random, day: date) -> dict:
        """Audit fields of a record entered on ``day`` by a staff member."""
        stamp = _iso(_at(rng, day))
        user = rng.choice(self.staff).id
        return {"createdAt": stamp, "createdBy": user, "updatedAt": stamp, "updatedBy": user}

    def _stamped(self, rng: random.Random, created: datetime) -> dict:
        """Audit fields of a record created at ``created`` and last edited a little later (never after as_of).

        An edit drawn past as_of wraps back into [created, as_of] rather than piling up on as_of's last
        millisecond: a real account's newest edits are spread over its last hours, which is what lets a
        daily run that sorts by ``updatedAt`` stop after one page. Wrapping keeps the draws (and so every
        other record) as they were.
        """
        edited = timedelta(days=rng.randint(0, 90), milliseconds=rng.randint(0, 86_400_000))
        room = self.last_moment - created
        updated = created + (edited % room if edited > room > timedelta(0) else min(edited, room))
        return {
            "createdAt": _iso(created),
            "createdBy": self.staff[0].id,
            "updatedAt": _iso(updated),
            "updatedBy": rng.choice(self.staff).id,
        }

    def _in_window(self, moment: datetime) -> bool:
        return datetime.combine(self.start, time()) <= moment < self.cutoff

    @staticmethod
    def _address(street: str, city: _City, rng: random.Random) -> dict:
        return {
            "street1": street,
            "street2": None,
            "city": city.name,
            "state": city.state,
            "zip": f"{city.zip_prefix}{rng.randint(0, 99):02d}",
            "country": "US",
            "isValidAddress": True,
        }

    def _person_record(self, person: _Person, rng: random.Random) -> dict:
        """The DoorLoop person base shared by users, owners, vendors and tenants."""
        return {
            "id": person.id,
            "firstName": person.first,
            "lastName": person.last,
            "name": f"{person.company} | {person.name}" if person.company else person.name,
            "fullName": person.name,
            "company": person.company is not None,
            "companyName": person.company,
            "emails": [{"type": "Primary", "address": person.email}],
            "phones": [{"type": "Mobile", "number": person.phone}],
            "e164PhoneMobileNumber": person.phone,
            "primaryAddress": self._address(_street(rng), rng.choice(_CITIES), rng),
        }

    @staticmethod
    def _tax_info(person: _Person, rng: random.Random) -> dict:
        """Federal tax info: an EIN for companies, an SSN-like number otherwise (PII the normalized layer drops)."""
        taxpayer_id = (
            f"{rng.randint(10, 99)}-{rng.randint(1_000_000, 9_999_999)}"
            if person.company
            else f"9{rng.randint(0, 99):02d}-{rng.randint(70, 99)}-{rng.randint(0, 9999):04d}"
        )
        return {
            "addressFor1099SameAsPrimaryAddress": True,
            "taxpayerId": taxpayer_id,
            "taxpayerName": person.company or person.name,
        }

    def _tenant_record(self, tenant: _Person) -> dict:
        rng = _rng(self.seed, "tenant", tenant.id)
        record = self._person_record(tenant, rng)
        record.update(
            type="PROSPECT_TENANT" if tenant.prospect_of else "LEASE_TENANT",
            dateOfBirth=date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
            portalInfo={
                "allowAccess": tenant.prospect_of is None,
                "loginEmail": tenant.email,
                "status": "INACTIVE" if tenant.prospect_of else "ACTIVE",
            },
        )
        if rng.random() < 0.4:
            record["taxpayerId"] = self._tax_info(tenant, rng)["taxpayerId"]
        if tenant.prospect_of is not None:
            prop = tenant.prospect_of
            record["prospectInfo"] = {
                "status": rng.choice(("NEW", "CONTACT_MADE", "SHOWING_SCHEDULED", "APPLICATION_SENT", "CLOSED_LOST")),
                "leadSource": rng.choice(("Zillow", "Website", "Referral", "Walk-in")),
                "interests": [{"property": prop.id, "unit": rng.choice(prop.units).id if prop.units else None}],
                "expectedMoveInDate": (tenant.created.date() + timedelta(days=rng.randint(14, 60))).isoformat(),
            }
        record.update(self._stamped(rng, tenant.created))
        return record

    def _state(self, lease: _Lease) -> str:
        """FUTURE, CURRENT or PAST as of as_of (a renewed lease is past once its renewal has started)."""
        if lease.start > self.as_of:
            return "FUTURE"
        return "PAST" if lease.until < self.as_of or lease.vacated == self.as_of else "CURRENT"

    def _ledger(self, lease: _Lease) -> _Ledger:
        if self.ledgers is None:
            return _Ledger(self, lease)
        if lease.id not in self.ledgers:
            self.ledgers[lease.id] = _Ledger(self, lease)
        return self.ledgers[lease.id]

    def _lease_transactions(self, kind: str) -> Iterator[dict]:
        """One kind of ledger entry, lease by lease (unless kept, one lease's ledger in memory at a time)."""
        for prop in self.property_plans:
            for lease in prop.leases:
                if lease.start <= self.as_of and lease.until >= self.start:
                    yield from self._ledger(lease).records(kind)

    def _property_months(self, prop: _Property, scope: str) -> Iterator[tuple[random.Random, date]]:
        """(property's RNG for ``scope``, 1st of the month) over the history window."""
        rng = _rng(self.seed, scope, prop.id)
        for day in _month_days(self.start, self.as_of):
            yield rng, day

    def _vendor_document(
        self,
        rng: random.Random,
        vendor: _Person,
        prop: _Property,
        day: date,
        account_key: str,
        cents: int,
        memo: str,
        **fields: object,
    ) -> dict:
        """A vendor bill or credit with one line charged to ``prop``."""
        return _transaction(
            rng,
            self,
            day,
            [(self.chart[account_key], cents, memo)],
            memo,
            linked_property=prop.id,
            vendor=vendor.id,
            dueDate=(day + timedelta(days=30)).isoformat(),
            **fields,
        )

    def _touchpoints(
        self, scope: str, per_lease: float, per_task: float, per_property_year: float
    ) -> Iterator[tuple[random.Random, str, str, datetime]]:
        """Moments something was written down about a lease, a task or a property, within the window.

        Yields (RNG, resourceId, resourceType, moment); notes and files both hang off these.
        """
        for prop in self.property_plans:
            rng = _rng(self.seed, scope, prop.id)
            for lease in prop.leases:
                if rng.random() < per_lease:
                    moment = lease.created + timedelta(days=rng.uniform(0, 400))
                    if self._in_window(moment):
                        yield rng, lease.id, "LEASE", moment
            for task in prop.tasks:
                if rng.random() < per_task:
                    moment = task.created + timedelta(hours=rng.uniform(0.1, 72))
                    if self._in_window(moment):
                        yield rng, task.id, "TASK", moment
            for moment in self._arrivals(rng, per_property_year):
                yield rng, prop.id, "PROPERTY", moment

    def _linked(self, rng: random.Random, resource_id: str, resource_type: str, moment: datetime) -> dict:
        return {
            "linkedResource": {"resourceId": resource_id, "resourceType": resource_type},
            "createdAt": _iso(moment),
            "createdBy": rng.choice(self.staff).id,
        }

    @staticmethod
    def _participant(person: _Person, kind: str, address: str) -> dict:
        return {"address": address, "linkedToId": person.id, "linkedToType": kind, "displayName": person.name}

    def _message(
        self, rng: random.Random, subject: str, kind: str, sender: dict, recipients: list[dict], moment: datetime
    ) -> dict:
        status = rng.choices(("SENT", "DELIVERED", "OPENED", "CLICKED", "BOUNCED", "FAILED"), (20, 40, 30, 5, 3, 2))[0]
        message = {
            "id": _new_id(rng),
            "subject": subject,
            "type": kind,
            "status": status,
            "from": sender,
            "to": recipients,
            "cc": [],
            "sentAt": _iso(moment),
            "threadId": _new_id(rng),
            "bodyPreview": f"{subject}. Please contact the office with any questions.",
        }
        if status in ("OPENED", "CLICKED"):
            message["openedAt"] = [_iso(min(moment + timedelta(hours=rng.uniform(0.1, 48)), self.last_moment))]
        return message

    # ---- entities (one method per registry entity, same name) --------------------------

    def accounts(self) -> Iterator[dict]:
        rng = _rng(self.seed, "accounts")
        for key, name, kind, active in _CHART:
            yield {
                "id": self.chart[key],
                "name": name,
                "active": active,
                "type": kind,
                "class": kind.split("_")[0],
                "fullyQualifiedName": name,
                "systemAccount": key in ("receivable", "undeposited", "payable"),
                "description": f"{name} ({kind.replace('_', ' ').lower()})",
                **self._stamped(rng, self.opened),
            }

    def users(self) -> Iterator[dict]:
        for user in self.staff:
            rng = _rng(self.seed, "user", user.id)
            yield {
                "id": user.id,
                "firstName": user.first,
                "lastName": user.last,
                "name": user.name,
                "loginEmail": user.email,
                "role": user.role,
                "active": user.active,
                "status": "ACTIVE" if user.active else "INACTIVE",
                "owner": user is self.staff[0],
                "lastSeenAt": _iso(_at(rng, self.as_of - timedelta(days=rng.randint(0, 20)))),
                **self._stamped(rng, user.created),
            }

    def owners(self) -> Iterator[dict]:
        owned: dict[str, list[str]] = {}
        for prop in self.property_plans:
            for owner_id, _ in prop.owners:
                owned.setdefault(owner_id, []).append(prop.id)
        for owner in self.owner_people:
            rng = _rng(self.seed, "owner", owner.id)
            record = self._person_record(owner, rng)
            record.update(
                active=owner.active,
                managementStartDate=owner.created.date().isoformat(),
                managementEndDate=None if owner.active else (self.start - _DAY).isoformat(),
                federalTaxInfo=self._tax_info(owner, rng),
                properties=owned.get(owner.id, []),
                **self._stamped(rng, owner.created),
            )
            yield record

    def vendors(self) -> Iterator[dict]:
        served: dict[str, list[str]] = {}
        for prop in self.property_plans:
            for vendor_id in dict.fromkeys(vendor.id for vendor in prop.vendors.values()):
                served.setdefault(vendor_id, []).append(prop.id)
        for vendor in self.vendor_people:
            rng = _rng(self.seed, "vendor", vendor.id)
            record = self._person_record(vendor, rng)
            expires = self.as_of + timedelta(days=rng.randint(-60, 365))
            record.update(
                active=vendor.active,
                services=[vendor.role],
                properties=served.get(vendor.id, []),
                federalTaxInfo=self._tax_info(vendor, rng),
                insuranceInfo={
                    "provider": "Acme Mutual",
                    "policyNumber": f"PL-{rng.randint(10**6, 10**7)}",
                    "coverage": 1_000_000,
                    "effectiveDate": _years_before(expires, 1).isoformat(),
                    "expirationDate": expires.isoformat(),
                },
                **self._stamped(rng, vendor.created),
            )
            yield record

    def portfolios(self) -> Iterator[dict]:
        """One portfolio per state, holding that state's properties."""
        rng = _rng(self.seed, "portfolios")
        by_state: dict[str, list[str]] = {}
        for prop in self.property_plans:
            by_state.setdefault(prop.city.state, []).append(prop.id)
        for state, members in sorted(by_state.items()):
            yield {
                "id": _new_id(rng),
                "name": f"{state} Portfolio",
                "properties": members,
                **self._stamped(rng, self.opened),
            }

    def properties(self) -> Iterator[dict]:
        for prop in self.property_plans:
            rng = _rng(self.seed, "property-record", prop.id)
            label = prop.kind.replace("_", " ").title()
            yield {
                "id": prop.id,
                "name": prop.name,
                "type": prop.kind,
                "typeDescription": label,
                "class": prop.klass,
                "active": True,
                "address": self._address(prop.street, prop.city, rng),
                "description": f"{label} in {prop.city.name}",
                "owners": [{"owner": owner, "ownershipPercentage": share} for owner, share in prop.owners],
                "numActiveUnits": sum(unit.active for unit in prop.units),
                "amenities": [],
                "settings": {
                    "defaultAccounts": {
                        "bank_operating": self.chart["operating_bank"],
                        "bank_trust": self.chart["trust_bank"],
                    }
                },
                **self._stamped(rng, prop.created),
            }

    def units(self) -> Iterator[dict]:
        for prop in self.property_plans:
            rng = _rng(self.seed, "unit-records", prop.id)
            for unit in prop.units:
                yield {
                    "id": unit.id,
                    "name": unit.name,
                    "property": prop.id,
                    "active": unit.active,
                    "addressSameAsProperty": True,
                    "beds": unit.beds,
                    "baths": unit.baths,
                    "size": unit.size,
                    "marketRent": _money(unit.market_cents) if unit.market_listed else None,
                    "inEviction": False,
                    **self._stamped(rng, prop.created),
                }

    def tenants(self) -> Iterator[dict]:
        return map(self._tenant_record, self.tenant_people)

    def leases(self) -> Iterator[dict]:
        for prop in self.property_plans:
            for lease in prop.leases:
                rng = _rng(self.seed, "lease-record", lease.id)
                state = self._state(lease)
                balance = self._ledger(lease).balance
                yield {
                    "id": lease.id,
                    "name": " & ".join(tenant.name for tenant in lease.tenants),
                    "reference": str(rng.randint(1_000, 99_999)),
                    "property": prop.id,
                    "units": [unit.id for unit in lease.units],
                    "start": lease.start.isoformat(),
                    "end": lease.end.isoformat() if lease.end else None,
                    "term": lease.term,
                    "rolloverToAtWill": lease.rollover,
                    "status": "INACTIVE" if state == "PAST" else "ACTIVE",
                    "evictionPending": state == "CURRENT" and balance > 2 * lease.rent_cents and rng.random() < 0.6,
                    "proofOfInsuranceRequired": rng.random() < 0.3,
                    "recurringRentFrequency": "Monthly",
                    "totalRecurringRent": _money(lease.rent_cents),
                    "totalRecurringCharges": _money(lease.rent_cents),
                    "totalRecurringCredits": 0.0,
                    "totalDepositsHeld": _money(lease.deposit_cents if state != "PAST" else 0),
                    "totalBalanceDue": _money(balance),
                    **self._stamped(rng, lease.created),
                }

    def lease_tenants(self) -> Iterator[dict]:
        """One row per tenant per lease; sometimes a roommate moves out before the others."""
        for prop in self.property_plans:
            for lease in prop.leases:
                rng = _rng(self.seed, "lease-tenants", lease.id)
                state = self._state(lease)
                moved_out = lease.vacated if state == "PAST" else None
                notice = None
                if lease.vacated and state != "FUTURE" and lease.vacated - timedelta(days=30) <= self.as_of:
                    notice = lease.vacated - timedelta(days=rng.randint(30, 60))
                leaver = len(lease.tenants) > 1 and lease.vacated and state != "FUTURE" and rng.random() < 0.1
                for position, tenant in enumerate(lease.tenants):
                    row_out, row_state, row_notice = moved_out, state, notice
                    if leaver and position == len(lease.tenants) - 1:
                        stayed = (min(lease.until, self.as_of) - lease.start).days
                        row_out = lease.start + timedelta(days=rng.randint(0, max(stayed, 0)))
                        row_state, row_notice = "PAST", None
                    yield {
                        "id": _new_id(rng),
                        "lease": lease.id,
                        "name": tenant.name,
                        "property": prop.id,
                        "units": [unit.id for unit in lease.units],
                        "status": row_state,
                        "moveInAt": lease.start.isoformat() if state != "FUTURE" else None,
                        "moveOutAt": row_out.isoformat() if row_out else None,
                        "moveOutNoticeAt": row_notice.isoformat() if row_notice else None,
                        "portalEnabled": rng.random() < 0.8,
                        "tenant": self._tenant_record(tenant),
                    }

    def lease_charges(self) -> Iterator[dict]:
        return self._lease_transactions("charges")

    def lease_credits(self) -> Iterator[dict]:
        return self._lease_transactions("credits")

    def lease_payments(self) -> Iterator[dict]:
        return self._lease_transactions("payments")

    def lease_reversed_payments(self) -> Iterator[dict]:
        return self._lease_transactions("reversed_payments")

    def tasks(self) -> Iterator[dict]:
        for task in [*self.company_tasks, *(task for prop in self.property_plans for task in prop.tasks)]:
            rng = _rng(self.seed, "task", task.id)
            record = {
                "id": task.id,
                "reference": str(rng.randint(1_000, 99_999)),
                "subject": task.subject,
                "description": f"{task.subject}. Reported {task.created:%Y-%m-%d}.",
                "type": task.type,
                "status": task.status,
                "priority": rng.choices(("LOW", "MEDIUM", "HIGH"), (30, 50, 20))[0],
                "dueDate": (task.created.date() + timedelta(days=rng.randint(1, 14))).isoformat(),
                "property": task.property.id if task.property else None,
                "unit": task.unit.id if task.unit else None,
                "assignedToUsers": task.users,
                "entryPermission": "YES" if task.unit else "NOT_APPLICABLE",
            }
            if task.requester is not None:
                record["requestedByTenant"] = task.requester.id
            elif task.type == "OWNER_REQUEST" and task.property is not None:
                record["requestedByOwner"] = task.property.owners[0][0]
            else:
                record["requestedByUser"] = self.staff[0].id
            if task.type == "WORK_ORDER":
                record["workOrder"] = {
                    "assignedToVendor": task.vendor.id if task.vendor else None,
                    "approvedByOwner": task.bill_cents > 50_000 or rng.random() < 0.3,
                    "instructionsToVendor": f"Please fix: {task.subject.lower()}.",
                    "billed": task.bill_id is not None,
                    "vendorBill": task.bill_id,
                }
            record.update(self._stamped(rng, task.created))
            record["completedAt"] = _iso(task.completed) if task.completed else None
            if task.completed:
                record["updatedAt"] = _iso(task.completed)
            yield record

    def vendor_bills(self) -> Iterator[dict]:
        """Bills for completed work orders, and monthly service bills (landscaping, cleaning) of larger properties."""
        for prop in self.property_plans:
            rng = _rng(self.seed, "work-order-bills", prop.id)
            for task in prop.tasks:
                if task.bill_id is not None and task.vendor is not None and task.completed is not None:
                    yield self._vendor_document(
                        rng,
                        task.vendor,
                        prop,
                        task.completed.date(),
                        "repairs",
                        task.bill_cents,
                        task.subject,
                        record_id=task.bill_id,
                        workOrder=task.id,
                    )
            if len(prop.units) < 4:
                continue
            for month_rng, day in self._property_months(prop, "service-bills"):
                for trade, key in (("Landscaping", "landscaping"), ("Cleaning", "cleaning")):
                    cents = _round_to(len(prop.units) * month_rng.uniform(800, 1_600), 100)
                    yield self._vendor_document(
                        month_rng, prop.vendors[trade], prop, day, key, cents, f"{trade} {day:%B %Y}"
                    )

    def vendor_credits(self) -> Iterator[dict]:
        for prop in self.property_plans:
            for rng, month in self._property_months(prop, "vendor-credits"):
                day = month + timedelta(days=rng.randint(0, 27))
                if rng.random() < 0.04 and day <= self.as_of:
                    vendor = prop.vendors[rng.choice(_REPAIR_TRADES)]
                    yield self._vendor_document(
                        rng, vendor, prop, day, "repairs", rng.randint(20, 300) * 100, "Credit for duplicate invoice"
                    )

    def expenses(self) -> Iterator[dict]:
        """Utilities paid monthly (one line per utility) and insurance premiums quarterly."""
        for prop in self.property_plans:
            for rng, day in self._property_months(prop, "expenses"):
                paid = day + timedelta(days=rng.randint(5, 20))
                if paid > self.as_of:
                    continue
                size = len(prop.units)
                lines = [
                    (self.chart["utilities"], _round_to(size * rng.uniform(2_500, 6_000), 1), utility)
                    for utility in ("Water and sewer", "Electricity (common areas)")
                ]
                payee = prop.vendors["Utilities"]
                if day.month % 3 == 1:
                    premium = _round_to(size * rng.uniform(9_000, 15_000), 100)
                    lines.append((self.chart["insurance"], premium, "Quarterly insurance premium"))
                yield _transaction(
                    rng,
                    self,
                    paid,
                    lines,
                    f"Operating expenses {day:%B %Y}",
                    linked_property=prop.id,
                    payFromAccount=self.chart["operating_bank"],
                    paymentMethod=rng.choice(("CHECK", "EPAY", "CREDIT_CARD")),
                    payToResourceType="VENDOR",
                    payToResourceId=payee.id,
                )

    def notes(self) -> Iterator[dict]:
        for rng, resource_id, resource_type, moment in self._touchpoints("notes", 0.5, 0.3, 1.0):
            title = rng.choice(_NOTE_TITLES)
            yield {
                "id": _new_id(rng),
                "title": title,
                "body": f"{title}: discussed with the resident and logged.",
                "tags": [],
                **self._linked(rng, resource_id, resource_type, moment),
            }

    def files(self) -> Iterator[dict]:
        kinds = {
            "LEASE": ("Lease agreement.pdf", "application/pdf"),
            "TASK": ("Photo.jpg", "image/jpeg"),
            "PROPERTY": ("Insurance certificate.pdf", "application/pdf"),
        }
        for rng, resource_id, resource_type, moment in self._touchpoints("files", 0.7, 0.4, 0.5):
            name, mime = kinds[resource_type]
            yield {
                "id": _new_id(rng),
                "name": name,
                "notes": None,
                "tags": [],
                "size": rng.randint(40_000, 4_000_000),
                "mimeType": mime,
                **self._linked(rng, resource_id, resource_type, moment),
            }

    def communications(self) -> Iterator[dict]:
        """Rent reminders to tenants, texts when a tenant's work order is done, monthly owner statements.

        Automated messages come from DoorLoop itself (``SYSTEM``). The spec requires every
        participant's ``linkedToId``, so the system sender carries one id of its own, the
        same on every message of the account; it names no record of any list.
        """
        system = {
            "address": "noreply@example.com",
            "linkedToId": _new_id(_rng(self.seed, "system-sender")),
            "linkedToType": "SYSTEM",
            "displayName": "Property Management",
        }
        for prop in self.property_plans:
            rng = _rng(self.seed, "communications", prop.id)
            for lease in prop.leases:
                for day in _month_days(max(lease.start, self.start), min(lease.until, self.as_of)):
                    if rng.random() < 0.3:
                        recipients = [self._participant(t, "TENANT", t.email) for t in lease.tenants]
                        moment = _at(rng, day - timedelta(days=3) if day - timedelta(days=3) >= self.start else day)
                        yield self._message(rng, f"Rent reminder for {day:%B %Y}", "EMAIL", system, recipients, moment)
            for task in prop.tasks:
                if task.requester is not None and task.completed is not None and task.users:
                    sender = next(u for u in self.staff if u.id == task.users[0])
                    if self._in_window(task.completed):
                        yield self._message(
                            rng,
                            f"Completed: {task.subject}",
                            "TEXT",
                            self._participant(sender, "USER", sender.phone),
                            [self._participant(task.requester, "TENANT", task.requester.phone)],
                            task.completed,
                        )
        statements = _rng(self.seed, "owner-statements")
        for day in _month_days(self.start, self.as_of):
            for owner in self.owner_people:
                if owner.active:
                    yield self._message(
                        statements,
                        f"Owner statement {day:%B %Y}",
                        "EMAIL",
                        system,
                        [self._participant(owner, "OWNER", owner.email)],
                        _at(statements, day),
                    )


def _scale(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        raise KeyError(f"unknown scale {name!r}; known: {', '.join(SCALES)}") from None


def generate(scale: str = "small", seed: int = 0, as_of: date = DEFAULT_AS_OF) -> Iterator[tuple[str, Iterator[dict]]]:
    """(entity name, lazy record iterator) for every registry entity, in registry order.

    Master data is planned when this is called; transaction records are produced only
    as the iterators are consumed, lease by lease and property by property.
    """
    return _streams(_Account(_scale(scale), seed, as_of))


def _streams(account: _Account) -> Iterator[tuple[str, Iterator[dict]]]:
    return ((name, iter(getattr(account, name)())) for name in ENTITIES)


def generate_dataset(scale: str = "small", seed: int = 0, as_of: date = DEFAULT_AS_OF) -> dict[str, list[dict]]:
    """Every registry entity as a list in memory (for small and medium; large is for :func:`export`)."""
    account = _Account(_scale(scale), seed, as_of, keep_ledgers=True)
    return {name: list(records) for name, records in _streams(account)}


def export(directory: Path, scale: str = "small", seed: int = 0, as_of: date = DEFAULT_AS_OF) -> dict[str, int]:
    """Write ``directory/<entity>.json`` (one JSON array each), record by record; returns counts per entity."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, records in generate(scale, seed, as_of):
        count = 0
        with (directory / f"{name}.json").open("w", encoding="utf-8") as out:
            out.write("[")
            for record in records:
                out.write(",\n" if count else "\n")
                out.write(json.dumps(record, separators=(",", ":")))
                count += 1
            out.write("\n]\n" if count else "]\n")
        counts[name] = count
    return counts
