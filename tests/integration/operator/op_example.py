"""The example ForumDatabase the operator's integration tests apply, and spec variants of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "forumdatabase.yaml"
NAME = "forum"


def example(**spec_changes: Any) -> dict[str, Any]:
    """examples/forumdatabase.yaml as a document, with these spec fields changed."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"].update(spec_changes)
    return doc
