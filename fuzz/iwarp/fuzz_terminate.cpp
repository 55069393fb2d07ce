// Fuzz the Terminate parser; whatever parses must re-encode to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "iwarp/terminate.h"

using namespace openndk::iwarp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  TerminateInfo t;
  if (parse_terminate({data, size}, t) != Error::None) return 0;
  std::uint8_t out[128];
  const std::size_t n = encode_terminate_ulpdu(t, out);
  if (n != size) abort();
  // Header fields that we regenerate (reserved bits, Invalidate STag) may differ; the rest must not.
  if (std::memcmp(out + 18, data + 18, 2) != 0) abort();  // layer/etype/code
  if (std::memcmp(out + 22, data + 22, n - 22) != 0) abort();  // included headers
  (void)describe_term(t.layer, t.etype, t.code);
  return 0;
}
