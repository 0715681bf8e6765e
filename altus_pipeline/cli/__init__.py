"""The ``altus`` command line, for people who script the pipeline.

One module per command or command group; ``main`` assembles them. Modules that load Dagster
(the Definitions, the runner, the partitions) are imported inside the commands that run
assets: importing Dagster costs seconds that ``altus --help`` and ``altus db url`` must not pay.
The package itself imports nothing, so a command group living elsewhere (``altus dlq`` in
``altus_pipeline.dlq``) can share ``cli.session`` without an import circle through ``main``.
"""
