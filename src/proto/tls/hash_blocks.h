// What MD5 and SHA-256 share, both Merkle-Damgard hashes over 64-byte blocks:
// gathering input into whole blocks, and the final padding (0x80, zeros up to
// 56 mod 64, the message length in bits). Each hash brings its compression
// function and says in which byte order it writes the length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tapflow {

class HashBlocks {
 public:
  static constexpr size_t kBlockBytes = 64;
  enum class LengthOrder : uint8_t { kLittleEndian, kBigEndian };

  void reset() {
    total_bytes_ = 0;
    block_len_ = 0;
  }

  // Calls compress(block) for every whole block the input completes.
  template <typename Compress>
  void update(const void* data, size_t len, Compress&& compress) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    total_bytes_ += len;
    if (block_len_ > 0) {
      const size_t take = len < kBlockBytes - block_len_ ? len : kBlockBytes - block_len_;
      std::memcpy(block_ + block_len_, p, take);
      block_len_ += take;
      p += take;
      len -= take;
      if (block_len_ < kBlockBytes) return;
      compress(block_);
      block_len_ = 0;
    }
    for (; len >= kBlockBytes; p += kBlockBytes, len -= kBlockBytes) compress(p);
    if (len > 0) {
      std::memcpy(block_, p, len);
      block_len_ = len;
    }
  }

  // Pads the message and compresses the last block(s).
  template <typename Compress>
  void finish(LengthOrder order, Compress&& compress) {
    const uint64_t bits = total_bytes_ * 8;
    const uint8_t one = 0x80;
    update(&one, 1, compress);
    const uint8_t zeros[kBlockBytes] = {};
    update(zeros, (kBlockBytes + 56 - block_len_) % kBlockBytes, compress);
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) {
      length[i] = uint8_t(order == LengthOrder::kLittleEndian ? bits >> (8 * i) : bits >> (56 - 8 * i));
    }
    update(length, 8, compress);
  }

 private:
  uint64_t total_bytes_ = 0;
  uint8_t block_[kBlockBytes];
  size_t block_len_ = 0;
};

}  // namespace tapflow
