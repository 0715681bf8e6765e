"""``python -m altus_pipeline.cli``: the same command line as ``altus``."""

from altus_pipeline.cli.main import main

main()
