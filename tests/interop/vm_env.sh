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
    vm_restart_user "the case needs the user network"
}
vm_restart_user() { # reason
    echo "[interop] restarting the VM with net=user: $1" >&2
    "$SIWVM" stop >/dev/null 2>&1
    if ! SIWVM_NET=user "$SIWVM" start >>"$INTEROP_OUT/vm-start.log" 2>&1; then
        echo "siw VM (net=user) did not start: $(tail -5 "$INTEROP_OUT/vm-start.log")" >&2
        return 1
    fi
    echo user >"$INTEROP_OUT/vm-net"
}

# Captures on the host's lo (the user network's host side; perftest_case.sh, smb_case.sh).
wait_until() { # seconds command...  (bounded polling of a condition)
    local end=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done
}
# shellcheck disable=SC2034  # used by the scripts that source this file
T=(tshark -n -o tcp.try_heuristic_first:TRUE --disable-protocol rpcordma)
CAP_PID=""
cap_start() { # port file
    CAP_FILE=$2
    dumpcap -q -i lo -f "tcp port $1 or udp port 9" -w "$CAP_FILE" >"$CAP_FILE.log" 2>&1 &
    CAP_PID=$!
    wait_until 15 grep -qs "Capturing on" "$CAP_FILE.log" || { kill "$CAP_PID"; CAP_PID=""; return 1; }
    # "Capturing on" can precede the capture proper: probe until a UDP packet is in the file
    wait_until 20 cap_live || { kill "$CAP_PID"; CAP_PID=""; return 1; }
}
cap_live() {
    python3 -c 'import socket; socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b"probe",("127.0.0.1",9))' 2>/dev/null
    [ "$(tshark -n -r "$CAP_FILE" -Y udp 2>/dev/null | wc -l)" -ge 1 ]
}
cap_fins() { # count
    [ "$(tshark -n -r "$CAP_FILE" -Y 'tcp.flags.fin == 1 || tcp.flags.reset == 1' 2>/dev/null | wc -l)" -ge "$1" ]
}
cap_stop() { # [FIN/RST frames to wait for: 2 per connection; default 4]
    [ -n "$CAP_PID" ] || return 0
    # libpcap hands packets over in blocks: wait until the connections' ends are in the file
    wait_until 15 cap_fins "${1:-4}" ||
        echo "[interop] capture: not all ${1:-4} FIN/RST frames showed up within 15 s" >&2
    kill -INT "$CAP_PID" 2>/dev/null; wait "$CAP_PID" 2>/dev/null; CAP_PID=""
}
