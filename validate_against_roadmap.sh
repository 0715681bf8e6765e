#!/usr/bin/env bash
# The seed system's name for the roadmap check, kept for those who know it:
# `altus roadmap validate` does the work (pass --no-db to skip the database).
set -euo pipefail
cd "$(dirname "$0")"
exec .venv/bin/altus roadmap validate "$@"
