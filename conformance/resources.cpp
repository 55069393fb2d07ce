// Conformance: resource exhaustion in connection management (NDKPI.md §2.13 / §3.8: NdkConnect and
// NdkListen report STATUS_INSUFFICIENT_RESOURCES when out of resources, inline or async, R10). The
// host resource a software provider runs out of first is file descriptors: the test lowers the
// process's RLIMIT_NOFILE and fills every descriptor below it, then restores both and proves the
// adapter still works.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "consumer.h"

namespace conf {
namespace {

// Lowers the soft descriptor limit to `headroom` above the descriptors now open and takes every
// free descriptor below it; restore() (or the destructor) gives everything back.
class DescriptorsExhausted {
 public:
  explicit DescriptorsExhausted(int headroom) {
    if (getrlimit(RLIMIT_NOFILE, &saved_) != 0) return;
    int highest = 0;
    for (int fd = 0; fd < 65536 && fd < static_cast<int>(saved_.rlim_cur); ++fd) {
      if (fcntl(fd, F_GETFD) != -1) highest = fd;
    }
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(highest + 1 + headroom);
    if (lowered.rlim_cur > saved_.rlim_cur || setrlimit(RLIMIT_NOFILE, &lowered) != 0) return;
    limited_ = true;
    for (;;) {
      int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        exhausted_ = errno == EMFILE;
        break;
      }
      held_.push_back(fd);
    }
  }
  ~DescriptorsExhausted() { restore(); }
  DescriptorsExhausted(const DescriptorsExhausted&) = delete;
  DescriptorsExhausted& operator=(const DescriptorsExhausted&) = delete;
  bool exhausted() const { return exhausted_; }
  void restore() {
    for (int fd : held_) close(fd);
    held_.clear();
    if (limited_) setrlimit(RLIMIT_NOFILE, &saved_);
    limited_ = false;
  }

 private:
  rlimit saved_{};
  bool limited_ = false;
  bool exhausted_ = false;
  std::vector<int> held_;
};

class Resources : public NdkTest {};

// [D] (docs/decisions.md "Conformance additions (session 3)"): with no descriptor left, NdkConnect
// and NdkListen fail with STATUS_INSUFFICIENT_RESOURCES (inline here; a pending connect must
// report it as its completion status, R10); once descriptors are free again the same listener
// listens and the same QP connects.
TEST_F(Resources, R10_ConnectAndListenOutOfDescriptors) {
  // Warm up first: a full connection makes the provider start its threads and event loops (their
  // own descriptors), so what fails below is the connect/listen itself.
  Pair& warm = newPair();
  NTSTATUS st = connectPair(warm, 2, 2, nullptr, 0, nullptr, 0, 4);
  CONF_REQUIRE_NETWORKING(st);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, st);
  NDK_PD* pd = makePd();
  NDK_CQ* cq = makeCq(16);
  ASSERT_TRUE(pd && cq);
  NDK_QP* qp = makeQp(pd, cq, cq, nullptr, 4, 4, 1, 1);
  NDK_QP* pqp = makeQp(pd, cq, cq, nullptr, 4, 4, 1, 1);
  NDK_CONNECTOR* con = makeConnector();
  Recorder& events = newRecorder();
  NDK_LISTENER* listener = makeListener(&events);
  ASSERT_TRUE(qp && pqp && con && listener);
  SOCKADDR_IN src = loopback4(0);
  SOCKADDR_IN dst = warm.listenAddr;
  Recorder& connectDone = newRecorder();

  SOCKADDR_IN any = loopback4(0);  // (looks the interface up: needs descriptors itself)
  {
    DescriptorsExhausted ex(0);
    ASSERT_TRUE(ex.exhausted()) << "could not exhaust the descriptor table";
    st = requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
      return listener->Dispatch->NdkListen(listener, reinterpret_cast<PSOCKADDR>(&any), sizeof any, cb, c);
    });
    NTSTATUS cst = con->Dispatch->NdkConnect(con, qp, reinterpret_cast<PSOCKADDR>(&src), sizeof src,
                                             reinterpret_cast<PSOCKADDR>(&dst), sizeof dst, 1, 1, nullptr, 0,
                                             &Recorder::onRequest, &connectDone);
    if (cst == STATUS_PENDING) {
      // Pending: the completion carries the status (R10). Descriptors stay exhausted until then.
      EXPECT_TRUE(connectDone.waitFor(1));
      cst = connectDone.last().status;
    }
    ex.restore();
    CONF_EXPECT_D_STATUS(STATUS_INSUFFICIENT_RESOURCES, st);
    CONF_EXPECT_D_STATUS(STATUS_INSUFFICIENT_RESOURCES, cst);
  }

  // The adapter works again once descriptors are available: the listener listens, the QP
  // connects through a new connector (R112: a connector serves one attempt).
  closeNow(con);
  SOCKADDR_IN bound{};
  CONF_ASSERT_STATUS(STATUS_SUCCESS, listenOn(listener, loopback4(0), &bound));
  NDK_CONNECTOR* con2 = makeConnector();
  ASSERT_NE(nullptr, con2);
  Recorder& connect2 = newRecorder();
  NTSTATUS c2 = con2->Dispatch->NdkConnect(con2, qp, reinterpret_cast<PSOCKADDR>(&src), sizeof src,
                                           reinterpret_cast<PSOCKADDR>(&bound), sizeof bound, 1, 1, nullptr, 0,
                                           &Recorder::onRequest, &connect2);
  CONF_ASSERT_STATUS(STATUS_PENDING, c2);
  ASSERT_TRUE(events.waitFor(1)) << "no connect event after descriptors were freed";
  auto* pcon = reinterpret_cast<NDK_CONNECTOR*>(events.last().object);
  ASSERT_NE(nullptr, pcon);
  track(pcon);
  Recorder& pdisc = newRecorder();
  Recorder& adisc = newRecorder();
  Recorder& acceptDone = newRecorder();
  NTSTATUS ast = pcon->Dispatch->NdkAccept(pcon, pqp, 1, 1, nullptr, 0, &Recorder::onDisconnect, &pdisc,
                                           &Recorder::onRequest, &acceptDone);
  ASSERT_TRUE(ast == STATUS_PENDING || ast == STATUS_SUCCESS) << statusName(ast);
  ASSERT_TRUE(connect2.waitFor(1));
  CONF_ASSERT_STATUS(STATUS_SUCCESS, connect2.last().status);
  CONF_ASSERT_STATUS(STATUS_SUCCESS, requestSync([&](NDK_FN_REQUEST_COMPLETION cb, PVOID c) {
                       return con2->Dispatch->NdkCompleteConnect(con2, &Recorder::onDisconnect, &adisc, cb, c);
                     }));
  if (ast == STATUS_PENDING) {
    ASSERT_TRUE(acceptDone.waitFor(1));
    CONF_EXPECT_STATUS(STATUS_SUCCESS, acceptDone.last().status);
  }
}

}  // namespace
}  // namespace conf
