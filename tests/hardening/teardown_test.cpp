// Bounded teardown (issue 12): closing a listener refuses the MPA requests still pending on it at
// once (R105: a reset, not a wait for the peer), a connector delivered by a connect event and closed
// unanswered refuses its request at once (R31), and the listener's close then completes without
// waiting for peers that never close. Elapsed times are asserted only loosely.
#include <chrono>

#include "hardening_fixture.h"

namespace hardening {
namespace {

using Clock = std::chrono::steady_clock;

class Teardown : public Hard {};

TEST_F(Teardown, ListenerCloseResetsPendingRequestsAtOnce) {
  // One request still arriving (half a Request: no connect event yet) and one delivered to the
  // consumer, which neither accepts nor rejects it. Neither peer ever closes.
  EvilPeer half, whole;
  ASSERT_TRUE(half.connectTo("127.0.0.1", port));
  const Bytes req = EvilPeer::goodRequest();
  ASSERT_TRUE(half.sendAll(req.data(), 10));
  ASSERT_TRUE(whole.connectTo("127.0.0.1", port));
  ASSERT_TRUE(whole.sendAll(req));
  NDK_CONNECTOR* delivered = connectorFrom(whole.localPort());
  ASSERT_NE(delivered, nullptr) << "no connect event";

  const auto t0 = Clock::now();
  Event listenerClosed;
  const NTSTATUS ls = listener->Dispatch->NdkCloseListener(&listener->Header, closeDone, &listenerClosed);
  listener = nullptr;
  // R105: the request still arriving is refused at once, with a reset.
  const Verdict vh = half.collect(10s);
  EXPECT_TRUE(vh.reset) << "the pending request was not reset: " << vh.describe();
  // R24/R115: the close pends on the delivered connector; closing it unanswered refuses its request.
  if (ls == STATUS_PENDING) {
    EXPECT_EQ(listenerClosed.value(), 0) << "the listener closed before the connector it delivered";
  }
  closeAndWait(delivered);  // waits for its completion
  {
    std::lock_guard l(incoming.mu);
    std::erase(incoming.conns, delivered);
  }
  const Verdict vw = whole.collect(10s);
  EXPECT_TRUE(vw.reset) << "the delivered request was not refused at once: " << vw.describe();
  if (ls == STATUS_PENDING) {
    EXPECT_TRUE(listenerClosed.wait(1, 10s)) << "the listener's close never completed";
  }
  EXPECT_LT(Clock::now() - t0, 5s) << "teardown waited for peers that never close";
  // R105: nothing is accepted any more.
  EvilPeer late;
  if (late.connectTo("127.0.0.1", port, 2s)) {
    late.sendAll(req);
    bool closed = false;
    late.drainUntilClosed(5s, &closed);
    EXPECT_TRUE(closed);
  }
}

}  // namespace
}  // namespace hardening
