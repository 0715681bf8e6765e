"""Dagster assets by layer.

The pipeline uses ``pool`` and ``backfill_policy`` deliberately; they are marked beta in
Dagster 1.13 and would otherwise warn on every load of the code location.
"""

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)
