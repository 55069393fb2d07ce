#!/bin/bash
# End-to-end run of the two example programs (examples/, docs/examples.md): ndk-example-server in
# the background, ndk-example-client against it; passes when both exit 0 (every step verified).
#
#   run-example.sh loopback4|loopback6|veth SERVER_BINARY CLIENT_BINARY
#
#   loopback4  both on 127.0.0.1
#   loopback6  both on ::1
#   veth       two network namespaces joined by a veth pair, IPv4 (10.77.0.0/24) and IPv6
#              (fd00:77::/64) addresses; the server runs in one, the client in the other with
#              `ip netns exec`, once over IPv4 and once over IPv6. Names carry this script's PID so
#              parallel runs never collide; a trap removes them whatever happens. Exits 77 (ctest
#              SKIP_RETURN_CODE) with "skipped: needs CAP_NET_ADMIN" only when `ip netns add`
#              itself fails.
set -u
mode=$1 server=$2 client=$3
tmp=$(mktemp -d)
spid=
nsa= nsb=

cleanup() {
  if [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; then kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; fi
  [ -n "$nsa" ] && ip netns del "$nsa" 2>/dev/null
  [ -n "$nsb" ] && ip netns del "$nsb" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# run_pair ADDRESS [NS_SERVER NS_CLIENT]: server on ADDRESS (port 0), client to it.
run_pair() {
  local addr=$1 pre_s=() pre_c=()
  if [ $# -ge 3 ]; then pre_s=(ip netns exec "$2"); pre_c=(ip netns exec "$3"); fi
  : > "$tmp/server.out"
  "${pre_s[@]}" timeout 120 "$server" "$addr" > "$tmp/server.out" 2> "$tmp/server.err" &
  spid=$!
  # Wait (up to 30 s) for "listening on ADDRESS port N"; stop early if the server died.
  local port= i
  for i in $(seq 300); do
    port=$(sed -n 's/^listening on .* port \([0-9][0-9]*\)$/\1/p' "$tmp/server.out")
    [ -n "$port" ] && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "FAIL: server on $addr did not start listening"; cat "$tmp/server.out" "$tmp/server.err"; return 1
  fi
  "${pre_c[@]}" timeout 120 "$client" "$addr" "$port"
  local crc=$?
  wait "$spid"; local src=$?
  spid=
  echo "--- server ($addr) ---"; cat "$tmp/server.out" "$tmp/server.err"
  if [ $crc -ne 0 ] || [ $src -ne 0 ]; then echo "FAIL: client exit $crc, server exit $src ($addr)"; return 1; fi
  echo "PASS: $addr"
}

case $mode in
  loopback4) run_pair 127.0.0.1 ;;
  loopback6) run_pair ::1 ;;
  veth)
    nsa=ndkex-$$-a
    if ! ip netns add "$nsa" 2>"$tmp/netns.err"; then
      nsa=
      echo "skipped: needs CAP_NET_ADMIN ($(cat "$tmp/netns.err"))"
      exit 77
    fi
    nsb=ndkex-$$-b
    va=nxa$$ vb=nxb$$   # interface names stay below IFNAMSIZ (15)
    set -e
    ip netns add "$nsb"
    ip link add "$va" netns "$nsa" type veth peer name "$vb" netns "$nsb"
    ip -n "$nsa" addr add 10.77.0.1/24 dev "$va"
    ip -n "$nsb" addr add 10.77.0.2/24 dev "$vb"
    ip -n "$nsa" addr add fd00:77::1/64 dev "$va" nodad
    ip -n "$nsb" addr add fd00:77::2/64 dev "$vb" nodad
    for ns in "$nsa" "$nsb"; do ip -n "$ns" link set lo up; done
    ip -n "$nsa" link set "$va" up
    ip -n "$nsb" link set "$vb" up
    set +e
    run_pair 10.77.0.1 "$nsa" "$nsb" && run_pair fd00:77::1 "$nsa" "$nsb"
    ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
