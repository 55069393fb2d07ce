// Link: one RDMA connection of the provider — the bridge between the NDK objects (Connector, Qp,
// STag table, CQs) and one engine::Connection.
//
//  * CompletionSink: MPA events go to the owner (LinkOwner: the connector), or to the acceptor
//    (LinkAcceptor: the listener) before a connector exists; the engine's transmit/read
//    completions become initiator CQ entries in posting order.
//  * PlacementSink: every inbound access is checked against the STag table (valid, key, PD,
//    rights, bounds with wraparound, window range) before a byte is placed; failures return the
//    iwarp::Error the Terminate table maps (access_error()).
//  * QpTransport: the QP hands validated initiator requests over; they run in the engine's progress
//    context, in posting order; local operations (FastRegister, Bind, Invalidate) execute there too.
//
// Threading: everything except submit()/flush() (which only post) runs in the loop's progress
// context. Lifetime: shared_ptr; the Connection references this object until closed(), the QP holds
// it as its transport, the connector until it is destroyed.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "base/inline_vec.h"
#include "base/ring.h"
#include "engine/connection.h"
#include "provider/link_owner.h"
#include "provider/qp_transport.h"
#include "provider/stag_table.h"
#include "provider/work.h"

namespace openndk::provider {

struct PerfCounters;
class Qp;

class Link final : public engine::PlacementSink,
                   public engine::CompletionSink,
                   public QpTransport,
                   public std::enable_shared_from_this<Link> {
 public:
  // The link gets a progress domain of its own on `engine` (docs/engine.md "Progress domains"):
  // its connection progresses in parallel with every other one.
  // `stags` and `counters` are those of the connecting (or listening) adapter until setQp.
  Link(StagTable& stags, PerfCounters& counters, engine::EventLoop& engine);
  ~Link() override;

  // The link's progress domain: everything below marked "loop context" runs there.
  engine::EventLoop& loop() const { return *domain_; }
  // Creates the engine connection over a connected socket whose addresses the caller knows (the
  // connector bound it, the listener accepted it). Until closed() the link keeps itself.
  void start(engine::Socket sock, engine::ConnectionOptions opts, const engine::Endpoint& local,
             const engine::Endpoint& peer);
  std::shared_ptr<engine::Connection> connection() const {
    std::lock_guard lock(conn_mu_);
    return conn_;
  }
  bool localEndpoint(engine::Endpoint* out) const {
    *out = local_;
    return haveAddr_;
  }
  bool peerEndpoint(engine::Endpoint* out) const {
    *out = peer_;
    return haveAddr_;
  }
  // Abortive teardown from any thread (connector close, R31); also before start().
  void abort();

  // Loop context. The passive link belongs to its acceptor (the listener) until an owner (a
  // connector) takes it.
  void setAcceptor(LinkAcceptor* a) { acceptor_ = a; }
  void setOwner(LinkOwner* o) { owner_ = o; }
  // The QP whose queues this link serves (set before the transport is attached; before start() or
  // in the loop context). From establishment on, polling the QP's CQs drives this link's domain.
  void setQp(Qp* qp);
  const iwarp::Negotiated& negotiated() const { return neg_; }
  // Passive side, from the connect request on: the initiator's requested IRD/ORD (R84).
  bool peerRequested(std::uint32_t* ird, std::uint32_t* ord) const {
    *ird = peerIrd_;
    *ord = peerOrd_;
    return havePeerLimits_;
  }
  bool isClosed() const { return closed_; }

  // QpTransport (any thread). submit() only queues (the QP's lock is held); kick() executes the
  // queue in the calling thread if nobody else is in the loop's progress context, else hands it to
  // the loop (docs/decisions.md "Fast path").
  void submit(std::span<WorkRequest> batch) override;
  void kick() override;
  void flush() override;
  // The connection is gone (loop context, from the owner): pending requests complete with `status`.
  void failPending(NTSTATUS status);

 private:
  // PlacementSink
  iwarp::Error placeTagged(iwarp::Opcode op, std::uint32_t stag, std::uint64_t to, std::uint32_t len,
                           engine::MutByteSpan& dest) override;
  iwarp::Error placeUntagged(std::uint32_t msn, std::uint32_t mo, std::uint32_t len, engine::MutByteSpan& dest) override;
  iwarp::Error placeTaggedV(iwarp::Opcode op, std::uint32_t stag, std::uint64_t to, std::uint32_t len,
                            std::vector<engine::MutByteSpan>& dest) override;
  iwarp::Error placeUntaggedV(std::uint32_t msn, std::uint32_t mo, std::uint32_t len,
                              std::vector<engine::MutByteSpan>& dest) override;
  iwarp::Error readSource(const iwarp::ReadRequestHdr& req, engine::ByteSpan& src) override;
  iwarp::Error invalidate(std::uint32_t stag) override;
  // CompletionSink
  void connectRequest(engine::ByteSpan private_data) override;
  void established(const iwarp::Negotiated& n, engine::ByteSpan peer_private_data) override;
  void rejected(engine::ByteSpan peer_private_data) override;
  void txCompleted(std::uint64_t cookie, engine::TxStatus status) override;
  void readCompleted(std::uint64_t cookie) override;
  void sendReceived(std::uint32_t msn, std::uint32_t length, bool with_invalidate, std::uint32_t inv_stag,
                    bool solicited) override;
  void closed(const engine::CloseInfo& info) override;

  // The initiator ledger (loop context): one record per request the QP handed over, in posting
  // order, from hand-over until it is reported. Reports leave from the front only, so completions
  // are in posting order whatever order the wire finishes them in.
  enum class ReqState : std::uint8_t {
    Queued,    // not given to the engine yet (held by the ORD limit, a read fence, or earlier ones)
    OnWire,    // with the engine: a Send/Write not yet handed to TCP, a Read without its response
    Returned,  // the engine gave it back unsent at its close: closed() decides what it reports
    Done,      // its status is final; reported once every earlier request is
  };
  using SpanList = base::InlineVec<engine::MutByteSpan, 4>;
  struct Pending {
    WorkRequest wr;
    std::uint64_t id = 0;  // the engine cookie; its low 32 bits are a Read's sink STag
    ReqState state = ReqState::Queued;
    bool cancelled = false;  // NdkFlush: reports STATUS_CANCELLED whatever happens to it (R77)
    NTSTATUS status = STATUS_SUCCESS;
    SpanList sink;            // Read: the sink SGEs' memory, in order (the responses land here)
    std::uint64_t sinkLength = 0;
  };
  // A receive taken for an inbound message that is being placed (usually one at a time).
  struct Recv {
    std::uint32_t msn = 0;
    ReceiveRequest req;
    SpanList spans;  // per SGE, contiguous pieces
  };

  void onSubmit(std::vector<WorkRequest>& batch);
  void setState(Pending& p, ReqState to, NTSTATUS status);
  void drainInbox();  // progress context: what submit() queued, in order
  void postDrain();
  void onFlush(std::uint64_t mark);  // cancels requests with id <= mark (submitted before NdkFlush)
  void pump(bool posted = false);  // posted: called for the consumer's posts (onSubmit)
  void reap();
  void issue(Pending& p);
  NTSTATUS executeLocal(const WorkRequest& wr);
  Pending* findPending(std::uint64_t id);
  Pending* findReadBySink(std::uint32_t sinkStag);  // a Read on the wire, by its sink STag
  void finishWire(Pending& p, NTSTATUS status);      // a wire request's engine part is over
  Recv* findRecv(std::uint32_t msn);
  void dropRecv(std::uint32_t msn);
  static NTSTATUS statusForTerminate(const iwarp::TerminateInfo& t);
  // SGE → contiguous spans of system memory (privileged token: logical = system address),
  // appended to `out` (spans of mutable or const bytes), adjacent pieces merged.
  template <class SpanVec>
  bool resolveSge(const Sge& s, SpanVec* out) const;
  // The pieces of `spans` covering [off, off+len) (several when it crosses SGE / page-run edges).
  static bool slice(std::span<const engine::MutByteSpan> spans, std::uint64_t off, std::uint32_t len,
                    std::vector<engine::MutByteSpan>* out);

  // The QP's adapter's once setQp ran: its tokens are the ones the peer uses (R156).
  StagTable* stags_;
  PerfCounters* counters_;  // the device's (OID_NDK_STATISTICS octets and frames)
  const std::shared_ptr<engine::EventLoop> domain_;
  engine::EventLoop& loop_;  // *domain_
  bool polled_ = false;      // registered as a poll source with the QP's CQs
  mutable std::mutex conn_mu_;
  std::shared_ptr<engine::Connection> conn_;
  bool abort_ = false;
  engine::Endpoint local_{}, peer_{};
  bool haveAddr_ = false;
  std::shared_ptr<Link> self_;  // until closed()
  LinkAcceptor* acceptor_ = nullptr;
  LinkOwner* owner_ = nullptr;
  Qp* qp_ = nullptr;
  iwarp::Negotiated neg_{};
  std::uint32_t peerIrd_ = 0, peerOrd_ = 0;
  bool havePeerLimits_ = false;
  bool closed_ = false;
  bool established_ = false;
  NTSTATUS deadStatus_ = STATUS_CANCELLED;  // for requests that reach a closed link
  bool holdReports_ = false;                // R80: graceful peer disconnect, wait for flush

  // Submitted, not yet taken by the progress context (any thread, under inbox_mu_).
  std::mutex inbox_mu_;
  std::vector<WorkRequest> inbox_;
  std::uint64_t submitted_ = 0;  // requests ever put into inbox_; the k-th gets Pending id k
  std::atomic<bool> drainPosted_{false};
  std::shared_ptr<Link> drainKeep_;  // the queued drain task's reference (set while drainPosted_)
  Qp* drainQp_ = nullptr;            // the QP it holds
  std::vector<WorkRequest> work_;  // progress context: the batch being taken (capacity reused)

  // Initiator ledger (loop context). Ids are consecutive: the k-th request handed over has id k.
  base::Ring<Pending> q_;
  std::size_t next_ = 0;  // index in q_ of the first Queued request
  std::uint64_t nextId_ = 1;
  std::uint32_t readsOut_ = 0;
  bool txQueued_ = false;  // issue() queued to the connection, pump() transmits
  // Receives being placed, by MSN (loop context; capacity reused).
  std::vector<Recv> recvs_;
};

}  // namespace openndk::provider
