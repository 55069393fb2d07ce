// Test fixture: one Device with 127.0.0.1 and ::1, one adapter instance opened through
// Device::OpenNdkAdapter, helpers that go through the C dispatch tables.
#pragma once
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ndk/ndk.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "provider/adapter.h"
#include "provider/cq.h"
#include "provider/device.h"
#include "provider/qp.h"

namespace pt {

using namespace openndk::provider;
using namespace std::chrono_literals;

// A one-shot event with a generous timeout (no sleeps as synchronisation).
struct Event {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  void set() {
    std::lock_guard l(mu);
    ++count;
    cv.notify_all();
  }
  bool wait(int n = 1, std::chrono::milliseconds t = 10s) {
    std::unique_lock l(mu);
    return cv.wait_for(l, t, [&] { return count >= n; });
  }
  int value() {
    std::lock_guard l(mu);
    return count;
  }
};

inline VOID closeDone(PVOID ctx) { static_cast<Event*>(ctx)->set(); }
inline VOID cqNotify(PVOID ctx, NTSTATUS) { static_cast<Event*>(ctx)->set(); }
inline VOID createDone(PVOID, NTSTATUS, NDK_OBJECT_HEADER*) {}

// Closes any NDK object (not the adapter) and waits for a pending close.
template <class T>
NTSTATUS closeAndWait(T* obj) {
  Event ev;
  auto fn = reinterpret_cast<const NDK_FN_CLOSE_OBJECT*>(obj->Dispatch)[0];  // every close is member 0
  NTSTATUS s = fn(&obj->Header, closeDone, &ev);
  if (s == STATUS_PENDING) {
    EXPECT_TRUE(ev.wait());
  }
  return s;
}

// Page-aligned memory.
struct Buffer {
  std::uint8_t* p;
  std::size_t n;
  explicit Buffer(std::size_t bytes) : n(bytes) {
    p = static_cast<std::uint8_t*>(std::aligned_alloc(PAGE_SIZE, (bytes + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE));
  }
  ~Buffer() { std::free(p); }
};

struct MdlChain {
  PMDL m;
  MdlChain(void* va, SIZE_T len, ULONG perMdl = 0) : m(OpenNdkAllocateMdlChain(va, len, perMdl)) {}
  ~MdlChain() { OpenNdkFreeMdlChain(m); }
};

class ProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DeviceAddress v4{}, v6{};
    v4.addr.Ipv4.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &v4.addr.Ipv4.sin_addr);
    v6.addr.Ipv6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::1", &v6.addr.Ipv6.sin6_addr);
    dev = std::make_unique<Device>(1, "lo", std::vector<DeviceAddress>{v4, v6}, true);
    NDIS_OPEN_NDK_ADAPTER_PARAMETERS p{};
    p.Version = {1, 2};
    ASSERT_EQ(Device::OpenNdkAdapter(dev.get(), &p, &a), NDIS_STATUS_SUCCESS);
    ULONG sz = sizeof(info);
    ASSERT_EQ(a->Dispatch->NdkQueryAdapterInfo(a, &info, &sz), STATUS_SUCCESS);
  }
  void TearDown() override {
    if (HasFailure()) {
      // A failed assertion may have left objects open: the blocking adapter close (R27) would
      // wait for them forever. Leak instead of hanging the suite.
      (void)dev.release();
      return;
    }
    if (a) Device::CloseNdkAdapter(dev.get(), a);
    dev.reset();
  }

  NDK_CQ* cq(ULONG depth = 64, Event* ev = nullptr) {
    NDK_CQ* c = nullptr;
    EXPECT_EQ(a->Dispatch->NdkCreateCq(a, depth, cqNotify, ev ? ev : &cqEvent, nullptr, createDone, nullptr, &c),
              STATUS_SUCCESS);
    return c;
  }
  NDK_PD* pd() {
    NDK_PD* p = nullptr;
    EXPECT_EQ(a->Dispatch->NdkCreatePd(a, createDone, nullptr, &p), STATUS_SUCCESS);
    return p;
  }
  NDK_QP* qp(NDK_PD* p, NDK_CQ* c, ULONG rq = 8, ULONG iq = 8, ULONG rsge = 4, ULONG isge = 4, ULONG inl = 64,
             PVOID ctx = reinterpret_cast<PVOID>(0x9a9a)) {
    NDK_QP* q = nullptr;
    EXPECT_EQ(p->Dispatch->NdkCreateQp(p, c, c, ctx, rq, iq, rsge, isge, inl, createDone, nullptr, &q), STATUS_SUCCESS);
    return q;
  }
  // A normally registered MR over `buf` (whole buffer).
  NDK_MR* mr(NDK_PD* p, Buffer& buf, ULONG flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE) {
    NDK_MR* m = nullptr;
    EXPECT_EQ(p->Dispatch->NdkCreateMr(p, FALSE, createDone, nullptr, &m), STATUS_SUCCESS);
    MdlChain chain(buf.p, buf.n);
    EXPECT_EQ(m->Dispatch->NdkRegisterMr(m, chain.m, buf.n, flags, nullptr, nullptr), STATUS_SUCCESS);
    return m;
  }
  Cq* cqObj(NDK_CQ* c) { return Object::resolveAs<Cq>(c); }
  Qp* qpObj(NDK_QP* q) { return Object::resolveAs<Qp>(q); }
  std::vector<NDK_RESULT_EX> drain(NDK_CQ* c) {
    std::vector<NDK_RESULT_EX> out;
    NDK_RESULT_EX r[16];
    ULONG n;
    while ((n = c->Dispatch->NdkGetCqResultsEx(c, r, 16)) > 0) out.insert(out.end(), r, r + n);
    return out;
  }

  std::unique_ptr<Device> dev;
  NDK_ADAPTER* a = nullptr;
  NDK_ADAPTER_INFO info{};
  Event cqEvent;
};

// A transport that records what it receives (stands for a connected data path).
struct FakeTransport : QpTransport {
  Qp* qp = nullptr;
  std::vector<WorkRequest> submitted;
  int flushes = 0;
  void submit(std::span<WorkRequest> batch) override {
    for (auto& w : batch) submitted.push_back(std::move(w));
  }
  void flush() override {
    ++flushes;
    auto all = std::move(submitted);
    submitted.clear();
    for (auto& w : all) qp->completeInitiator(w, STATUS_CANCELLED);
  }
  void completeAll(NTSTATUS s = STATUS_SUCCESS) {
    auto all = std::move(submitted);
    submitted.clear();
    for (auto& w : all) qp->completeInitiator(w, s);
  }
};

inline CompletionEntry entry(PVOID req, NTSTATUS s = STATUS_SUCCESS, bool solicited = false) {
  CompletionEntry e;
  e.status = s;
  e.requestContext = req;
  e.solicited = solicited;
  e.type = NdkOperationTypeReceive;
  return e;
}

}  // namespace pt
