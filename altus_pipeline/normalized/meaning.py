"""What each column of a normalized table means, in words, from the spec.

One source for ``docs/data_model.md`` (``altus docs``) and for the ``COMMENT ON COLUMN``
text migrations give the normalized tables (``warehouse/comments.py``). Markdown code
marks (backticks) are the docs'; comments drop them.
"""

from __future__ import annotations

from altus_pipeline.normalized.spec import GONE, Child, Column, Table

KIND_MEANING = {
    "text": "text",
    "enum": "one of",
    "date": "date",
    "timestamptz": "timestamp (UTC)",
    "money": "money (numeric(14,2), rounded half-up)",
    "numeric": "number",
    "integer": "integer",
    "boolean": "true/false",
    "jsonb": "JSON as DoorLoop sent it",
    "ref_id": "a DoorLoop id (no table of ours)",
}
REF_MEANING = {
    "required": "required: a missing or dangling one rejects the record to the DLQ",
    "strict": "may be absent; a dangling one rejects the record to the DLQ",
    "optional": "optional: a dangling one is NULL and waits in normalized_pending_references",
}
# Columns every normalized main table has besides its spec's: (name, type, meaning).
FIXED_HEAD = (
    ("id", "uuid", "primary key: uuid5 of the entity and the DoorLoop id"),
    ("doorloop_id", "text", "DoorLoop's id of the record (unique)"),
)
FIXED_TAIL = (
    ("normalized_at", "timestamptz", "when this row was last written"),
    ("last_run_id", "text", "the Dagster run that last wrote it"),
    (GONE, "timestamptz", "set when the record left while other rows still point at it; NULL: live"),
)


def column_meaning(c: Column) -> str:
    """A spec column's meaning (markdown)."""
    if c.kind == "ref":
        meaning = f"→ `{c.target}.id`; {REF_MEANING[c.mode]}"
    elif c.kind == "enum":
        meaning = "one of " + ", ".join(f"`{v}`" for v in c.domain)
    else:
        meaning = KIND_MEANING[c.kind]
    if c.required and c.kind != "ref":
        meaning += "; required (missing or unparseable rejects the record)"
    return meaning


def child_head(parent: Table, ch: Child) -> tuple[tuple[str, str, str], ...]:
    """The columns a junction or line table has before its spec's: (name, type, meaning)."""
    head = [(ch.parent_column, "uuid", f"→ `{parent.name}.id` (deleted with it)")]
    if ch.role:
        head.append((ch.role, "text", f"the array the row came from: {', '.join(f'`{a}`' for a in ch.arrays)}"))
    if ch.lines:
        head.append(("line_number", "integer", "position in the array, from 1"))
    return tuple(head)


def column_comments(parent: Table, ch: Child | None = None) -> dict[str, str]:
    """Every column of ``parent`` (or of its child ``ch``) with its meaning and DoorLoop key, plain text."""
    if ch is None:
        rows = [(n, m) for n, _, m in FIXED_HEAD]
        rows += [(c.name, f"{column_meaning(c)} (DoorLoop key {c.source})") for c in parent.columns]
        rows += [(n, m) for n, _, m in FIXED_TAIL]
    else:
        rows = [(n, m) for n, _, m in child_head(parent, ch)]
        rows += [(c.name, f"{column_meaning(c)} (DoorLoop key {ch.source}[].{c.source})") for c in ch.columns]
    return {name: text.replace("`", "") for name, text in rows}
