# shellcheck shell=bash
# Sourced by interop_case.sh and perftest_case.sh: the retry policy of the interop CI stage
# (docs/interop.md "CI"). A case that needed a retry passes only if it is listed as a known
# flake of the peer in tests/interop/known-flaky.txt (INTEROP_KNOWN_FLAKY overrides the file,
# for retry_policy_test.sh); otherwise the retry's pass is reported and the case fails.

KNOWN_FLAKY_FILE=${INTEROP_KNOWN_FLAKY:-$(dirname "${BASH_SOURCE[0]}")/known-flaky.txt}

# known_flaky KEY: prints the reason and succeeds if KEY matches a line of the list.
known_flaky() {
    local key=$1 line glob reason
    [ -r "$KNOWN_FLAKY_FILE" ] || return 1
    while IFS= read -r line; do
        case $line in ''|'#'*) continue;; esac
        glob=${line%% -- *}; reason=${line#* -- }
        [ "$glob" != "$line" ] || continue   # no " -- REASON": not a valid entry
        # shellcheck disable=SC2053 # the glob is meant to match
        if [[ $key == $glob ]]; then printf '%s\n' "$reason"; return 0; fi
    done <"$KNOWN_FLAKY_FILE"
    return 1
}

# retry_verdict KEY ATTEMPT LOG: called when the case passed at ATTEMPT (> 1). Appends the
# verdict to LOG (the stage's retries.log) and to stderr; returns 0 (case passes: a listed flake
# of the peer) or 1 (case fails: it needed a retry and is not listed).
retry_verdict() {
    local key=$1 attempt=$2 log=$3 reason
    if reason=$(known_flaky "$key"); then
        echo "RETRY-PASS (known flaky peer case): '$key' passed at attempt $attempt; listed in $KNOWN_FLAKY_FILE: $reason" |
            tee -a "$log" >&2
        return 0
    fi
    echo "RETRY-FAIL: '$key' passed only at attempt $attempt and is not on the known-flaky list ($KNOWN_FLAKY_FILE): an intermittent failure fails the stage" |
        tee -a "$log" >&2
    return 1
}
