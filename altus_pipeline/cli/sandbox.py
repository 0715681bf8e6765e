"""``altus sandbox``: the DoorLoop simulator on localhost, and the sandbox ``demo`` and ``dev`` start."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from altus_pipeline.sandbox.faults import FaultSpec
from altus_pipeline.sandbox.shapes import AS_GENERATED, REFERENCE_SHAPES

SCALE_CHOICE = click.Choice(["small", "medium", "large"])


@click.group()
def sandbox() -> None:
    """The DoorLoop simulator on localhost."""


@sandbox.command("serve")
@click.option("--scale", type=SCALE_CHOICE, default="small", show_default=True, help="Generated dataset size.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Serve DIR/<entity>.json instead of generated data.",
)
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--token", default="sandbox-token", show_default=True, help="The bearer token clients must send.")
@click.option("--rate-limit-per-minute", type=int, default=50, show_default=True)
@click.option("--rate-limit-per-hour", type=int, default=500, show_default=True)
@click.option("--no-rate-limit", is_flag=True, help="Turn both rate limits off (benchmarks).")
@click.option("--faults", default=None, help="Fault spec, e.g. '5xx=0.1,429=0.05,slow=0.02,truncate=0.05,drift=0.5:2'.")
@click.option("--deny", "denied", multiple=True, help="List path answering 405 METHOD_NOT_ALLOWED (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the data, the faults and mixed shapes.")
@click.option(
    "--reference-shape",
    type=click.Choice(REFERENCE_SHAPES),
    default=AS_GENERATED,
    show_default=True,
    help='Serve references as stored, all in the other shape (bare id <-> {"id": ...}), or a mix picked by --seed.',
)
@click.option(
    "--ignore-sort",
    is_flag=True,
    help="Serve lists in stored order whatever sort_by asks (the pipeline must then read master data in full).",
)
def sandbox_serve(
    scale: str,
    data_dir: Path | None,
    port: int,
    host: str,
    token: str,
    rate_limit_per_minute: int,
    rate_limit_per_hour: int,
    no_rate_limit: bool,
    faults: str | None,
    denied: tuple[str, ...],
    seed: int,
    reference_shape: str,
    ignore_sort: bool,
) -> None:
    """Serve the DoorLoop API on localhost until interrupted."""
    from altus_pipeline.sandbox.generator import generate_dataset  # the generator and server: only when serving
    from altus_pipeline.sandbox.server import Sandbox, SandboxConfig

    try:
        fault_spec = FaultSpec.parse(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from exc
    config = SandboxConfig(
        token=token,
        rate_limit_per_minute=None if no_rate_limit else rate_limit_per_minute,
        rate_limit_per_hour=None if no_rate_limit else rate_limit_per_hour,
        faults=fault_spec,
        seed=seed,
        denied_paths=frozenset(denied),
        reference_shape=reference_shape,
        ignore_sort=ignore_sort,
    )
    if data_dir is not None:
        server = Sandbox.from_directory(data_dir, config)
    else:
        server = Sandbox(generate_dataset(scale, seed), config)
    click.echo(f"DoorLoop sandbox on http://{host}:{port}/api (token {token!r}); Ctrl-C stops it")
    server.serve_forever(host, port)


@sandbox.command("export")
@click.option("--scale", type=SCALE_CHOICE, default="small", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def sandbox_export(scale: str, seed: int, directory: Path) -> None:
    """Write the generated dataset as DIRECTORY/<entity>.json, one JSON array per entity."""
    from altus_pipeline.sandbox.generator import export  # the generator: only when generating

    directory.mkdir(parents=True, exist_ok=True)
    counts = export(directory, scale=scale, seed=seed)
    for name, count in sorted(counts.items()):
        click.echo(f"{name:28s} {count:>10,d}")


@contextmanager
def local_sandbox(scale: str) -> Iterator[None]:
    """Serve a generated account on localhost and point this process's DoorLoop settings at it.

    Partitions start where the generated history does: Dagster records every partition
    of a ranged run, so years of empty partitions would only cost time.
    """
    from altus_pipeline.sandbox.generator import DEFAULT_AS_OF, SCALES, generate_dataset  # only when serving
    from altus_pipeline.sandbox.server import Sandbox, SandboxConfig

    first_day = DEFAULT_AS_OF.replace(year=DEFAULT_AS_OF.year - SCALES[scale].years, day=1)
    os.environ.setdefault("ALTUS_PARTITION_START", first_day.isoformat())
    click.echo(f"generating the {scale} DoorLoop dataset and starting the sandbox ...")
    config = SandboxConfig(token="sandbox-token", rate_limit_per_minute=None, rate_limit_per_hour=None)
    with Sandbox(generate_dataset(scale), config) as server:
        os.environ["DOORLOOP_BASE_URL"] = server.base_url
        os.environ["DOORLOOP_API_TOKEN"] = config.token
        os.environ.setdefault("DOORLOOP_RATE_LIMIT_PER_MINUTE", "off")
        os.environ.setdefault("DOORLOOP_RATE_LIMIT_PER_HOUR", "off")
        click.echo(f"sandbox serving at {server.base_url}")
        yield
