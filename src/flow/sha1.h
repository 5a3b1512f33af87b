// SHA-1, only for the Community ID hash and SIP user hashing (fixed, public formats,
// not a security use). Self-contained so the flow table needs no crypto library.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tapflow {

// One SHA-1 per event on the worker thread: uses the x86-64 SHA extensions when
// the CPU has them (chosen once, by CPUID), the portable code otherwise.
void sha1(const uint8_t* data, size_t len, uint8_t digest[20]);

// The two implementations behind sha1(), exposed so tests can check they agree.
void sha1Portable(const uint8_t* data, size_t len, uint8_t digest[20]);
// True when this build and CPU have the SHA extensions. Without them
// sha1Accelerated() is the portable code, so it is always safe to call.
bool sha1AcceleratedAvailable();
void sha1Accelerated(const uint8_t* data, size_t len, uint8_t digest[20]);

}  // namespace tapflow
