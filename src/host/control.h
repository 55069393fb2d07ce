// The host-wide control plane, server side (docs/tools.md "The control plane"). Modelled on DPDK's
// telemetry socket: every process that opens an OpenNDK adapter listens on one Unix stream socket,
// <runtime dir>/<pid>.sock, and answers one JSON request per connection (control_protocol.h):
// "status" (open adapters, OID_NDK_STATISTICS, OID_NDK_CONNECTIONS, OID_NDK_LOCAL_ENDPOINTS,
// rejected calls, tunables in force) and "set_state" (OID_NDK_SET_STATE applied in this process,
// so its own NDIS signals NetEventNDKDisable/Enable to its consumers, R159-R161). `ndk stat | info |
// set-state` (tools/ndk/control_client.*) talk to every such socket.
//
// Security: the directory is 0700 and must belong to the effective user, the socket is 0600, and a
// peer whose SO_PEERCRED uid is neither ours nor root gets an error reply and nothing else.
// Cost: one thread blocked in poll(2) on the listening socket and an eventfd; it never touches
// the data path (it only makes the same OID requests a consumer can make).
#pragma once
#include <string>

namespace openndk::host {
class Host;
}

namespace openndk::host::control {

// $OPENNDK_RUNTIME_DIR, else $XDG_RUNTIME_DIR/openndk, else /tmp/openndk-<uid> (not created).
std::string runtimeDirectory();

// Starts this process's endpoint once (thread-safe; later calls do nothing). Does nothing when
// OPENNDK_CONTROL=0, or when the runtime directory is unusable (logged as an error). At exit the
// thread is stopped and the socket unlinked; a killed process leaves the socket behind, which
// clients recognise by ECONNREFUSED and remove.
void ensureServerStarted(Host& host);

// The socket path of this process's endpoint; empty when it is not running.
std::string serverSocketPath();

// The reply to one request text (what the server writes back), for the server and tests.
std::string handleRequest(Host& host, std::string_view requestText);

}  // namespace openndk::host::control
