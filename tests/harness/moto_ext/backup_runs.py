"""stub"""

from typing import Any


def run_plan_now(request: Any) -> dict[str, Any]:
    return {"backup_jobs": [], "copy_jobs": []}
