// MD5 (RFC 1321), only for the JA3/JA3S fingerprints: a fixed, public
// identifier format, not a security use. Self-contained so the TLS analyzer
// links no crypto library. Streaming, so a long JA3 string need not be kept.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proto/tls/hash_blocks.h"

namespace tapflow {

class Md5 {
 public:
  static constexpr size_t kDigestBytes = 16;

  Md5() { reset(); }
  void reset();
  void update(const void* data, size_t len);
  // Writes the digest; the object must be reset() before it is used again.
  void finish(uint8_t digest[kDigestBytes]);

 private:
  void compress(const uint8_t block[64]);

  uint32_t state_[4];
  HashBlocks blocks_;
};

void md5(const uint8_t* data, size_t len, uint8_t digest[Md5::kDigestBytes]);

}  // namespace tapflow
