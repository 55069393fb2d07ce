// Fuzz the connection-setup state machine with a script of events: bytes, timer, peer close,
// consumer accept/reject and first FPDU. It must never crash, loop, or emit inconsistent actions.
#include <cstdint>
#include <cstdlib>

#include "iwarp/fpdu.h"
#include "iwarp/mpa_setup.h"

using namespace openndk::iwarp;

namespace {
void check(const Actions& a) {
  if (a.size() > 8) abort();
  for (const Action& x : a) {
    if (x.kind == ActionKind::Failed && x.error == Error::None) abort();
    if (x.kind == ActionKind::Send && (x.bytes.empty() || x.bytes.size() > mpa::kMaxFrameLen)) abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto profiles = all_profiles();
  const Profile& prof = *profiles[(data[0] & 0x7F) % profiles.size()];
  const SetupRole role = (data[0] & 0x80) ? SetupRole::Responder : SetupRole::Initiator;
  MpaSetup s(prof, role);
  check(s.start({1, 1, {}}));
  Deframer d({false, mpa::kMaxUlpdu});
  bool fpdu_mode = false;
  std::size_t at = 1;
  while (at < size) {
    const std::uint8_t cmd = data[at++];
    Actions a;
    switch (cmd % 8) {
      case 0: case 1: case 2: {  // bytes
        const std::size_t len = at < size ? data[at++] : 0;
        const std::size_t n = len < size - at ? len : size - at;
        const ByteSpan in{data + at, n};
        at += n;
        if (!fpdu_mode) {
          std::size_t used = 0;
          a = s.on_bytes(in, used);
          if (used > in.size()) abort();
          check(a);
          if (const Action* e = a.find(ActionKind::EnterFpduMode)) {
            fpdu_mode = true;
            d.reset({e->crc, mpa::kMaxUlpdu});
          }
          ByteSpan rest = in.subspan(used);
          while (fpdu_mode && !rest.empty()) {
            const RxStep st = d.feed(rest);
            rest = rest.subspan(st.consumed);
            if (st.event == RxEvent::Header) check(s.on_first_fpdu(d.current()));
            if (st.event == RxEvent::Error) break;
          }
        } else {
          ByteSpan rest = in;
          while (!rest.empty()) {
            const RxStep st = d.feed(rest);
            rest = rest.subspan(st.consumed);
            if (st.event == RxEvent::Header) check(s.on_first_fpdu(d.current()));
            if (st.event == RxEvent::Error) break;
          }
        }
        break;
      }
      case 3: check(s.on_timeout()); break;
      case 4: check(s.on_peer_closed()); break;
      case 5: {
        const std::uint32_t ird = at < size ? data[at++] : 0;
        a = s.accept({ird * 3, ird, {}});
        check(a);
        if (const Action* e = a.find(ActionKind::EnterFpduMode)) {
          fpdu_mode = true;
          d.reset({e->crc, mpa::kMaxUlpdu});
        }
        break;
      }
      case 6: check(s.reject({data + at, size - at < 16 ? size - at : 16})); break;
      default: {
        Segment g{};
        g.opcode = static_cast<Opcode>(cmd >> 4 & 0x7);
        check(s.on_first_fpdu(g));
        break;
      }
    }
  }
  return 0;
}
