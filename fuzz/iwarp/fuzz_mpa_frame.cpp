// Fuzz the MPA Request/Reply parser (one-shot and incremental) and check encode/decode agreement.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "iwarp/mpa_frame.h"

using namespace openndk::iwarp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t sel = data[0];
  const ByteSpan in{data + 1, size - 1};
  MpaDecodeOptions opt;
  opt.max_pd = (sel & 1) ? mpa::kInteropPrivateData : mpa::kMaxPrivateData;
  opt.legacy_ird_ord = sel & 2;
  const MpaKind kind = (sel & 4) ? MpaKind::Reply : MpaKind::Request;
  MpaFrame f;
  const MpaParse p = decode_mpa_frame(in, kind, opt, f);
  if (p.status == ParseStatus::Complete) {
    if (p.frame_len > in.size() || f.pd_len > opt.max_pd) abort();
    // Re-encode what we understood and decode it again: must agree.
    MpaFrameSpec s;
    s.kind = f.kind;
    s.rev = f.rev;
    s.m = f.m();
    s.c = f.c();
    s.r = f.r();
    s.enhanced = f.has_v2;
    s.v2 = f.v2;
    s.legacy = f.has_legacy;
    s.legacy_block = f.legacy;
    s.consumer_pd = f.consumer_pd;
    std::uint8_t buf[mpa::kMaxFrameLen];
    const std::size_t n = encode_mpa_frame(s, buf);
    if (n == 0) abort();
    MpaFrame g;
    const MpaParse q = decode_mpa_frame({buf, n}, kind, opt, g);
    if (q.status != ParseStatus::Complete || g.has_v2 != f.has_v2 || g.pd_len != f.pd_len ||
        g.consumer_pd.size() != f.consumer_pd.size())
      abort();
    if (f.has_v2 && (g.v2.ird != f.v2.ird || g.v2.ord != f.v2.ord || g.v2.rtr_mask() != f.v2.rtr_mask())) abort();
    if (f.has_legacy && (g.legacy.ird != f.legacy.ird || g.legacy.ord != f.legacy.ord)) abort();
  }
  // Incremental reader with a chunk size from the selector: same verdict, never past the frame.
  MpaFrameReader r(kind, opt);
  const std::size_t chunk = 1 + (sel >> 3);
  std::size_t pos = 0;
  MpaFrameReader::Result res{ParseStatus::NeedMore, 0, Error::None};
  while (pos < in.size() && res.status == ParseStatus::NeedMore) {
    res = r.feed(in.subspan(pos, chunk < in.size() - pos ? chunk : in.size() - pos));
    pos += res.consumed;
  }
  if (res.status != p.status && !(p.status == ParseStatus::NeedMore && res.status == ParseStatus::NeedMore)) abort();
  if (res.status == ParseStatus::Complete && pos != p.frame_len) abort();
  return 0;
}
