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
#   smb_case.sh tcp SIZE...                 the same over SMB2 on plain TCP (port 445; the control),
#                                           plus an NTLMv2 logon (right and wrong password)
#   smb_case.sh wire                        a 1 MiB put and get captured on lo: tshark must show the
#                                           server's RDMA Read Request (WRITE), its tagged RDMA
#                                           Writes (READ) and its Sends with Invalidate (responses)
#   smb_case.sh disconnect                  the server's connections aborted (smb-server drop) in
#                                           the middle of a 32 MiB get: `ndk smb` exits 1 with a
#                                           reason (no signal, no hang); the server then serves again
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
# smb_vm [CRC P2P]: ksmbd running, an empty share, siw set for the profile the case uses. The
# siw parameters are the VM's, shared with the rping/perftest cases that ran before (one may have
# left MPA revision 1, CRC strictness or peer-to-peer off): every SMB case sets all four.
smb_vm() {
    "$SIWVM" status | grep -q '^running' || die "the siw VM is not running (interop.vm_start failed?)"
    vm_user_net || die "the VM is not on the user network"
    guest "P=/sys/module/siw/parameters; echo ${1:-0} > \$P/mpa_crc_required && echo ${2:-0} > \$P/peer_to_peer &&
echo 2 > \$P/mpa_version && echo N > \$P/mpa_crc_strict &&
smb-server start && rm -rf /srv/share/* && dmesg -c >/dev/null" >"$D/server-start.txt" 2>&1 ||
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
# put, md5sum in the guest, get, cmp, for every size; then ls lists them all. Args: url size... ;
# SMB_OPTS: options of `ndk smb` before the action.
put_get_ls() {
    local url=$1 size f; shift
    for size in "$@"; do
        f=f$size.bin
        random_file "$D/$f" "$size"
        timeout 300 "$NDK_TOOL" smb "$url" "${SMB_OPTS[@]}" -v put "$D/$f" "$f" >"$D/put-$size.txt" 2>&1 ||
            die "ndk smb put of $size bytes failed: $(tail -5 "$D/put-$size.txt")"
        [ "$(guest_md5 "$f")" = "$(md5sum <"$D/$f" | awk '{print $1}')" ] ||
            die "size $size: md5 in the guest differs from the file put"
        timeout 300 "$NDK_TOOL" smb "$url" "${SMB_OPTS[@]}" -v get "$f" "$D/$f.back" >"$D/get-$size.txt" 2>&1 ||
            die "ndk smb get of $size bytes failed: $(tail -5 "$D/get-$size.txt")"
        cmp "$D/$f" "$D/$f.back" || die "size $size: the file read back differs"
        note "size $size: put, md5 in the guest, get, cmp: ok ($(cat "$D/put-$size.txt" "$D/get-$size.txt" | tr '\n' ' '))"
    done
    timeout 120 "$NDK_TOOL" smb "$url" "${SMB_OPTS[@]}" ls >"$D/ls.txt" 2>&1 || die "ndk smb ls failed: $(tail -5 "$D/ls.txt")"
    for size in "$@"; do grep -q "f$size.bin" "$D/ls.txt" || die "ndk smb ls does not list f$size.bin: $(cat "$D/ls.txt")"; done
}
# The siw passive-side race (docs/interop.md): the siw-compatible profile paces its first FPDU,
# the others get the tool's delay, as the rping matrix does.
profile_opts() { # profile
    SMB_OPTS=()
    [ "$1" = siw-compatible ] || SMB_OPTS=(--first-fpdu-delay 500)
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
    # siw as the rping cases set it per profile (matrix.cmake): windows needs CRC and P2P (Read
    # RTR), default P2P; siw-compatible neither.
    case $prof in windows) smb_vm 1 1;; default) smb_vm 0 1;; *) smb_vm 0 0;; esac
    export OPENNDK_MPA_PROFILE=$prof
    profile_opts "$prof"
    put_get_ls "//127.0.0.1:$SMB_RDMA_PORT/$SMB_SHARE" "$@"
    guest_kernel_clean
    echo "PASS smb transfer profile=$prof sizes: $*"
    ;;
tcp)
    [ $# -ge 1 ] || die "usage: smb_case.sh tcp SIZE..."
    ndk_has_smb || skip "'ndk smb' not in this build ($NDK_TOOL)"
    D=$INTEROP_OUT/smb-tcp; rm -rf "$D"; mkdir -p "$D"
    smb_vm
    SMB_OPTS=(--tcp)
    put_get_ls "//127.0.0.1:$SMB_TCP_PORT/$SMB_SHARE" "$@"
    # NTLMv2 with the harness's user: the right password lists the share, a wrong one is refused.
    timeout 120 "$NDK_TOOL" smb "//127.0.0.1:$SMB_TCP_PORT/$SMB_SHARE" --tcp -U smbuser%smbpass ls >"$D/user.txt" 2>&1 ||
        die "NTLMv2 logon as smbuser failed: $(cat "$D/user.txt")"
    timeout 120 "$NDK_TOOL" smb "//127.0.0.1:$SMB_TCP_PORT/$SMB_SHARE" --tcp -U smbuser%wrong ls >"$D/wrong.txt" 2>&1 &&
        die "a wrong password was accepted"
    grep -q STATUS_LOGON_FAILURE "$D/wrong.txt" || die "a wrong password: $(cat "$D/wrong.txt")"
    guest_kernel_clean
    echo "PASS smb tcp sizes: $*; NTLMv2 logon and refusal"
    ;;
wire)
    ndk_has_smb || skip "'ndk smb' not in this build ($NDK_TOOL)"
    command -v dumpcap >/dev/null && command -v tshark >/dev/null || die "dumpcap/tshark not installed"
    D=$INTEROP_OUT/smb-wire; rm -rf "$D"; mkdir -p "$D"
    smb_vm
    cap=$D/cap.pcap
    dumpcap -q -i lo -f "tcp port $SMB_RDMA_PORT or udp port 9" -w "$cap" >"$cap.log" 2>&1 &
    cap_pid=$!
    # Running once a probe datagram is in the file ("Capturing on" can precede real capture).
    for _ in $(seq 400); do
        python3 -c 'import socket; socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b"probe",("127.0.0.1",9))'
        [ "$(tshark -n -r "$cap" -Y udp 2>/dev/null | wc -l)" -ge 1 ] && break
        sleep 0.05
    done
    [ "$(tshark -n -r "$cap" -Y udp 2>/dev/null | wc -l)" -ge 1 ] || { kill $cap_pid; die "dumpcap did not start: $(cat "$cap.log")"; }
    export OPENNDK_MPA_PROFILE=siw-compatible
    SMB_OPTS=()
    put_get_ls "//127.0.0.1:$SMB_RDMA_PORT/$SMB_SHARE" 1048576
    kill -INT $cap_pid; wait $cap_pid 2>/dev/null
    T=(tshark -n -r "$cap" -o tcp.try_heuristic_first:TRUE --disable-protocol rpcordma)
    from_server="tcp.srcport == $SMB_RDMA_PORT"
    reads=$("${T[@]}" -Y "$from_server && iwarp_rdma.opcode == 1" 2>/dev/null | wc -l)
    writes=$("${T[@]}" -Y "$from_server && iwarp_rdma.opcode == 0 && iwarp_ddp.tagged_flag == 1" 2>/dev/null | wc -l)
    responses=$("${T[@]}" -Y "tcp.dstport == $SMB_RDMA_PORT && iwarp_rdma.opcode == 2" 2>/dev/null | wc -l)
    # RDMA_V1_INVALIDATE (the tool's default on 3.0.2): the WRITE and READ responses come as Send
    # with Invalidate (opcode 4, or 6 with Solicited Event)
    invals=$("${T[@]}" -Y "$from_server && (iwarp_rdma.opcode == 4 || iwarp_rdma.opcode == 6)" 2>/dev/null | wc -l)
    note "on the wire: $reads RDMA Read Request(s) from ksmbd, $responses Read Response segment(s) from us, $writes tagged RDMA Write segment(s) from ksmbd, $invals Send with Invalidate from ksmbd"
    [ "$reads" -ge 1 ] || die "tshark shows no RDMA Read Request from the server (WRITE through the channel)"
    [ "$responses" -ge 1 ] || die "tshark shows no RDMA Read Response from our side"
    [ "$writes" -ge 1 ] || die "tshark shows no tagged RDMA Write from the server (READ through the channel)"
    [ "$invals" -ge 2 ] || die "tshark shows $invals Send with Invalidate from the server (RDMA_V1_INVALIDATE: one per WRITE and READ)"
    guest_kernel_clean
    echo "PASS smb wire: WRITE as server RDMA Read ($reads requests), READ as tagged RDMA Writes ($writes segments)"
    ;;
disconnect)
    ndk_has_smb || skip "'ndk smb' not in this build ($NDK_TOOL)"
    D=$INTEROP_OUT/smb-disconnect; rm -rf "$D"; mkdir -p "$D"
    smb_vm
    url=//127.0.0.1:$SMB_RDMA_PORT/$SMB_SHARE
    export OPENNDK_MPA_PROFILE=siw-compatible
    big=$((32 << 20))
    random_file "$D/big.bin" $big
    timeout 300 "$NDK_TOOL" smb "$url" put "$D/big.bin" big.bin >"$D/put.txt" 2>&1 || die "put failed: $(cat "$D/put.txt")"
    # One 64 KiB READ at a time: the transfer lasts long enough to stop the server in its middle.
    timeout 300 "$NDK_TOOL" smb "$url" --timeout 30 -q 1 --chunk 64K get big.bin "$D/big.back" >"$D/get.txt" 2>&1 &
    pid=$!
    for _ in $(seq 600); do [ -s "$D/big.back" ] && break; sleep 0.05; done
    [ -s "$D/big.back" ] || { kill $pid; die "the get never started: $(cat "$D/get.txt")"; }
    # `drop` aborts the server's established connections (ss -K); ksmbd keeps listening. (`stop`
    # with a transfer open can hang the 6.1 guest kernel: seen twice, interop/SMB-HARNESS.md.)
    guest 'smb-server drop' >"$D/drop.txt" 2>&1
    wait $pid; rc=$?
    cat "$D/get.txt"
    [ $rc = 1 ] || die "ndk smb get ended with status $rc when the server went away (expected 1)"
    grep -q '^ndk smb: error: ' "$D/get.txt" || die "no reason printed: $(cat "$D/get.txt")"
    cmp -s "$D/big.bin" "$D/big.back" && die "the whole file arrived before the server stopped; nothing tested"
    timeout 120 "$NDK_TOOL" smb "$url" ls >"$D/ls.txt" 2>&1 || die "ls after the drop failed: $(cat "$D/ls.txt")"
    echo "PASS smb disconnect: $(tail -1 "$D/get.txt")"
    ;;
*) die "unknown mode $mode";;
esac
