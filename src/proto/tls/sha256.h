// SHA-256 (FIPS 180-2), only for the JA4 fingerprint's truncated hashes: a
// public identifier format, not a security use. Self-contained (no crypto
// library) and streaming, so the sorted lists JA4 hashes need not be kept.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proto/tls/hash_blocks.h"

namespace tapflow {

class Sha256 {
 public:
  static constexpr size_t kDigestBytes = 32;

  Sha256() { reset(); }
  void reset();
  void update(const void* data, size_t len);
  // Writes the digest; the object must be reset() before it is used again.
  void finish(uint8_t digest[kDigestBytes]);

 private:
  void compress(const uint8_t block[64]);

  uint32_t state_[8];
  HashBlocks blocks_;
};

void sha256(const uint8_t* data, size_t len, uint8_t digest[Sha256::kDigestBytes]);

}  // namespace tapflow
