#!/usr/bin/env bash
# The interop stage's retry policy (retry_policy.sh, docs/interop.md "CI") without a VM:
# interop_case.sh's INTEROP_FAIL_ATTEMPT / INTEROP_PASS_ATTEMPT knobs make its attempts fail or
# pass at once. A case that passes only at its retry must fail unless known-flaky.txt lists it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # description expected-rc actual-rc
    if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1 (exit $3, expected $2)"; fails=$((fails + 1)); fi
}
run_case() { # out-dir env... -> exit status of one guest-server case
    local out=$1; shift
    env RPING_PEER=/bin/false SIWVM=/bin/false INTEROP_OUT="$out" "$@" \
        bash "$here/interop_case.sh" guest-server 64 1 0 0 tool:default user >"$out.log" 2>&1
}

# 1. passes at once: no retry, nothing logged
run_case "$tmp/a" INTEROP_PASS_ATTEMPT=1; check "first attempt passes" 0 $?
[ ! -s "$tmp/a/retries.log" ]; check "no retry logged when none was needed" 0 $?

# 2. fails, then passes at the retry, not listed: the case fails, and the log says why
run_case "$tmp/b" INTEROP_FAIL_ATTEMPT=1 INTEROP_PASS_ATTEMPT=2 INTEROP_KNOWN_FLAKY="$here/known-flaky.txt"
check "a retried pass of an unlisted case fails the stage" 1 $?
grep -q "RETRY-FAIL: 'interop guest-server 64 1 0 0 tool:default user' passed only at attempt 2" "$tmp/b/retries.log"
check "retries.log names the unlisted retried case" 0 $?

# 3. the same case listed as a known flake of the peer: it passes, and the log gives the reason
printf '%s\n' '# test list' 'interop guest-server * tool:default user -- siw stalls under TCG (test entry)' >"$tmp/list"
run_case "$tmp/c" INTEROP_FAIL_ATTEMPT=1 INTEROP_PASS_ATTEMPT=2 INTEROP_KNOWN_FLAKY="$tmp/list"
check "a retried pass of a listed case passes" 0 $?
grep -q "RETRY-PASS (known flaky peer case).*siw stalls under TCG (test entry)" "$tmp/c/retries.log"
check "retries.log gives the listed reason" 0 $?

# 4. both attempts fail: the case fails, listed or not
run_case "$tmp/d" INTEROP_FAIL_ATTEMPT=1 INTEROP_KNOWN_FLAKY="$tmp/list"
check "two failures fail the case" 1 $?

# 5. the shipped list: perftest's calibration flake is listed, no rping case is
# shellcheck source=retry_policy.sh
. "$here/retry_policy.sh"
known_flaky "perftest guest-client send 4096 200" >/dev/null; check "perftest calibration is a listed peer flake" 0 $?
known_flaky "interop guest-server 65535 3 1 1 tool:default tap" >/dev/null; check "the unexplained rping stall is not listed" 1 $?
known_flaky "interop" >/dev/null; check "an entry without ' -- REASON' matches nothing" 1 $?

[ $fails = 0 ] || { echo "retry_policy_test: $fails check(s) failed"; for f in "$tmp"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }
echo "retry_policy_test: all checks passed"
