#!/usr/bin/env bash
# One SMB case against ksmbd in the persistent siw VM (interop/SMB-HARNESS.md), used by ctest
# (tests/interop/matrix.cmake, SMB block; label interop, fixture siwvm, lock siwvm).
#
#   smb_case.sh server                      the harness itself, without our client: ksmbd listens on
#                                           5445 (iWARP) and 445; smbclient puts and gets 1 MiB over
#                                           TCP (cmp on the host, md5sum in the guest); an MPA v2
#                                           Request to 5445 gets siw's MPA Reply; no oops in dmesg
#   smb_case.sh transfer PROFILE SIZE...    `ndk smb` put then get of random files of these sizes
#                                           over SMB Direct with OPENNDK_MPA_PROFILE=PROFILE: cmp on
#                                           the host, md5sum in the guest; then `ls` lists them
#
# The `ndk smb` cases exit 77 (ctest SKIP_RETURN_CODE) while `ndk --help` lists no `smb` subcommand.
# The VM is the rping matrix's (user network; its forwards come from vm_env.sh: host 127.0.0.1:5445
# -> guest 5445, 127.0.0.1:10445 -> guest 445); each case starts ksmbd in it if it is not running
# (`smb-server start`, idempotent) and empties /srv/share. Results stay in $INTEROP_OUT/smb-*/.
# Environment: NDK_TOOL, SIWVM, INTEROP_OUT (as interop_case.sh).
set -uo pipefail

: "${SIWVM:?}" "${INTEROP_OUT:?}"
NDK_TOOL=${NDK_TOOL:-}
SMB_SHARE=share
# shellcheck source=vm_env.sh
. "$(dirname "$0")/vm_env.sh"
SMB_RDMA_PORT=$INTEROP_SMB_RDMA_PORT   # host side of the SMB Direct forward (guest 5445)
SMB_TCP_PORT=$INTEROP_SMB_TCP_PORT     # host side of the SMB2-over-TCP forward (guest 445)
mode=${1:?mode}; shift

die() { echo "SMB FAIL: $*" >&2; [ -n "${D:-}" ] && diagnose >&2; exit 1; }
skip() { echo "SMB SKIP: $*"; exit 77; }
note() { echo "[smb] $*" >&2; }
guest() { SIWVM_EXEC_TIMEOUT=${SIWVM_EXEC_TIMEOUT:-150} "$SIWVM" exec "$@"; }
diagnose() {
    echo "[smb] guest state (kept in $D/guest-diag.txt):"
    SIWVM_EXEC_TIMEOUT=20 "$SIWVM" exec 'smb-server status; ls -la /srv/share | head -20; echo "# dmesg"; dmesg | tail -30' \
        >"$D/guest-diag.txt" 2>&1
    sed 's/^/  guest: /' "$D/guest-diag.txt"
}
ndk_has_smb() { [ -x "$NDK_TOOL" ] && "$NDK_TOOL" --help 2>&1 | grep -qE '^[[:space:]]+smb([[:space:]]|$)'; }

# The matrix VM on the user network, with ksmbd serving and an empty share.
smb_vm() {
    "$SIWVM" status | grep -q '^running' || die "the siw VM is not running (interop.vm_start failed?)"
    vm_user_net || die "the VM is not on the user network"
    guest 'smb-server start && rm -rf /srv/share/* && dmesg -c >/dev/null' >"$D/server-start.txt" 2>&1 ||
        die "smb-server start failed in the guest: $(cat "$D/server-start.txt")"
}
# Oops, BUG or WARNING from the kernel since smb_vm (ksmbd runs in the guest kernel)
guest_kernel_clean() {
    guest 'dmesg' >"$D/dmesg.txt" 2>&1
    ! grep -qE 'BUG|Oops|WARNING|general protection|ksmbd.*(error|fail)' "$D/dmesg.txt" ||
        die "kernel messages in the guest: $(grep -m5 -E 'BUG|Oops|WARNING|general protection|ksmbd' "$D/dmesg.txt")"
}
guest_md5() { # name -> md5 of /srv/share/name
    guest "md5sum /srv/share/$1" 2>/dev/null | awk '{print $1}'
}
random_file() { # path size
    head -c "$2" /dev/urandom >"$1"
}

D=""
case "$mode" in
server)
    D=$INTEROP_OUT/smb-server; rm -rf "$D"; mkdir -p "$D"
    smb_vm
    cat "$D/server-start.txt"
    grep -q 'listening on 5445' "$D/server-start.txt" || die "ksmbd has no SMB Direct listener on 5445"
    grep -q 'listening on 445' "$D/server-start.txt" || die "ksmbd has no TCP listener on 445"
    # SMB2 over TCP with Samba's smbclient: the server works without our client
    command -v smbclient >/dev/null || die "smbclient not installed (scripts/install-deps --interop)"
    random_file "$D/file.bin" 1048576
    (cd "$D" && timeout 120 smbclient "//127.0.0.1/$SMB_SHARE" -N -p $SMB_TCP_PORT -m SMB3 \
        -c 'put file.bin check.bin; ls; get check.bin file.back') >"$D/smbclient.txt" 2>&1 ||
        die "smbclient over TCP failed: $(tail -5 "$D/smbclient.txt")"
    cat "$D/smbclient.txt"
    cmp "$D/file.bin" "$D/file.back" || die "smbclient: the file read back differs"
    local_md5=$(md5sum <"$D/file.bin" | awk '{print $1}')
    [ "$(guest_md5 check.bin)" = "$local_md5" ] || die "md5 in the guest differs from the file put"
    # SMB Direct listener: an MPA v2 Request (no CRC, no markers; IRD/ORD 1/1) gets an MPA Reply
    python3 - 127.0.0.1 $SMB_RDMA_PORT "$D/mpa-reply.bin" <<'EOF' || die "no MPA Reply from the SMB Direct port: $(od -An -tx1 "$D/mpa-reply.bin" | head -2)"
import socket, struct, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), 10); c.settimeout(0.5)
c.sendall(b"MPA ID Req Frame" + bytes([0x00, 0x02]) + struct.pack(">HHH", 4, 1, 1))
buf, end = b"", time.time() + 20
while time.time() < end and (len(buf) < 20 or len(buf) < 20 + struct.unpack(">H", buf[18:20])[0]):
    try:
        d = c.recv(4096)
        if not d: break
        buf += d
    except socket.timeout: pass
open(sys.argv[3], "wb").write(buf); c.close()
sys.exit(0 if buf[:16] == b"MPA ID Rep Frame" and len(buf) >= 20 and buf[17] == 2 and not buf[16] & 0x20 else 1)
EOF
    echo "MPA Reply from 127.0.0.1:$SMB_RDMA_PORT: $(od -An -tx1 "$D/mpa-reply.bin" | tr -s ' \n' ' ')"
    guest 'smb-server status' >"$D/server-status.txt" 2>&1 || die "ksmbd stopped serving: $(cat "$D/server-status.txt")"
    guest_kernel_clean
    echo "PASS smb server: ksmbd on 5445 (iWARP) and 445; smbclient 1 MiB put/get over TCP verified; MPA Reply on 5445"
    ;;
transfer)
    prof=${1:?profile}; shift
    [ $# -ge 1 ] || die "usage: smb_case.sh transfer PROFILE SIZE..."
    ndk_has_smb || skip "'ndk smb' not in this build ($NDK_TOOL)"
    D=$INTEROP_OUT/smb-transfer-$prof; rm -rf "$D"; mkdir -p "$D"
    smb_vm
    export OPENNDK_MPA_PROFILE=$prof
    url=//127.0.0.1:$SMB_RDMA_PORT/$SMB_SHARE
    for size in "$@"; do
        f=f$size.bin
        random_file "$D/$f" "$size"
        timeout 300 "$NDK_TOOL" smb "$url" put "$D/$f" "$f" >"$D/put-$size.txt" 2>&1 ||
            die "ndk smb put of $size bytes failed: $(tail -5 "$D/put-$size.txt")"
        [ "$(guest_md5 "$f")" = "$(md5sum <"$D/$f" | awk '{print $1}')" ] ||
            die "size $size: md5 in the guest differs from the file put"
        timeout 300 "$NDK_TOOL" smb "$url" get "$f" "$D/$f.back" >"$D/get-$size.txt" 2>&1 ||
            die "ndk smb get of $size bytes failed: $(tail -5 "$D/get-$size.txt")"
        cmp "$D/$f" "$D/$f.back" || die "size $size: the file read back differs"
        note "size $size: put, md5 in the guest, get, cmp: ok"
    done
    timeout 120 "$NDK_TOOL" smb "$url" ls >"$D/ls.txt" 2>&1 || die "ndk smb ls failed: $(tail -5 "$D/ls.txt")"
    for size in "$@"; do grep -q "f$size.bin" "$D/ls.txt" || die "ndk smb ls does not list f$size.bin: $(cat "$D/ls.txt")"; done
    guest_kernel_clean
    echo "PASS smb transfer profile=$prof sizes: $*"
    ;;
*) die "unknown mode $mode";;
esac
