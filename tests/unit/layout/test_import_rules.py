"""The import rules of ARCHITECTURE.md, enforced: every arrow points down.

Read from the source with `ast` (every import, at any depth, including the lazy ones inside
functions), so a rule broken anywhere in a module fails here with the file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# package -> (its folder, the top-level packages it must never import)
PRODUCT = {
    "forumdb": ("core/forumdb", {"forumdb_services", "forumdb_operator", "forumctl",
                                 "forumdb_emulator", "flask", "kopf", "kubernetes"}),
    "forumdb_services": ("services/forumdb_services", {"forumdb_operator", "forumctl",
                                                       "forumdb_emulator", "kopf"}),
    "forumdb_operator": ("operator/forumdb_operator", {"forumdb_services", "forumctl",
                                                       "forumdb_emulator", "flask"}),
    "forumctl": ("forumctl/forumctl", {"forumdb_operator", "forumdb_emulator", "flask", "kopf"}),
    "forumdb_emulator": ("emulator/forumdb_emulator", {"forumdb_services", "forumdb_operator",
                                                       "forumctl", "kopf", "kubernetes"}),
}  # fmt: skip
TEST_ONLY = {"harness", "tests", "conftest", "pytest"}

# The operator's Kopf wiring: the only modules that may import kopf.
KOPF_WIRING = {"main.py", "handlers.py", "webhook.py"}


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def broken(folder: str, forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in modules(folder)
        for line, name in imports(path)
        if name.split(".")[0] in forbidden
    ]


@pytest.mark.parametrize("package", sorted(PRODUCT))
def test_product_packages_import_only_downwards(package: str) -> None:
    folder, forbidden = PRODUCT[package]
    assert modules(folder), f"{folder} holds no module"
    assert broken(folder, forbidden | TEST_ONLY) == []


def test_storage_never_imports_flask() -> None:
    assert broken("services/forumdb_services/storage", {"flask", "werkzeug"}) == []


def test_the_reconcile_pipeline_never_imports_kopf() -> None:
    pipeline = [p for p in modules("operator/forumdb_operator") if p.name not in KOPF_WIRING]
    found = [
        f"{p.relative_to(REPO)}:{line}"
        for p in pipeline
        for line, name in imports(p)
        if name.split(".")[0] == "kopf"
    ]
    assert found == []


def test_forumctl_data_commands_never_import_the_dev_stack() -> None:
    """Only main.py reaches forumctl.dev (and copes with its absence in the image)."""
    found = [
        f"{p.relative_to(REPO)}:{line} imports {name}"
        for p in modules("forumctl/forumctl")
        if "dev" not in p.relative_to(REPO / "forumctl/forumctl").parts[:-1] and p.name != "main.py"
        for line, name in imports(p)
        if name == "forumctl.dev" or name.startswith("forumctl.dev.")
    ]
    assert found == []


def test_the_services_import_no_forumctl_and_no_dev_dependency() -> None:
    """moto and cryptography come with the `dev` extra only; a service or the operator that
    imported them would fail in the image."""
    dev_only = {"moto", "cryptography"}
    for folder in ("core/forumdb", "services/forumdb_services", "operator/forumdb_operator"):
        assert broken(folder, dev_only) == []
    data_commands = [
        p for p in modules("forumctl/forumctl") if "dev" not in p.relative_to(REPO).parts[2:-1]
    ]
    assert [
        f"{p.relative_to(REPO)}:{line}"
        for p in data_commands
        for line, name in imports(p)
        if name.split(".")[0] in dev_only
    ] == []


def test_a_rule_breach_is_seen(tmp_path: Path) -> None:
    """The checker itself: a lazy import inside a function is found."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from forumctl import main\n")
    assert [name for _, name in imports(module)] == ["forumctl"]


def test_the_charts_scripts_import_no_test_code() -> None:
    """The product packages are checked above; the chart's helper scripts too (bench/ may
    import the harness: it drives it by design, like the tests)."""
    assert broken("charts", TEST_ONLY) == []
