"""The example data is never served in place: a JSON-mode service writes its journal beside
the db.json files, and `forumctl migrate` and `forumctl dev up` would read it from then on.
Every documented command serves a copy."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SKIP = {".venv", ".tools", ".git", "node_modules", ".forumdb-dev"}
# DATA_DIR (or --data-dir) naming the examples folder, in any documented command.
IN_PLACE = re.compile(r"(DATA_DIR=|--data-dir[ =])\"?(\./)?examples/")


def _documents() -> list[Path]:
    return [
        path for path in REPO.rglob("*.md") if not SKIP.intersection(path.relative_to(REPO).parts)
    ]


def test_no_document_serves_the_examples_in_place() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _documents()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if IN_PLACE.search(line)
    ]
    assert not found, "serve a copy of examples/ instead:\n" + "\n".join(found)


def test_the_readme_serves_a_copy() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "cp -Rn examples/sample-data/. data/" in readme
