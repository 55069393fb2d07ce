// Little-endian field access for the SMB wire formats. Every read is bounds-checked against the
// message it reads from: a field that runs past the end throws SmbError, never reads beyond it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ndksmb {

// A malformed or unexpected message, or a failed operation; what() is the one line the tool prints.
struct SmbError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Reads little-endian integers at absolute offsets of a message.
class Reader {
 public:
  Reader(ByteView data, const char* what) : data_(data), what_(what) {}
  std::size_t size() const { return data_.size(); }
  std::uint8_t u8(std::size_t off) const { return data_[check(off, 1)]; }
  std::uint16_t u16(std::size_t off) const {
    std::size_t o = check(off, 2);
    return static_cast<std::uint16_t>(data_[o] | data_[o + 1] << 8);
  }
  std::uint32_t u32(std::size_t off) const { return u16(off) | static_cast<std::uint32_t>(u16(off + 2)) << 16; }
  std::uint64_t u64(std::size_t off) const { return u32(off) | static_cast<std::uint64_t>(u32(off + 4)) << 32; }
  // `len` bytes at `off`, both taken from the peer: checked without overflow.
  ByteView bytes(std::size_t off, std::size_t len) const { return data_.subspan(check(off, len), len); }

 private:
  std::size_t check(std::size_t off, std::size_t len) const {
    if (off > data_.size() || len > data_.size() - off)
      throw SmbError(std::string(what_) + ": field at offset " + std::to_string(off) + " length " + std::to_string(len) +
                     " runs past the " + std::to_string(data_.size()) + "-byte message");
    return off;
  }
  ByteView data_;
  const char* what_;
};

// Appends little-endian fields; put* overwrite fields already appended.
class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  std::size_t size() const { return out_.size(); }
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v));
    u8(static_cast<std::uint8_t>(v >> 8));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v));
    u16(static_cast<std::uint16_t>(v >> 16));
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v));
    u32(static_cast<std::uint32_t>(v >> 32));
  }
  void bytes(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }
  void align(std::size_t a) {
    while (out_.size() % a) out_.push_back(0);
  }
  void put16(std::size_t off, std::uint16_t v) {
    out_.at(off) = static_cast<std::uint8_t>(v);
    out_.at(off + 1) = static_cast<std::uint8_t>(v >> 8);
  }
  void put32(std::size_t off, std::uint32_t v) {
    put16(off, static_cast<std::uint16_t>(v));
    put16(off + 2, static_cast<std::uint16_t>(v >> 16));
  }

 private:
  Bytes& out_;
};

// UTF-8 <-> UTF-16LE for file and share names (surrogate pairs included; malformed input from the
// server becomes U+FFFD rather than an error, a name is only printed).
Bytes utf16le(const std::string& utf8);
std::string utf8(ByteView utf16le);

}  // namespace ndksmb
