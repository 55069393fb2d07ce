// A small synchronous NDK consumer for ndk ping / ndk perf, over the public C ABI only:
// one adapter, one CQ (receive and initiator), one PD, one registered buffer (one MR), one QP,
// and a connection made as server (listener + accept) or client (connector + connect).
// Every provider failure throws NdkCallError whose what() is the line the tools print:
//   provider: NdkListen returned 0xC0000002 (STATUS_NOT_IMPLEMENTED)
//   provider: NdkConnect returned 0xC0000241 (STATUS_CONNECTION_ABORTED): MPA exchange failed: ...
#pragma once
#include <ndk/ndk.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "types.h"

namespace ndkperf {

std::string ntStatusName(NTSTATUS s);  // "STATUS_NOT_IMPLEMENTED" or "0x...."

struct NdkCallError : PerfError {
  // `connector`: for a failed NdkConnect/NdkAccept/NdkCompleteConnect, the connector whose
  // failure reason (OpenNdkGetConnectorFailure) the message carries.
  NdkCallError(const std::string& fn, NTSTATUS s, const NDK_CONNECTOR* connector = nullptr);
  NTSTATUS status;
};

// Parses "127.0.0.1", "::1" with a port. False on error.
bool parseAddress(const std::string& text, std::uint16_t port, SOCKADDR_INET* out);
std::string formatAddress(const SOCKADDR_INET& a);
// The close function of an object of the types the tools create (CQ, PD, MR, QP, connector,
// listener); nullptr for any other.
NDK_FN_CLOSE_OBJECT closeFunctionOf(NDK_OBJECT_HEADER* h);
// The NDK-capable interface owning `local` (wildcard: the first non-loopback interface, else
// the first); 0 when none.
NET_IFINDEX interfaceFor(const SOCKADDR_INET& local);
// The local address the kernel would use to reach `dest` (UDP connect + getsockname).
bool sourceAddressFor(const SOCKADDR_INET& dest, SOCKADDR_INET* src);

class NdkEndpoint {
 public:
  struct Params {
    std::size_t bufBytes = 1 << 16;
    ULONG rqDepth = 64;
    ULONG iqDepth = 64;
    ULONG inlineSize = 0;
    ULONG ird = 8, ord = 8;
    bool poll = true;  // completion style: spin, or arm + notification
  };
  NdkEndpoint(NET_IFINDEX ifx, const Params& p);
  // A second endpoint on `shared`'s adapter instance (its own CQ, PD, buffer and QP), so that it
  // can accept a connection arriving on `shared`'s listener: NDK holds a listener's port until
  // every connection accepted over it is closed (R113), so two connections to one port (perftest
  // -R) come through one listener. `shared` must outlive this endpoint.
  NdkEndpoint(NdkEndpoint& shared, const Params& p);
  ~NdkEndpoint();
  NdkEndpoint(const NdkEndpoint&) = delete;
  NdkEndpoint& operator=(const NdkEndpoint&) = delete;

  const NDK_ADAPTER_INFO& info() const { return info_; }
  char* buf() const { return buf_; }
  std::size_t bufLen() const { return bufLen_; }
  std::uint64_t bufAddr() const { return reinterpret_cast<std::uintptr_t>(buf_); }
  UINT32 localToken() const { return localToken_; }
  UINT32 remoteToken() const { return remoteToken_; }
  ULONG effectiveOrd() const { return ord_; }

  // Server: listen (port 0: ephemeral) and return the bound port; then accept one connection,
  // answering with `privateData`. The caller posts its receives before acceptOne.
  std::uint16_t listen(const SOCKADDR_INET& addr);
  void acceptOne(const void* privateData, ULONG len, int timeoutMs);
  // Server: accept the next request that reached `owner`'s listener onto this endpoint's QP
  // (`owner` is this endpoint, or one whose adapter this endpoint shares). wait = false returns
  // once NdkAccept is issued and finishAccept() waits for its completion: it completes when the
  // active side's RTR / first FPDU arrives (R99), which a protocol may send only later.
  void acceptFrom(NdkEndpoint& owner, const void* privateData, ULONG len, int timeoutMs, bool wait = true);
  void finishAccept(int timeoutMs);
  // Client: connect and complete.
  void connect(const SOCKADDR_INET& dest, const void* privateData, ULONG len);
  // The peer's private data (after acceptOne / connect).
  const std::vector<char>& peerData() const { return peerData_; }
  void disconnect();
  // The peer disconnected (the connector's disconnect event came).
  bool peerDisconnected() const { return peerDisconnected_.load(); }

  // Posting (throw NdkCallError on a failed post).
  void postRecv(std::uint64_t ctx, char* p, ULONG len);
  // extraFlags: e.g. NDK_OP_FLAG_DEFER (--post-list).
  void postSend(std::uint64_t ctx, const char* p, ULONG len, ULONG extraFlags = 0);
  void postWrite(std::uint64_t ctx, const char* p, ULONG len, std::uint64_t raddr, UINT32 rtoken, ULONG extraFlags = 0);
  void postRead(std::uint64_t ctx, char* p, ULONG len, std::uint64_t raddr, UINT32 rtoken, ULONG extraFlags = 0);

  // A fast-register MR over [p, p + len) of this endpoint's buffer (ndk smb: one per RDMA channel
  // buffer), with its adapter page list; the endpoint closes it (after the QP, before the PD).
  struct FastRegion {
    NDK_MR* mr = nullptr;
    NDK_LOGICAL_ADDRESS_MAPPING* lam = nullptr;
    ULONG fbo = 0;
    PMDL mdl = nullptr;
    char* base = nullptr;
    std::size_t len = 0;
  };
  FastRegion& addFastRegion(char* p, std::size_t len);
  // Posts NdkFastRegister of `r` (remote read and write) addressed by its virtual address; the
  // remote token of this registration is returned (R126). Its completion carries `ctx`.
  UINT32 postFastRegister(std::uint64_t ctx, FastRegion& r);

  // Next completion (timeout: PerfError). A failed completion is returned, not thrown.
  NDK_RESULT_EX next(int timeoutMs = 20000);
  bool tryNext(NDK_RESULT_EX* r);

 private:
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    int count = 0;
    NTSTATUS status = STATUS_SUCCESS;
    NDK_OBJECT_HEADER* object = nullptr;
    void done(NTSTATUS s, NDK_OBJECT_HEADER* o);
    bool wait(int timeoutMs);
  };
  static VOID onCreate(PVOID ctx, NTSTATUS s, NDK_OBJECT_HEADER* o);
  static VOID onRequest(PVOID ctx, NTSTATUS s);
  static VOID onClose(PVOID ctx);
  static VOID onCq(PVOID ctx, NTSTATUS s);
  static VOID onConnectEvent(PVOID ctx, NDK_CONNECTOR* c);
  static VOID onDisconnect(PVOID ctx);

  template <class T, class F>
  T* create(const char* fn, F&& f);
  template <class F>
  void request(const char* fn, F&& f, int timeoutMs = 30000);
  void closeObject(NDK_OBJECT_HEADER* h);
  void cleanup();
  void setUp();
  void readConnectionData();
  ULONG flagsFor(ULONG len) const;

  Params p_;
  NDK_ADAPTER* adapter_ = nullptr;
  bool ownsAdapter_ = true;
  NDK_ADAPTER_INFO info_{};
  NDK_CQ* cq_ = nullptr;
  NDK_PD* pd_ = nullptr;
  NDK_MR* mr_ = nullptr;
  bool registered_ = false;
  NDK_QP* qp_ = nullptr;
  NDK_LISTENER* listener_ = nullptr;
  NDK_CONNECTOR* connector_ = nullptr;
  bool connected_ = false;
  char* buf_ = nullptr;
  std::size_t bufLen_ = 0;
  PMDL mdl_ = nullptr;
  UINT32 localToken_ = 0, remoteToken_ = 0;
  ULONG ord_ = 0;
  std::vector<char> peerData_;
  std::deque<FastRegion> fastRegions_;  // a deque: references stay valid as regions are added

  Wait cqEvent_;
  Wait connectEvent_;
  Wait acceptWait_;  // acceptFrom(..., wait = false)
  std::atomic<bool> peerDisconnected_{false};
  NDK_CONNECTOR* incoming_ = nullptr;
  std::vector<NDK_CONNECTOR*> extra_;  // rejected requests
  std::vector<NDK_RESULT_EX> pending_;
  std::size_t pendingPos_ = 0;
};

}  // namespace ndkperf
