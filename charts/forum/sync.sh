#!/bin/sh
# Copies into the chart what it must carry byte for byte from the repository (the single
# sources): the CRDs (crds/), the seed sample (examples/sample-data/<kind>/db.json), and the
# IAM policies (examples/iam/*.json) shown in README.md; and embeds the CRD's spec schema in
# values.schema.json (forumDatabase.spec, by sync_values_schema.py, which needs PyYAML: run it
# with the project's venv active). tests/chart fails while they differ.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo="$here/../.."
cp "$repo/crds/"*.yaml "$here/crds/"
for kind in users threads posts; do
  cp "$repo/examples/sample-data/$kind/db.json" "$here/files/seed/$kind.json"
done
python3 - "$here/README.md" "$repo/examples/iam" <<'PY'
import pathlib, re, sys
readme, iam = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
text = readme.read_text()
for policy in sorted(iam.glob("*.json")):
    block = f"### examples/iam/{policy.name}\n\n```json\n{policy.read_text().rstrip()}\n```"
    pattern = rf"### examples/iam/{re.escape(policy.name)}\n\n```json\n.*?\n```"
    text, found = re.subn(pattern, lambda _: block, text, flags=re.S)
    if not found:
        sys.exit(f"README.md has no section '### examples/iam/{policy.name}' to update")
readme.write_text(text)
PY
"${PYTHON:-python3}" "$here/sync_values_schema.py"
echo "synced: crds/, files/seed/, the IAM policies in README.md, forumDatabase.spec in values.schema.json"
