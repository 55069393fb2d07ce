#include "iwarp/crc32c.h"

#include <isa-l/crc.h>

#include <climits>

namespace openndk::iwarp {

void Crc32c::update(ByteSpan data) noexcept {
  // crc32_iscsi takes an int length and a non-const pointer (it does not write); chunk to stay in range.
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  while (n > 0) {
    const std::size_t chunk = n > static_cast<std::size_t>(INT_MAX) ? static_cast<std::size_t>(INT_MAX) : n;
    reg_ = crc32_iscsi(const_cast<unsigned char*>(p), static_cast<int>(chunk), reg_);
    p += chunk;
    n -= chunk;
  }
}

std::uint32_t crc32c(ByteSpan data) noexcept {
  Crc32c c;
  c.update(data);
  return c.value();
}

}  // namespace openndk::iwarp
