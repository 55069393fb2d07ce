# shellcheck shell=bash
# What the case scripts share about the matrix VM (sourced by interop_case.sh, perftest_case.sh,
# smb_case.sh).
#
# The host ports QEMU forwards to it (user network), one list for every script, because whichever
# script (re)starts the VM sets them for all: 7174 rping (interop_case.sh), 18515 perftest
# (perftest_case.sh), 5445 SMB Direct and 10445 -> 445 SMB2 over TCP (smb_case.sh,
# interop/SMB-HARNESS.md). INTEROP_SMB_RDMA_PORT / INTEROP_SMB_TCP_PORT move the SMB host ports
# (another VM on the machine may hold them).
INTEROP_SMB_RDMA_PORT=${INTEROP_SMB_RDMA_PORT:-5445}
INTEROP_SMB_TCP_PORT=${INTEROP_SMB_TCP_PORT:-10445}
export SIWVM_FWD="7174 18515 $INTEROP_SMB_RDMA_PORT:5445 $INTEROP_SMB_TCP_PORT:445"

# vm_user_net: the perftest and SMB cases need the user network, and an rping case may have
# switched the VM to tap (interop_case.sh records the network in $INTEROP_OUT/vm-net): restart it
# on the user network then. Returns 1, with the reason on stderr, if it does not start.
vm_user_net() {
    [ "$(cat "$INTEROP_OUT/vm-net" 2>/dev/null || echo user)" = user ] && return 0
    echo "[interop] restarting the VM with net=user" >&2
    "$SIWVM" stop >/dev/null 2>&1
    if ! SIWVM_NET=user "$SIWVM" start >>"$INTEROP_OUT/vm-start.log" 2>&1; then
        echo "siw VM (net=user) did not start: $(tail -5 "$INTEROP_OUT/vm-start.log")" >&2
        return 1
    fi
    echo user >"$INTEROP_OUT/vm-net"
}
