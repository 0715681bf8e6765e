"""Every check of one asset evaluated in one Dagster step.

Dagster runs each ``@asset_check`` as a step of its own, and a step costs about 15 ms of
its bookkeeping whatever the check does (start and success events, a data-version lookup
that lists every partition of a partitioned asset): a full sync spent a second on 66
check steps, a normalize two on over a hundred. Each module still declares its checks one
by one with ``check`` (named, described, blocking or not, and callable alone in tests);
``one_step_per_asset`` makes those of one asset a single ``multi_asset_check``, which
evaluates the selected ones in turn. The UI still lists, and executes, each check on its own.
"""

import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg


@dataclass(frozen=True)
class Check:
    """One asset check: its spec, and the function that evaluates it from resources given by name."""

    spec: dg.AssetCheckSpec
    evaluate: Callable[..., dg.AssetCheckResult]

    @property
    def resource_keys(self) -> tuple[str, ...]:
        """The resources the function takes, by parameter name (``warehouse``), as Dagster's checks do."""
        return tuple(inspect.signature(self.evaluate).parameters)

    def __call__(self, **resources: Any) -> dg.AssetCheckResult:
        return self.evaluate(**resources)


def check(
    *, asset: str | dg.AssetKey, name: str, description: str, blocking: bool = False
) -> Callable[[Callable[..., dg.AssetCheckResult]], Check]:
    """Declare a check as ``dg.asset_check`` would, without making it a step of its own."""

    def declare(evaluate: Callable[..., dg.AssetCheckResult]) -> Check:
        spec = dg.AssetCheckSpec(name, asset=asset, description=description, blocking=blocking)
        return Check(spec, evaluate)

    return declare


def one_step_per_asset(checks: Iterable[Check]) -> list[dg.AssetChecksDefinition]:
    """One ``multi_asset_check`` per checked asset, holding its checks in declaration order."""
    by_asset: dict[dg.AssetKey, list[Check]] = {}
    for c in checks:
        by_asset.setdefault(c.spec.asset_key, []).append(c)
    return [_one_step(key, of_asset) for key, of_asset in by_asset.items()]


def _one_step(key: dg.AssetKey, checks: list[Check]) -> dg.AssetChecksDefinition:
    names = [c.spec.name for c in checks]
    if len(set(names)) != len(names):
        raise ValueError(f"{key.to_user_string()}: two checks share a name in {names}")

    @dg.multi_asset_check(
        specs=[c.spec for c in checks],
        name=f"{key.to_python_identifier()}_checks",
        can_subset=True,
        required_resource_keys={k for c in checks for k in c.resource_keys},
    )
    def _checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        # A check that cannot run fails the step once the others have reported, as it
        # would have failed a step of its own; their results are kept.
        error: Exception | None = None
        for c in checks:
            if c.spec.key not in context.selected_asset_check_keys:
                continue
            try:
                result = c(**{k: getattr(context.resources, k) for k in c.resource_keys})
            except Exception as exc:
                context.log.error(f"check {c.spec.name} of {key.to_user_string()} could not run: {exc}")
                error = error or exc
                continue
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=c.spec.name,
                passed=result.passed,
                metadata=result.metadata,
                severity=result.severity,
                description=result.description,
            )
        if error is not None:
            raise error

    return _checks
