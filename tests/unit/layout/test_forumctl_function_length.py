"""No function in forumctl over 80 lines (issue 11): a longer one is split along its seams.

Measured from the source with `ast` (end_lineno - lineno + 1, decorators not counted), so a
function that grows past the limit fails here with its file, name and length.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PACKAGE = REPO / "forumctl" / "forumctl"
MAX_LINES = 80


def _long_functions(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_LINES:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length})")
    return found


def test_no_forumctl_function_is_over_80_lines() -> None:
    assert _long_functions(PACKAGE) == []
