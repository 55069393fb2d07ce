#!/bin/sh
# Rule coverage of the conformance suite: which NDKPI.md rules (R1..R168) are cited by a test
# name. Usage: conformance/rule-coverage.sh [path/to/openndk_conformance]
# Test names cite rules as R<n> tokens separated by '_' (e.g. R24_R25_PdCloseCompletesAfterChildren).
set -eu
exe=${1:-build/release/conformance/openndk_conformance}
"$exe" --gtest_list_tests | awk '
  /^[^ ]/ { next }                        # suite lines
  { name = $1; n = split(name, parts, "_")
    for (i = 1; i <= n; i++) if (parts[i] ~ /^R[0-9]+$/) { r = substr(parts[i], 2) + 0; cov[r]++ } }
  END {
    covered = 0; missing = ""
    for (r = 1; r <= 168; r++) { if (r in cov) covered++; else missing = missing " R" r }
    printf "rules cited by test names: %d of 168\n", covered
    printf "not cited:%s\n", missing
  }'
