// CRC32c (Castagnoli, the iSCSI CRC) for MPA FPDUs, RFC 5044 §4.4, computed by ISA-L.
#pragma once

#include <cstdint>

#include "iwarp/wire.h"

namespace openndk::iwarp {

// Incremental CRC32c. ISA-L's crc32_iscsi() neither seeds nor inverts; we keep the raw register,
// seed with 0xFFFFFFFF and invert on value(). Feed any split of the data: the result is the same.
class Crc32c {
 public:
  void reset() noexcept { reg_ = 0xFFFFFFFFu; }
  void update(ByteSpan data) noexcept;
  [[nodiscard]] std::uint32_t value() const noexcept { return ~reg_; }

 private:
  std::uint32_t reg_ = 0xFFFFFFFFu;
};

[[nodiscard]] std::uint32_t crc32c(ByteSpan data) noexcept;

// Wire form of the trailer: the value least-significant byte first (IWARP.md §1.3).
inline void store_crc(std::uint8_t* p, std::uint32_t crc) noexcept { store_le32(p, crc); }
[[nodiscard]] inline std::uint32_t load_crc(const std::uint8_t* p) noexcept { return load_le32(p); }

}  // namespace openndk::iwarp
