// A small deterministic generator for tests that sweep many random inputs
// (xorshift64): the same sequence on every run and machine.
#pragma once

#include <cstdint>

struct XorShift64 {
  uint64_t state;
  uint64_t operator()() {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
  }
};
