// Fuzz the FPDU deframer + DDP/RDMAP decoder + reassembly state: arbitrary bytes, arbitrary
// segmentation; the deframer must always make progress and agree with the one-shot decoder.
#include <cstdint>
#include <cstdlib>

#include "iwarp/ddp.h"
#include "iwarp/fpdu.h"
#include "iwarp/terminate.h"

using namespace openndk::iwarp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool crc = data[0] & 1;
  const bool direct = data[0] & 2;
  const std::size_t chunk = 1 + data[1];
  const ByteSpan in{data + 2, size - 2};
  Deframer d({crc, mpa::kMaxUlpdu});
  DdpRxState st;
  std::size_t pos = 0, fpdu_start = 0, steps = 0;
  while (pos < in.size()) {
    ByteSpan c = in.subspan(pos, chunk < in.size() - pos ? chunk : in.size() - pos);
    while (!c.empty()) {
      if (++steps > 4 * size + 64) abort();  // must never loop
      if (direct && d.state() == RxState::Payload) {
        const std::size_t k = c.size() < d.payload_remaining() ? c.size() : d.payload_remaining();
        if (!d.payload_placed(c.first(k))) abort();
        c = c.subspan(k);
        pos += k;
        continue;
      }
      const RxStep s = d.feed(c);
      if (s.consumed > c.size()) abort();
      c = c.subspan(s.consumed);
      pos += s.consumed;
      if (s.event == RxEvent::NeedMore && !c.empty()) abort();
      if (s.event == RxEvent::Header) {
        const Segment& g = d.current();
        if (g.header_len + g.payload_len != g.ulpdu_len) abort();
        (void)(g.tagged() ? st.on_tagged(g.ddp, g.payload_len) : st.on_untagged(g.ddp, g.payload_len));
      } else if (s.event == RxEvent::Payload) {
        if (s.payload.data() < in.data() || s.payload.data() + s.payload.size() > in.data() + in.size()) abort();
      } else if (s.event == RxEvent::End) {
        // The one-shot decoder agrees on this FPDU.
        DecodedFpdu o;
        if (decode_fpdu(in.subspan(fpdu_start, pos - fpdu_start), crc, o) != Error::None) abort();
        if (o.fpdu_len != pos - fpdu_start) abort();
        if (o.seg.opcode == Opcode::Terminate) {
          TerminateInfo t;
          (void)parse_terminate(ByteSpan{in}.subspan(fpdu_start + 2, o.seg.ulpdu_len), t);
        }
        fpdu_start = pos;
      } else if (s.event == RxEvent::Error) {
        if (s.error == Error::None) abort();
        if (d.feed(c).event != RxEvent::Error) abort();  // sticky
        return 0;
      }
    }
  }
  return 0;
}
