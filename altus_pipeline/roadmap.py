"""The naming roadmap: ``roadmap_backend_cleanup_plan.md`` as code.

The plan's one fenced ``yaml`` block lists every warehouse object by layer, with its SQL
file and the naming rule of each layer. ``validate`` holds the ``sql/`` folder, the
Dagster ``Definitions`` and (optionally) the database to it and returns one line per
violation; the ``roadmap_naming`` asset checks reuse ``asset_violations``. A name with
``{entity}`` is expanded over the entity registry, as the migrations render it, so the plan
cannot fall behind the registry.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from altus_pipeline.doorloop.registry import DERIVED_ENTITIES, ENTITIES
from altus_pipeline.project_files import project_root
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.migrations import TEMPLATE_MARK

REPO_ROOT = project_root()
PLAN_NAME = "roadmap_backend_cleanup_plan.md"
CHECK_NAME = "roadmap_naming"
FILE_KIND = "file"  # an asset written outside the warehouse (an export); its file is the module writing it
CODE_ROOT = Path(__file__).resolve().parents[1]  # where a FILE_KIND object's module is, checkout or installed
KINDS = frozenset({"table", "view", "materialized_view", FILE_KIND})
MAX_IDENTIFIER = 63  # PostgreSQL silently truncates longer names
_BLOCK = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_RULE = re.compile(r"^([a-z][a-z0-9_]*)<(entity|name)>$")
_NAME = re.compile(r"^[a-z0-9_]+$")
# pg_class.relkind of the relations a plan can declare (indexes, sequences are not objects)
_RELKINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized_view", "f": "foreign table"}


class PlanError(ValueError):
    """The plan's machine-readable block is missing or malformed."""


@dataclass(frozen=True)
class Rule:
    """A layer's naming rule: a fixed prefix, then ``<entity>`` or ``<name>``."""

    text: str
    prefix: str
    placeholder: str

    @classmethod
    def parse(cls, text: str) -> Rule:
        match = _RULE.match(text)
        if match is None:
            raise PlanError(f"rule {text!r} is not '<prefix><entity>' or '<prefix><name>'")
        return cls(text, *match.groups())

    def matches(self, name: str, entities: frozenset[str]) -> bool:
        if not name.startswith(self.prefix):
            return False
        rest = name[len(self.prefix) :]
        return rest in entities if self.placeholder == "entity" else bool(_NAME.match(rest))


@dataclass(frozen=True)
class Layer:
    name: str
    rule: Rule
    asset_group: str


@dataclass(frozen=True)
class PlannedObject:
    """One object of the plan; ``declared`` is its name as written (a template for raw tables)."""

    name: str
    layer: str
    kind: str
    file: str
    declared: str


@dataclass(frozen=True)
class Plan:
    layers: Mapping[str, Layer]
    objects: Mapping[str, PlannedObject]
    entities: frozenset[str]

    def layer_of_group(self, group: str) -> Layer | None:
        return next((layer for layer in self.layers.values() if layer.asset_group == group), None)

    def naming_violations(self, name: str, layer: str) -> list[str]:
        """Why ``name`` is not a valid name for ``layer`` (empty when it is).

        The layer with the longest matching prefix owns a name, so a name of the raw
        layer's shape cannot be planned, nor pass, as an ops object.
        """
        rule = self.layers[layer].rule
        problems = [] if rule.matches(name, self.entities) else [f"does not match the {layer} rule {rule.text}"]
        owner = max(
            (other for other in self.layers.values() if name.startswith(other.rule.prefix)),
            key=lambda other: len(other.rule.prefix),
            default=None,
        )
        if owner is not None and owner.name != layer:
            problems.append(f"is named like the {owner.name} layer ({owner.rule.text}), not {layer}")
        if len(name) > MAX_IDENTIFIER:
            problems.append(f"is longer than PostgreSQL's {MAX_IDENTIFIER}-character identifier limit")
        return problems


# -- reading the plan -----------------------------------------------------------------


def _block(text: str) -> Mapping[str, Any]:
    blocks = _BLOCK.findall(text)
    if len(blocks) != 1:
        raise PlanError(f"expected exactly one ```yaml block, found {len(blocks)}")
    try:
        data = yaml.safe_load(blocks[0])
    except yaml.YAMLError as exc:
        raise PlanError(f"the yaml block does not parse: {exc}".replace("\n", " ")) from None
    if not isinstance(data, dict) or not isinstance(data.get("layers"), dict):
        raise PlanError("the yaml block has no 'layers:' mapping")
    return data


def _field(entry: Any, key: str, where: str) -> str:
    """A required, non-empty string of a plan entry (which may not even be a mapping)."""
    value = entry.get(key) if isinstance(entry, dict) else None
    if not isinstance(value, str) or not value:
        raise PlanError(f"{where}: '{key}' is missing or not a string")
    return value


def _derived_entities(data: Mapping[str, Any]) -> frozenset[str]:
    """Entities the pipeline derives from a registry entity (no DoorLoop endpoint of their own)."""
    derived = data.get("derived_entities") or {}
    if not isinstance(derived, dict):
        raise PlanError("'derived_entities' is not a mapping of entity to registry entity")
    for name, base in derived.items():
        if name in ENTITIES:
            raise PlanError(f"derived entity {name}: already a registry entity")
        if base not in ENTITIES:
            raise PlanError(f"derived entity {name}: its source {base!r} is not a registry entity")
    registry = {d.name: d.source for d in DERIVED_ENTITIES.values()}
    if derived != registry:
        raise PlanError(f"derived_entities {derived} differ from the registry's {registry}")
    return frozenset(derived)


def _expand(entry: Any, layer: str) -> Iterable[PlannedObject]:
    where = f"layer {layer} object {entry.get('name') if isinstance(entry, dict) else repr(entry)}"
    declared, kind, file = (_field(entry, key, where) for key in ("name", "kind", "file"))
    if kind not in KINDS:
        raise PlanError(f"{where}: kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    names = [declared.replace(TEMPLATE_MARK, e) for e in ENTITIES] if TEMPLATE_MARK in declared else [declared]
    return (PlannedObject(name, layer, kind, file, declared) for name in names)


def _layer_objects(layer: str, entry: Mapping[str, Any]) -> list[PlannedObject]:
    items = entry.get("objects") or []
    if not isinstance(items, list):
        raise PlanError(f"layer {layer}: 'objects' is not a list")
    return [obj for item in items for obj in _expand(item, layer)]


def _layer(name: str, entry: Any) -> Layer:
    return Layer(
        name, Rule.parse(_field(entry, "rule", f"layer {name}")), _field(entry, "asset_group", f"layer {name}")
    )


def parse_plan(text: str) -> Plan:
    """The plan of a roadmap document's text; ``PlanError`` says what is wrong with it.

    Names and asset groups must be unique: each object and each asset has one layer.
    """
    data = _block(text)
    layers: dict[str, Layer] = {}
    objects: dict[str, PlannedObject] = {}
    for layer_name, entry in data["layers"].items():
        layer = _layer(layer_name, entry)
        owner = next((other.name for other in layers.values() if other.asset_group == layer.asset_group), None)
        if owner is not None:
            raise PlanError(f"layer {layer_name}: asset_group {layer.asset_group!r} is already that of layer {owner}")
        layers[layer_name] = layer
        for obj in _layer_objects(layer_name, entry):
            if obj.name in objects:
                raise PlanError(f"object {obj.name}: planned twice (layers {objects[obj.name].layer} and {layer_name})")
            objects[obj.name] = obj
    return Plan(layers, objects, frozenset(ENTITIES) | _derived_entities(data))


def load_plan(root: Path = REPO_ROOT) -> Plan:
    """The plan as its file reads now: an edited plan is seen at once, an unchanged one is not
    parsed again (a run evaluates ``roadmap_naming`` once per asset, 22 in a sync)."""
    return _parse_text((root / PLAN_NAME).read_text())


@functools.lru_cache(maxsize=4)
def _parse_text(text: str) -> Plan:
    return parse_plan(text)


# -- validation -----------------------------------------------------------------------


def _object_violations(plan: Plan) -> list[str]:
    return [f"object {o.name}: {p}" for o in plan.objects.values() for p in plan.naming_violations(o.name, o.layer)]


def _file_violations(plan: Plan, root: Path) -> list[str]:
    """Each planned file exists and is named like its object; each file under sql/ is planned."""
    declared = {(o.declared, o.layer, o.file) for o in plan.objects.values() if o.kind != FILE_KIND}
    problems = [
        f"object {name}: file {file} is not named like it (expected sql/{layer}/{name}.sql)"
        for name, layer, file in declared
        if file != f"sql/{layer}/{name}.sql"
    ]
    problems += [
        f"object {name}: its file {file} does not exist"
        for name, file, kind in {(o.declared, o.file, o.kind) for o in plan.objects.values()}
        if not ((CODE_ROOT if kind == FILE_KIND else root) / file).is_file()
    ]
    planned_files = {file for _, _, file in declared}
    present = (p.relative_to(root).as_posix() for p in (root / "sql").rglob("*") if p.is_file())
    problems += [
        f"file {file}: not the file of any object in the plan" for file in present if file not in planned_files
    ]
    return sorted(problems)


def asset_violations(plan: Plan, key: dg.AssetKey, group: str) -> list[str]:
    """Why an asset in Dagster group ``group`` breaks the plan (empty when it does not)."""
    name = key.to_user_string()
    layer = plan.layer_of_group(group)
    if layer is None:
        return [f"asset {name}: group {group!r} is the asset_group of no layer in the plan"]
    planned = plan.objects.get(name)
    if planned is None:
        problems = [f"not a planned object of the {layer.name} layer"]
    elif planned.layer != layer.name:
        problems = [f"planned under layer {planned.layer}, but its group {group!r} is layer {layer.name}"]
    else:
        problems = []
    return [f"asset {name}: {p}" for p in problems + plan.naming_violations(name, layer.name)]


def _definitions_violations(plan: Plan, defs: dg.Definitions) -> list[str]:
    """Every asset is planned under its group's layer and carries a ``roadmap_naming`` check."""
    checked = {c.asset_key for c in defs.resolve_asset_graph().asset_check_keys if c.name == CHECK_NAME}
    problems: list[str] = []
    for spec in defs.resolve_all_asset_specs():
        problems += asset_violations(plan, spec.key, spec.group_name)
        if spec.key not in checked:
            problems.append(f"asset {spec.key.to_user_string()}: has no {CHECK_NAME} check")
    return sorted(problems)


_RELATIONS = """
SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = ANY(%s) AND NOT c.relispartition
"""


def _database_violations(plan: Plan, warehouse: Warehouse) -> list[str]:
    """Every planned object exists in the schema with its kind, and nothing unplanned does."""
    with warehouse.connect() as conn:
        rows = conn.execute(_RELATIONS, (warehouse.schema, list(_RELKINDS))).fetchall()
    present = {name: _RELKINDS[kind] for name, kind in rows}
    schema = warehouse.schema
    planned = sorted((n, o) for n, o in plan.objects.items() if o.kind != FILE_KIND)
    problems = [f"object {n}: missing from schema {schema}" for n, _ in planned if n not in present]
    problems += [
        f"object {n}: is a {present[n]} in schema {schema}, planned as {o.kind}"
        for n, o in planned
        if n in present and present[n] != o.kind
    ]
    problems += [
        f"database {schema}.{n} ({kind}): not in the plan"
        for n, kind in sorted(present.items())
        if n not in plan.objects
    ]
    return problems


def validate(defs: dg.Definitions, warehouse: Warehouse | None = None, root: Path = REPO_ROOT) -> list[str]:
    """Every violation of the plan under ``root`` by its ``sql/`` folder, ``defs`` and, when
    given, the warehouse schema: one line each, naming the object, file or asset."""
    try:
        plan = load_plan(root)
    except PlanError as exc:
        return [f"{PLAN_NAME}: {exc}"]
    problems = _object_violations(plan) + _file_violations(plan, root) + _definitions_violations(plan, defs)
    return problems + (_database_violations(plan, warehouse) if warehouse is not None else [])
