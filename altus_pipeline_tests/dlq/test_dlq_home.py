"""The dead-letter queue has one home: no module outside ``altus_pipeline/dlq/`` names its table
in code (docstrings may speak of it)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "altus_pipeline"
TABLE = "doorloop_error_records"


def _docstrings(tree: ast.Module) -> set[int]:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    return {
        id(n.body[0].value)
        for n in nodes
        if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)
    }


def naming_the_table(package: Path = PACKAGE) -> list[str]:
    """``file:line`` of every string in code, outside ``dlq/``, that names the DLQ table."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "dlq":
            continue
        tree = ast.parse(path.read_text(), str(path))
        docs = _docstrings(tree)
        found += [
            f"{path.relative_to(package.parent)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and TABLE in node.value
            and id(node) not in docs
        ]
    return found


def test_only_the_dlq_package_holds_statements_on_its_table():
    assert (PACKAGE / "dlq" / "statements.py").read_text().count(TABLE) >= 1
    assert naming_the_table() == []
