"""Checking a table's content against what was written into it (after migrate/seed/restore)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from forumctl.clients import ClientPool
from forumctl.codec import TableChecksum, content_digest, item_digest, key_of
from forumctl.scan import scan_pages, segments_for


class ContentReport(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    table: str
    expected_count: int
    expected_checksum: str
    table_count: int
    table_checksum: str
    missing: int = 0  # source items not in the table
    different: int = 0  # in the table with other content
    extra: int = 0  # in the table, not in the source (written by someone else: not a failure)
    # Set when only whole-table totals were compared (no per-item digests).
    totals_match: bool | None = None

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.different == 0 and self.totals_match is not False

    def summary(self) -> str:
        if self.ok:
            extra = f" (+{self.extra} items not from this source)" if self.extra else ""
            return f"{self.table}: {self.expected_count} items verified{extra}"
        if self.totals_match is False:
            return (
                f"{self.table}: holds {self.table_count} items "
                f"(checksum {self.table_checksum[:12]}), "
                f"expected {self.expected_count} (checksum {self.expected_checksum[:12]})"
            )
        return (
            f"{self.table}: {self.missing} missing and {self.different} different out of "
            f"{self.expected_count} expected items"
        )


def verify_contents(
    pool: ClientPool,
    table: str,
    key_names: tuple[str, ...],
    expected: TableChecksum,
    digests: dict[tuple[Any, ...], bytes] | None,
) -> ContentReport:
    """With `digests` (key -> content digest of every expected item) each item is matched,
    so items written by others are told apart, and versions are not compared (a load may
    raise an overwritten item's version: forumctl.sync); without, the whole table must
    equal `expected` exactly."""
    seen = TableChecksum()
    matched = different = extra = 0
    for page in scan_pages(pool, table, segments=segments_for(pool, table, 4)):
        for item in page:
            digest = item_digest(item)
            seen.add_digest(digest)
            if digests is None:
                continue
            want = digests.get(key_of(item, key_names))
            if want is None:
                extra += 1
            elif want == content_digest(item):
                matched += 1
            else:
                different += 1
    report = ContentReport(
        table=table,
        expected_count=expected.count,
        expected_checksum=expected.hexdigest,
        table_count=seen.count,
        table_checksum=seen.hexdigest,
    )
    if digests is None:
        report.totals_match = seen == expected
        report.missing = max(expected.count - seen.count, 0)
        report.extra = max(seen.count - expected.count, 0)
        return report
    report.different = different
    report.extra = extra
    report.missing = expected.count - matched - different
    return report
