#include "host/control.h"

#include <arpa/inet.h>
#include <ndk/openndk.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/config.h"
#include "base/log.h"
#include "host/control_protocol.h"
#include "host/host.h"
#include "host/version.h"
#include "provider/device.h"
#include "host/miniport.h"
#include "provider/object.h"

namespace openndk::host::control {
namespace {

using Json = nlohmann::ordered_json;

// A client that connects and then says nothing holds the (single) server thread this long.
constexpr int kIoTimeoutMs = 2000;

std::string addressString(const SOCKADDR_INET& a) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (a.si_family == AF_INET) {
    ::inet_ntop(AF_INET, &a.Ipv4.sin_addr, buf, sizeof buf);
    const unsigned port = ntohs(a.Ipv4.sin_port);
    return port ? std::string(buf) + ":" + std::to_string(port) : std::string(buf);
  }
  if (a.si_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &a.Ipv6.sin6_addr, buf, sizeof buf);
    const unsigned port = ntohs(a.Ipv6.sin6_port);
    return port ? "[" + std::string(buf) + "]:" + std::to_string(port) : std::string(buf);
  }
  return "?";
}

std::string statusHex(NDIS_STATUS s) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08X", static_cast<unsigned>(s));
  return b;
}

// A variable-length OID with the size protocol (empty buffer, then BytesNeeded).
NDIS_STATUS queryVariable(Ndis& ndis, NET_IFINDEX i, NDIS_OID oid, std::vector<unsigned char>* out) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    NdisOidRequest r;
    r.type = OidRequestType::Query;
    r.oid = oid;
    r.buffer = out->empty() ? nullptr : out->data();
    r.length = static_cast<ULONG>(out->size());
    NDIS_STATUS s = ndis.oidRequest(i, &r);
    if (s == NDIS_STATUS_BUFFER_TOO_SHORT) {
      out->assign(r.bytesNeeded, 0);
      continue;
    }
    if (s == NDIS_STATUS_SUCCESS) out->resize(r.bytesWritten);
    return s;
  }
  return NDIS_STATUS_BUFFER_TOO_SHORT;
}

Json countersJson(Ndis& ndis, NET_IFINDEX i) {
  NDIS_NDK_STATISTICS_INFO st;
  std::memset(&st, 0, sizeof st);
  NdisOidRequest r;
  r.type = OidRequestType::Query;
  r.oid = OID_NDK_STATISTICS;
  r.buffer = &st;
  r.length = sizeof st;
  if (ndis.oidRequest(i, &r) != NDIS_STATUS_SUCCESS) return nullptr;
  const NDIS_NDK_PERFORMANCE_COUNTERS& c = st.CounterSet;
  return Json{{"Connect", c.Connect},           {"Accept", c.Accept},
              {"ConnectFailure", c.ConnectFailure}, {"ConnectionError", c.ConnectionError},
              {"ActiveConnection", c.ActiveConnection}, {"CQError", c.CQError},
              {"RDMAInOctets", c.RDMAInOctets},   {"RDMAOutOctets", c.RDMAOutOctets},
              {"RDMAInFrames", c.RDMAInFrames},   {"RDMAOutFrames", c.RDMAOutFrames}};
}

Json connectionsJson(Ndis& ndis, NET_IFINDEX i) {
  Json list = Json::array();
  std::vector<unsigned char> buf;
  const std::size_t off = FIELD_OFFSET(NDIS_NDK_CONNECTIONS, Connections);
  if (queryVariable(ndis, i, OID_NDK_CONNECTIONS, &buf) != NDIS_STATUS_SUCCESS || buf.size() < off) return list;
  NDIS_NDK_CONNECTIONS head;
  std::memcpy(&head, buf.data(), std::min(sizeof head, buf.size()));
  for (ULONG k = 0; k < head.Count && off + (k + 1) * sizeof(NDIS_NDK_CONNECTION_ENTRY) <= buf.size(); ++k) {
    NDIS_NDK_CONNECTION_ENTRY e;
    std::memcpy(&e, buf.data() + off + k * sizeof e, sizeof e);
    list.push_back(Json{{"local", addressString(e.Local)}, {"remote", addressString(e.Remote)},
                        {"user_mode_owner", e.UserModeOwner != FALSE}, {"owner_pid", e.OwnerPid}});
  }
  return list;
}

Json localEndpointsJson(Ndis& ndis, NET_IFINDEX i) {
  Json list = Json::array();
  std::vector<unsigned char> buf;
  const std::size_t off = FIELD_OFFSET(NDIS_NDK_LOCAL_ENDPOINTS, LocalEndpoints);
  if (queryVariable(ndis, i, OID_NDK_LOCAL_ENDPOINTS, &buf) != NDIS_STATUS_SUCCESS || buf.size() < off) return list;
  NDIS_NDK_LOCAL_ENDPOINTS head;
  std::memcpy(&head, buf.data(), std::min(sizeof head, buf.size()));
  for (ULONG k = 0; k < head.Count && off + (k + 1) * sizeof(NDIS_NDK_LOCAL_ENDPOINT_ENTRY) <= buf.size(); ++k) {
    NDIS_NDK_LOCAL_ENDPOINT_ENTRY e;
    std::memcpy(&e, buf.data() + off + k * sizeof e, sizeof e);
    list.push_back(Json{{"local", addressString(e.Local)}, {"listener", e.Listener != FALSE},
                        {"user_mode_owner", e.UserModeOwner != FALSE}, {"owner_pid", e.OwnerPid}});
  }
  return list;
}

std::string processName() {
  std::ifstream comm("/proc/self/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

Json processJson() {
  return Json{{"ok", true},
              {"openndk_version", versionString()},
              {"git_commit", gitCommit()},
              {"pid", static_cast<long>(::getpid())},
              {"comm", processName()},
              {"uid", static_cast<unsigned long>(::geteuid())}};
}

std::string statusReply(Host& host) {
  Json j = processJson();
  Ndis& ndis = host.ndis();
  Json ifs = Json::array();
  std::uint64_t rejectedOnDevices = 0;
  for (NET_IFINDEX i : ndis.interfaces(true)) {
    auto snap = ndis.snapshot(i);
    if (!snap) continue;  // removed meanwhile
    std::uint64_t rejected = 0;
    if (snap->adapterContext)
      rejected = deviceOf(snap->adapterContext)->counters().rejectedCalls.load(std::memory_order_relaxed);
    rejectedOnDevices += rejected;
    ifs.push_back(Json{{"ifindex", snap->ifIndex},
                       {"name", snap->name},
                       {"ndk_enabled", snap->ndkEnabled},
                       {"open_adapters", snap->openAdapters},
                       {"rejected_calls", rejected},
                       {"counters", countersJson(ndis, i)},
                       {"connections", connectionsJson(ndis, i)},
                       {"local_endpoints", localEndpointsJson(ndis, i)}});
  }
  j["rejected_calls"] = rejectedOnDevices;
  j["rejected_object_calls"] = provider::rejectedObjectCalls();
  Json tunables = Json::array();
  for (const base::TunableInfo& t : base::tunableTable())
  {
    Json row{{"name", std::string(t.name)}, {"value", base::tunableString(t.key)},
             {"default", std::string(t.defaultValue)}};
    if (auto rejected = base::tunableRejectedEnv(t.key)) row["env_rejected"] = *rejected;
    tunables.push_back(std::move(row));
  }
  j["tunables"] = std::move(tunables);
  j["interfaces"] = std::move(ifs);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// OID_NDK_SET_STATE in this process, then wait for the PnP event (R159-R161): a disable completes
// only when every NDK_ADAPTER on the interface is closed (by its consumer, or by the framework
// after the grace period).
std::string setStateReply(Host& host, const Request& req) {
  Json j = processJson();
  j["ifindex"] = req.ifIndex;
  j["requested"] = req.enabled ? "on" : "off";
  Ndis& ndis = host.ndis();
  auto before = ndis.snapshot(req.ifIndex);
  if (!before || !before->ndkCapable) {
    j["ok"] = false;
    j["error"] = "interface " + std::to_string(req.ifIndex) + " is not an NDK interface of this process";
    return j.dump() + "\n";
  }
  const std::uint64_t forcedBefore = ndis.forcedCloses();
  BOOLEAN on = req.enabled ? TRUE : FALSE;
  NdisOidRequest r;
  r.type = OidRequestType::Set;
  r.oid = OID_NDK_SET_STATE;
  r.buffer = &on;
  r.length = sizeof on;
  const NDIS_STATUS s = ndis.oidRequest(req.ifIndex, &r);
  j["status"] = statusHex(s);
  j["open_adapters_before"] = before->openAdapters;
  if (s != NDIS_STATUS_SUCCESS) {
    j["ok"] = false;
    j["error"] = "OID_NDK_SET_STATE failed: " + statusHex(s);
    return j.dump() + "\n";
  }
  // *NetworkDirect 0 keeps NDK disabled whatever OID_NDK_SET_STATE says (R159).
  const bool expect = req.enabled && before->networkDirect != 0;
  const bool reached = ndis.waitState(req.ifIndex, expect, req.timeoutMs);
  auto after = ndis.snapshot(req.ifIndex);
  j["ndk_enabled"] = after && after->ndkEnabled;
  j["open_adapters_after"] = after ? after->openAdapters : 0;
  j["forced_closes"] = ndis.forcedCloses() - forcedBefore;
  j["ok"] = reached && expect == req.enabled;
  if (!reached)
    j["error"] = "state change not signalled within " + std::to_string(req.timeoutMs) + " ms";
  else if (expect != req.enabled)
    j["error"] = "*NetworkDirect is 0 on this interface: NDK stays disabled (R159)";
  NDK_LOG_INFO("host", "control: set_state interface {} {}: {}", req.ifIndex, req.enabled ? "on" : "off",
               j["ok"].get<bool>() ? "done" : j["error"].get<std::string>());
  return j.dump() + "\n";
}

class Server {
 public:
  bool start(Host& host);
  void stop();
  const std::string& path() const { return path_; }

 private:
  void run();
  void serve(int fd);

  Host* host_ = nullptr;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  pid_t owner_ = 0;  // the process that started the thread (a forked child must not stop/unlink it)
  std::string path_;
  std::thread thread_;
};

// Creates the runtime directory 0700 if missing; refuses one that is not ours or is open to others.
bool prepareDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    NDK_LOG_ERROR("host", "control: cannot create runtime directory {}: {}", dir, std::strerror(errno));
    return false;
  }
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    NDK_LOG_ERROR("host", "control: runtime directory {} is not a directory", dir);
    return false;
  }
  if (st.st_uid != ::geteuid()) {
    NDK_LOG_ERROR("host", "control: runtime directory {} belongs to uid {}, not {}: no control endpoint", dir,
                  st.st_uid, ::geteuid());
    return false;
  }
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
    NDK_LOG_ERROR("host", "control: cannot make {} private (0700): {}", dir, std::strerror(errno));
    return false;
  }
  return true;
}

bool Server::start(Host& host) {
  host_ = &host;
  const std::string dir = runtimeDirectory();
  if (!prepareDirectory(dir)) return false;
  const std::string path = dir + "/" + std::to_string(::getpid()) + ".sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    NDK_LOG_ERROR("host", "control: socket path {} longer than {} bytes: no control endpoint", path,
                  sizeof addr.sun_path - 1);
    return false;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (listen_fd_ < 0 || wake_fd_ < 0) {
    NDK_LOG_ERROR("host", "control: socket/eventfd: {}", std::strerror(errno));
    stop();
    return false;
  }
  ::unlink(path.c_str());  // a dead process with our pid left it
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::chmod(path.c_str(), 0600) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    NDK_LOG_ERROR("host", "control: cannot listen on {}: {}", path, std::strerror(errno));
    ::unlink(path.c_str());
    stop();
    return false;
  }
  path_ = path;
  owner_ = ::getpid();
  thread_ = std::thread([this] { run(); });
  NDK_LOG_DEBUG("host", "control: listening on {}", path_);
  return true;
}

void Server::stop() {
  if (owner_ != 0 && owner_ != ::getpid()) return;  // forked child: the thread and socket are the parent's
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    if (::write(wake_fd_, &one, sizeof one) < 0) {
      // eventfd write only fails on overflow; the thread is then already woken
    }
    thread_.join();
  }
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

void Server::run() {
  // Signals belong to the application's threads, not to this one.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_setname_np(pthread_self(), "ndk-control");  // as the engine's "ndk-engine-N"
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      NDK_LOG_ERROR("host", "control: poll: {}", std::strerror(errno));
      return;
    }
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) continue;  // ECONNABORTED, EMFILE...: the next poll retries
    serve(c);
    ::close(c);
  }
}

bool waitFd(int fd, short events) {
  pollfd p{fd, events, 0};
  int n;
  do n = ::poll(&p, 1, kIoTimeoutMs);
  while (n < 0 && errno == EINTR);
  return n > 0;
}

void writeAll(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFd(fd, POLLOUT)) return;
    } else {
      return;  // the client went away
    }
  }
}

void Server::serve(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != ::geteuid() && cred.uid != 0)) {
    NDK_LOG_WARN("host", "control: refused a client with uid {} (pid {})", cred.uid, cred.pid);
    writeAll(fd, errorReply("permission denied: not the owner's uid or root"));
    return;
  }
  // One request: up to '\n' or end of stream.
  std::string request;
  char buf[1024];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      request.append(buf, static_cast<std::size_t>(n));
      if (request.find('\n') != std::string::npos || request.size() > kMaxRequestBytes) break;
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!waitFd(fd, POLLIN)) {
        writeAll(fd, errorReply("timed out waiting for the request"));
        return;
      }
    } else {
      return;
    }
  }
  if (auto nl = request.find('\n'); nl != std::string::npos) request.resize(nl);
  writeAll(fd, handleRequest(*host_, request));
}

std::mutex g_start_mu;
Server* g_server = nullptr;  // never deleted: stopped by the exit handler
bool g_started = false;

}  // namespace

std::string runtimeDirectory() {
  if (const char* d = std::getenv("OPENNDK_RUNTIME_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/openndk";
  return "/tmp/openndk-" + std::to_string(::geteuid());
}

std::string handleRequest(Host& host, std::string_view requestText) {
  try {
    auto parsed = parseRequest(requestText);
    if (auto* e = std::get_if<ParseError>(&parsed)) {
      NDK_LOG_DEBUG("host", "control: bad request: {}", e->message);
      return errorReply(e->message);
    }
    const Request& req = std::get<Request>(parsed);
    switch (req.command) {
      case Command::Version: return processJson().dump() + "\n";
      case Command::Status: return statusReply(host);
      case Command::SetState: return setStateReply(host, req);
    }
    return errorReply("unknown command");
  } catch (const std::exception& ex) {
    return errorReply(std::string("internal error: ") + ex.what());
  }
}

void ensureServerStarted(Host& host) {
  std::lock_guard lock(g_start_mu);
  if (g_started) return;
  g_started = true;  // one attempt per process: a failure is logged once, not at every open
  if (const char* c = std::getenv("OPENNDK_CONTROL"); c && std::string_view(c) == "0") return;
  auto* s = new Server();
  if (!s->start(host)) {
    delete s;
    return;
  }
  g_server = s;
  std::atexit([] {
    std::lock_guard l(g_start_mu);
    if (g_server) g_server->stop();
  });
}

std::string serverSocketPath() {
  std::lock_guard lock(g_start_mu);
  return g_server ? g_server->path() : std::string();
}

}  // namespace openndk::host::control

extern "C" OPENNDK_API unsigned long OpenNdkRuntimeDirectory(char* Buffer, unsigned long Capacity) {
  try {
    const std::string d = openndk::host::control::runtimeDirectory();
    if (Buffer && Capacity > 0) {
      const std::size_t n = std::min<std::size_t>(Capacity - 1, d.size());
      std::memcpy(Buffer, d.data(), n);
      Buffer[n] = '\0';
    }
    return static_cast<unsigned long>(d.size());
  } catch (...) {
    return 0;
  }
}
