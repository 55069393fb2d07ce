// A small NDK consumer over the public C ABI for the fault and soak tests (issue 7): waits, an
// adapter, registered buffers, a listener, and a connected endpoint (CQ + QP + connector) whose
// every posted request goes through a ledger that proves exactly-once completion.
//
// No sleeps: every wait is a condition variable or a CQ notification with a deadline.
#pragma once
#include <ndk/ndk.h>
#include <ndk/ndk_host.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ndktest {

using Ms = std::chrono::milliseconds;

std::string statusName(NTSTATUS s);

struct Latch {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  NTSTATUS status = STATUS_PENDING;
  NDK_OBJECT_HEADER* object = nullptr;
  void set(NTSTATUS s = STATUS_SUCCESS, NDK_OBJECT_HEADER* o = nullptr);
  bool wait(int n, Ms t);
  int value();
};

// Blocking helpers: run a provider call that may complete asynchronously.
NTSTATUS createSync(const std::function<NTSTATUS(NDK_FN_CREATE_COMPLETION, PVOID)>& call, NDK_OBJECT_HEADER** out,
                    Ms t = Ms(30000));
NTSTATUS requestSync(const std::function<NTSTATUS(NDK_FN_REQUEST_COMPLETION, PVOID)>& call, Ms t = Ms(30000));
// Closes any NDK object through the first dispatch entry (NdkClose*), waiting for its callback.
NTSTATUS closeSync(NDK_OBJECT_HEADER* h, Ms t = Ms(30000));

// The interface owning this IPv4 address (0 if none).
NET_IFINDEX interfaceForIp(const std::string& ip);
SOCKADDR_INET ipv4(const std::string& ip, std::uint16_t port);

// Page-aligned memory with an MDL; optionally registered as an MR of `pd`.
struct Buffer {
  Buffer(std::size_t len);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  std::uint8_t* p = nullptr;
  std::size_t n = 0;
  PMDL mdl = nullptr;
  std::uint64_t va() const { return reinterpret_cast<std::uintptr_t>(p); }
};

struct Region {
  // Registers all of `b` with `flags` (NDK_MR_FLAG_*). ok() false on failure.
  Region(NDK_PD* pd, Buffer& b, ULONG flags);
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  bool ok() const { return registered; }
  NDK_MR* mr = nullptr;
  bool registered = false;
  UINT32 local = 0, remote = 0;
};

// Every posted request gets a unique id (its RequestContext). complete() reports a completion;
// it counts unknown ids and duplicates, which must both stay zero.
class Ledger {
 public:
  std::uint64_t post(NDK_OPERATION_TYPE kind);
  void unpost(std::uint64_t id);  // the post call failed inline: no completion will come
  void complete(const NDK_RESULT_EX& r);
  std::size_t outstanding();
  std::size_t posted();
  std::size_t completed();
  std::size_t duplicates();
  std::size_t unknown();
  std::size_t failed();  // completions with a status other than STATUS_SUCCESS
  std::map<NTSTATUS, std::size_t> statuses();

 private:
  std::mutex mu_;
  std::uint64_t next_ = 1;
  std::map<std::uint64_t, NDK_OPERATION_TYPE> open_;
  std::map<std::uint64_t, bool> done_;  // ids that completed (kept to recognise duplicates)
  std::size_t posted_ = 0, completed_ = 0, dup_ = 0, unknown_ = 0, failed_ = 0;
  std::map<NTSTATUS, std::size_t> statuses_;
};

class Adapter {
 public:
  explicit Adapter(NET_IFINDEX ifx);
  ~Adapter();
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;
  bool ok() const { return a != nullptr && pd != nullptr; }
  void close();  // closes the PD and the adapter (children must be closed already)
  NTSTATUS openStatus = STATUS_PENDING;
  NDK_ADAPTER* a = nullptr;
  NDK_PD* pd = nullptr;
  NDK_ADAPTER_INFO info{};
};

class Listener {
 public:
  explicit Listener(Adapter& ad);
  ~Listener();
  // Listens on ip:port (0: ephemeral); returns the bound port, 0 on failure.
  std::uint16_t listen(const std::string& ip, std::uint16_t port = 0);
  NDK_CONNECTOR* next(Ms t);  // next incoming connect request
  // Close without waiting: the listener is the antecedent of the connectors it delivered (R102,
  // R24), so its close completes only after they are closed. waitClosed() waits for that.
  void beginClose();
  bool waitClosed(Ms t);
  NTSTATUS close();  // beginClose + waitClosed(30 s); STATUS_IO_TIMEOUT if it never completed
  NDK_LISTENER* l = nullptr;

 private:
  static VOID onConnect(PVOID ctx, NDK_CONNECTOR* c);
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<NDK_CONNECTOR*> q_;
  Latch closed_;
  bool closing_ = false;
};

// One QP with its own CQ (initiator and receive) and connector.
class Endpoint {
 public:
  Endpoint(Adapter& ad, ULONG depth = 64, ULONG ird = 4, ULONG ord = 4);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;
  bool ok() const { return qp != nullptr; }

  NTSTATUS connect(const std::string& srcIp, const std::string& dstIp, std::uint16_t port, Ms t = Ms(30000));
  NTSTATUS accept(NDK_CONNECTOR* c, Ms t = Ms(30000));
  NTSTATUS disconnect(Ms t = Ms(30000));

  // Posting: returns the inline status; on success the request is in the ledger.
  NTSTATUS postReceive(const NDK_SGE* sge, ULONG n, std::uint64_t* id = nullptr);
  NTSTATUS postSend(const NDK_SGE* sge, ULONG n, ULONG flags = 0, std::uint64_t* id = nullptr);
  NTSTATUS postWrite(const NDK_SGE* sge, ULONG n, std::uint64_t raddr, UINT32 rtoken, ULONG flags = 0,
                     std::uint64_t* id = nullptr);
  NTSTATUS postRead(const NDK_SGE* sge, ULONG n, std::uint64_t raddr, UINT32 rtoken, std::uint64_t* id = nullptr);
  NTSTATUS postFastRegister(NDK_MR* mr, ULONG pages, const NDK_LOGICAL_ADDRESS* arr, SIZE_T len, PVOID va,
                            ULONG flags, std::uint64_t* id = nullptr);
  NTSTATUS postBind(NDK_MR* mr, NDK_MW* mw, PVOID va, SIZE_T len, ULONG flags, std::uint64_t* id = nullptr);
  NTSTATUS postInvalidate(NDK_OBJECT_HEADER* h, std::uint64_t* id = nullptr);
  NTSTATUS postSendInvalidate(const NDK_SGE* sge, ULONG n, UINT32 rtoken, std::uint64_t* id = nullptr);

  // Drains the CQ into the ledger (and into *out if given); returns how many were read.
  std::size_t poll(std::vector<NDK_RESULT_EX>* out = nullptr);
  // Waits until the ledger has nothing outstanding (true) or the deadline passes (false).
  bool waitAllCompleted(Ms t, std::vector<NDK_RESULT_EX>* out = nullptr);
  // Waits for at least one completion (true), collecting it.
  bool waitSome(Ms t, std::vector<NDK_RESULT_EX>* out);
  void flush() { qp->Dispatch->NdkFlush(qp); }
  NTSTATUS closeAll();  // connector, QP, CQ (idempotent)

  Adapter& ad;
  Ledger ledger;
  Latch disconnected;
  NDK_CQ* cq = nullptr;
  NDK_QP* qp = nullptr;
  NDK_CONNECTOR* conn = nullptr;
  ULONG ird, ord;

 private:
  static VOID onCq(PVOID ctx, NTSTATUS s);
  static VOID onDisconnect(PVOID ctx);
  Latch cqEvent_;
  NTSTATUS track(NTSTATUS s, std::uint64_t id, std::uint64_t* out);
};

// Process resources (fd count from /proc/self/fd, RSS from /proc/self/statm).
int openFdCount();
std::size_t rssKiB();

}  // namespace ndktest
