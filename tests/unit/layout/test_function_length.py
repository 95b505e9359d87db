"""No product function over 80 lines: a long function hides the seams its comments describe.

Measured from the source with `ast`: end_lineno - lineno + 1, from the `def` line to the last
line of the body (decorators not counted); methods and nested functions count on their own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PRODUCT_FOLDERS = ("core", "services", "operator", "forumctl", "emulator")
MAX_LINES = 80


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, length in lines) of every function and method in the tree."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            yield prefix + node.name, node.end_lineno - node.lineno + 1
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def long_functions(paths: list[Path], root: Path) -> dict[str, int]:
    """`path::qualname` -> lines, for every function over MAX_LINES."""
    found = {}
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for name, lines in functions(tree):
            if lines > MAX_LINES:
                found[f"{path.relative_to(root).as_posix()}::{name}"] = lines
    return found


def product_modules() -> list[Path]:
    return sorted(p for folder in PRODUCT_FOLDERS for p in (REPO / folder).rglob("*.py"))


def test_no_product_function_is_over_80_lines() -> None:
    modules = product_modules()
    assert len(modules) > 50, "the product folders hold (almost) no module: wrong REPO?"
    over = long_functions(modules, REPO)
    assert over == {}, f"split these along their seams (at most {MAX_LINES} lines each)"


def test_the_measure_counts_methods_and_nested_functions_without_decorators(
    tmp_path: Path,
) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES - 1))  # def + body: 80 lines
    module = tmp_path / "m.py"
    module.write_text(
        "import functools\n\n"
        "@functools.cache\n"  # a decorator line does not count
        f"def fits():\n{body}\n"
        f"class C:\n    async def method(self):\n{body.replace('    ', '        ')}"
        "        y = 0\n\n"
        f"def outer():\n    def inner():\n{body.replace('    ', '        ')}"
        "        y = 0\n"
    )
    assert long_functions([module], tmp_path) == {
        "m.py::C.method": MAX_LINES + 1,
        "m.py::outer": MAX_LINES + 2,
        "m.py::outer.inner": MAX_LINES + 1,
    }
