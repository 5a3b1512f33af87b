// SHA-1, only for the Community ID hash (a fixed, public identifier format,
// not a security use). Self-contained so the flow table needs no crypto library.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tapflow {

void sha1(const uint8_t* data, size_t len, uint8_t digest[20]);

}  // namespace tapflow
