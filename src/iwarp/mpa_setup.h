// MPA connection setup (RFC 5044 §7.1, RFC 6581 §9) as a pure state machine: events in, actions out.
// No sockets, no timers, no threads: the engine performs the actions (send bytes, arm the one setup
// timer, switch the stream to FPDU mode, close) and reports events (bytes, timer expiry, peer close,
// the consumer's accept/reject, the first FPDU after the Reply).
#pragma once

#include <array>
#include <cstdint>

#include "iwarp/errors.h"
#include "iwarp/mpa_frame.h"
#include "iwarp/profiles.h"
#include "iwarp/rdmap.h"

namespace openndk::iwarp {

enum class SetupRole : std::uint8_t { Initiator, Responder };
enum class SetupState : std::uint8_t {
  Idle,
  AwaitReply,     // initiator: Request sent, T_reply armed
  AwaitRequest,   // responder: TCP accepted, T_request armed
  AwaitConsumer,  // responder: Request validated, waiting for accept()/reject() (no timer, as siw)
  AwaitRtr,       // responder: Reply sent, waiting for the RTR / first FPDU (T_rtr)
  Established,
  Failed,
};

enum class ActionKind : std::uint8_t {
  Send,             // write `bytes` to TCP in one send() (valid until the next call on MpaSetup)
  ArmTimer,         // (re)arm the single setup timer for `timer_ms`
  CancelTimer,
  RequestReceived,  // responder: the Request is in peer(); ask the consumer, then accept()/reject()
  EnterFpduMode,    // from now on RX bytes go to a Deframer and TX is framed, both with `crc`
  Established,      // RDMA mode; result() holds the negotiated parameters
  Rejected,         // initiator: peer sent R=1; peer().consumer_pd is its private data
  Failed,           // `error`; a Terminate, if any, was in a Send action before
  Close,            // graceful TCP close after the sends of this batch
};

struct Action {
  ActionKind kind = ActionKind::Send;
  ByteSpan bytes{};
  std::uint32_t timer_ms = 0;
  bool crc = false;
  Error error = Error::None;
};

class Actions {
 public:
  void push(const Action& a) noexcept {
    if (n_ < items_.size()) items_[n_++] = a;
  }
  [[nodiscard]] std::size_t size() const noexcept { return n_; }
  [[nodiscard]] const Action& operator[](std::size_t i) const noexcept { return items_[i]; }
  [[nodiscard]] const Action* begin() const noexcept { return items_.data(); }
  [[nodiscard]] const Action* end() const noexcept { return items_.data() + n_; }
  [[nodiscard]] bool has(ActionKind k) const noexcept {
    for (const Action& a : *this)
      if (a.kind == k) return true;
    return false;
  }
  [[nodiscard]] const Action* find(ActionKind k) const noexcept {
    for (const Action& a : *this)
      if (a.kind == k) return &a;
    return nullptr;
  }

 private:
  std::array<Action, 8> items_{};
  std::size_t n_ = 0;
};

// What the consumer asks for (NDK: IRD = inbound read limit, ORD = outbound read limit).
struct SetupParams {
  std::uint32_t ird = 1;
  std::uint32_t ord = 1;
  ByteSpan private_data{};
};

struct Negotiated {
  bool crc = false;
  std::uint8_t rev = 0;
  bool enhanced = false;
  bool p2p = false;
  RtrType rtr = RtrType::None;  // RTR form used (P2P)
  std::uint32_t ird = 0;        // program the local inbound read queue with this
  std::uint32_t ord = 0;        // and never exceed this many outstanding outbound reads
  std::uint32_t peer_ird = 0;
  std::uint32_t peer_ord = 0;
  bool legacy_ird_ord = false;  // [MS-SMBD] §6.1 header was used
  bool legacy_little_endian = false;
  bool peer_sent_crc = false;
};

class MpaSetup {
 public:
  MpaSetup(const Profile& profile, SetupRole role) noexcept;

  // Initiator: TCP is connected - sends the Request. Responder: TCP accepted - arms T_request.
  [[nodiscard]] Actions start(const SetupParams& params) noexcept;
  // Startup-phase bytes. `consumed` = bytes used; the rest (initiator: FPDUs the peer sent right
  // behind its Reply, as a siw responder does) belongs to the Deframer after EnterFpduMode.
  [[nodiscard]] Actions on_bytes(ByteSpan in, std::size_t& consumed) noexcept;
  [[nodiscard]] Actions on_timeout() noexcept;
  [[nodiscard]] Actions on_peer_closed() noexcept;
  // Responder, after RequestReceived.
  [[nodiscard]] Actions accept(const SetupParams& params) noexcept;
  [[nodiscard]] Actions reject(ByteSpan private_data) noexcept;
  // Responder in AwaitRtr: the first FPDU decoded (header event) by the engine's Deframer. After
  // Established the engine processes that FPDU normally (a Read RTR still needs its zero-length
  // Read Response, RFC 6581 §9.2).
  [[nodiscard]] Actions on_first_fpdu(const Segment& seg) noexcept;

  [[nodiscard]] SetupState state() const noexcept { return state_; }
  [[nodiscard]] const Negotiated& result() const noexcept { return neg_; }
  [[nodiscard]] const MpaFrame& peer() const noexcept { return reader_.frame(); }
  [[nodiscard]] Error error() const noexcept { return error_; }
  [[nodiscard]] const Profile& profile() const noexcept { return profile_; }

 private:
  [[nodiscard]] MpaDecodeOptions decode_options() const noexcept;
  void fail(Actions& a, Error e, bool terminate) noexcept;
  void send_reject(Actions& a, ByteSpan pd) noexcept;
  void on_reply(Actions& a) noexcept;
  void on_request(Actions& a) noexcept;

  const Profile& profile_;
  SetupRole role_;
  SetupState state_ = SetupState::Idle;
  MpaFrameReader reader_;
  SetupParams params_{};
  Negotiated neg_{};
  Error error_ = Error::None;
  bool sent_v2_ = false;
  bool sent_p2p_ = false;
  std::array<std::uint8_t, mpa::kMaxFrameLen> frame_buf_{};
  std::array<std::uint8_t, 96> fpdu_buf_{};  // RTR or Terminate FPDU
};

}  // namespace openndk::iwarp
