#!/bin/sh
# Copies into the chart what it must carry byte for byte from the repository (the single
# sources): the CRDs (crds/) and the seed sample (examples/sample-data/<kind>/db.json).
# tests/chart/test_chart_sync.py fails while they differ.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo="$here/../.."
cp "$repo/crds/"*.yaml "$here/crds/"
for kind in users threads posts; do
  cp "$repo/examples/sample-data/$kind/db.json" "$here/files/seed/$kind.json"
done
echo "synced: $(ls "$here/crds" | tr '\n' ' ')and files/seed/{users,threads,posts}.json"
