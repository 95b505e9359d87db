"""The operator's Kopf wiring stays thin (ARCHITECTURE.md, issue 11), read from the source:
every Kubernetes write in forumdb_operator.kube, no module-global state (what the handlers share
travels in Kopf's memo), and handlers that only hand over to forumdb_operator.loops."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
OPERATOR = REPO / "operator/forumdb_operator"
# kubernetes-client methods that change something: create_/patch_/replace_/delete_ of a
# namespaced or cluster-wide object (status subresources included).
WRITE = re.compile(r"^(create|patch|replace|delete)_(namespaced|cluster)_")
HANDLER_BODY_LINES = 15  # a handler's body (after its signature): hand over, nothing more


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def kubernetes_writes(path: Path) -> list[str]:
    return [
        f"{path.relative_to(REPO)}:{node.lineno} {node.func.attr}"
        for node in ast.walk(tree(path))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and WRITE.match(node.func.attr)
    ]


def test_every_kubernetes_write_is_in_the_kube_adapter() -> None:
    assert kubernetes_writes(OPERATOR / "kube.py"), "the checker finds no write in kube.py"
    others = [p for p in sorted(OPERATOR.rglob("*.py")) if p.name != "kube.py"]
    assert [w for p in others for w in kubernetes_writes(p)] == []


def test_no_module_global_state() -> None:
    found = [
        f"{p.relative_to(REPO)}:{node.lineno}"
        for p in sorted(OPERATOR.rglob("*.py"))
        for node in ast.walk(tree(p))
        if isinstance(node, ast.Global)
    ]
    assert found == []


def test_main_hands_kopf_a_memo() -> None:
    runs = [
        node
        for node in ast.walk(tree(OPERATOR / "main.py"))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "kopf.run"
    ]
    assert len(runs) == 1
    assert "memo" in {k.arg for k in runs[0].keywords}


def test_handlers_only_hand_over() -> None:
    long = []
    for node in ast.walk(tree(OPERATOR / "handlers.py")):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lines = node.end_lineno - node.body[0].lineno + 1
            if lines > HANDLER_BODY_LINES:
                long.append(f"{node.name}: {lines} lines")
    assert long == [], "move the work to forumdb_operator.loops (or another plain module)"
