#!/bin/sh
# Copies the project's CRDs (crds/ at the repository root, the single source) into the chart.
# The chart test tests/chart/test_crds_in_sync.py fails while the two differ.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cp "$here/../../crds/"*.yaml "$here/crds/"
echo "synced: $(ls "$here/crds")"
