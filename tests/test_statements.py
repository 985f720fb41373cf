"""Every plain SQL statement is written once, named, in prefs/db/statements.py (STYLE.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from prefs.db import statements
from prefs.services.recipients import RecipientRow

PREFS = Path(__file__).resolve().parent.parent / "prefs"
STATEMENTS = PREFS / "db" / "statements.py"
SQL = re.compile(
    r"^\s*(select\b.*\bfrom\b|insert\s+into\b|update\s+\w+\s+set\b|delete\s+from\b|begin\s+immediate\b)", re.I | re.S
)


def string_parts(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal and f-string's literal part, docstrings left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    parts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(value.value if isinstance(value, ast.Constant) else "{}" for value in node.values)
            parts.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            parts.append((node.lineno, node.value))
    return parts


def test_no_sql_outside_the_statements_module():
    found = [
        f"{path.relative_to(PREFS.parent)}:{line}: {text.strip()[:60]}"
        for path in sorted(PREFS.rglob("*.py"))
        if path != STATEMENTS
        for line, text in string_parts(ast.parse(path.read_text(), str(path)))
        if SQL.match(text)
    ]
    assert found == []


def test_each_statement_is_written_once():
    named = {name: value for name, value in vars(statements).items() if name.isupper() and isinstance(value, str)}
    by_text: dict[str, list[str]] = {}
    for name, value in named.items():
        by_text.setdefault(" ".join(value.split()), []).append(name)
    assert [names for names in by_text.values() if len(names) > 1] == []


def test_each_statement_has_its_one_line_comment():
    lines = STATEMENTS.read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z_]+ = ", line):
            above = lines[index - 1]
            assert above.startswith("# "), f"{line.split(' =')[0]} has no comment above it"


def test_the_locking_reads_give_a_recipient_row_in_its_field_order():
    columns = ", ".join(RecipientRow._fields)
    for statement in (statements.READ_RECIPIENT_SQLITE, statements.LOCK_RECIPIENT_SQLITE, statements.LOCK_RECIPIENT_POSTGRES):
        assert columns in statement
