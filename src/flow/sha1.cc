// SHA-1 (FIPS 180-4) for Community IDs: one hash of ~40 bytes per event, so the
// per-message cost matters. x86-64 SHA extensions where present, portable code elsewhere.
#include "flow/sha1.h"

#include <cstring>
#include <utility>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace tapflow {
namespace {

constexpr uint32_t kInitialState[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
constexpr uint32_t kRoundConstant[4] = {0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xCA62C1D6};

using CompressFn = void (*)(uint32_t state[5], const uint8_t* blocks, size_t block_count);

// Pads the message (0x80, zeros, the bit length big-endian) and runs the given
// compression over it: the part both implementations share.
template <CompressFn kCompress>
void sha1With(const uint8_t* data, size_t len, uint8_t digest[20]) {
  uint32_t state[5];
  std::memcpy(state, kInitialState, sizeof(state));
  const size_t full_blocks = len / 64;
  if (full_blocks > 0) kCompress(state, data, full_blocks);

  uint8_t tail[128];
  const size_t rest = len % 64;
  const size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
  std::memcpy(tail, data + 64 * full_blocks, rest);
  tail[rest] = 0x80;
  std::memset(tail + rest + 1, 0, tail_len - rest - 1 - 8);
  const uint64_t bits = uint64_t(len) * 8;
  for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = uint8_t(bits >> (8 * i));
  kCompress(state, tail, tail_len / 64);

  for (int i = 0; i < 5; ++i) {
    digest[4 * i] = uint8_t(state[i] >> 24);
    digest[4 * i + 1] = uint8_t(state[i] >> 16);
    digest[4 * i + 2] = uint8_t(state[i] >> 8);
    digest[4 * i + 3] = uint8_t(state[i]);
  }
}

// ---- Portable ----

inline uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

inline uint32_t loadBigEndian32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// The round functions of FIPS 180-4 4.1.1 (Ch, Parity, Maj), in their
// fewest-operation forms.
template <int kStage>
inline uint32_t roundFunction(uint32_t b, uint32_t c, uint32_t d) {
  if constexpr (kStage == 0) return d ^ (b & (c ^ d));
  else if constexpr (kStage == 2) return (b & c) | (d & (b | c));
  else return b ^ c ^ d;
}

// Word i of the message schedule. From 16 on it is computed in a 16-word ring
// (w[i-3], w[i-8], w[i-14], w[i-16] are i+13, i+8, i+2, i mod 16) rather than
// expanded into 80 words up front.
inline uint32_t scheduleWord(uint32_t w[16], int i) {
  if (i < 16) return w[i];
  const uint32_t next = rotl(w[(i + 13) & 15] ^ w[(i + 8) & 15] ^ w[(i + 2) & 15] ^ w[i & 15], 1);
  w[i & 15] = next;
  return next;
}

// One round in place: the caller renames a..e by argument order instead of
// shifting five registers each round.
template <int kStage>
inline void round(uint32_t a, uint32_t& b, uint32_t c, uint32_t d, uint32_t& e, uint32_t word) {
  e += rotl(a, 5) + roundFunction<kStage>(b, c, d) + kRoundConstant[kStage] + word;
  b = rotl(b, 30);
}

// Twenty rounds with one round function; five at a time brings the names back around.
template <int kStage>
inline void stage(uint32_t& a, uint32_t& b, uint32_t& c, uint32_t& d, uint32_t& e, uint32_t w[16]) {
#pragma GCC unroll 4
  for (int i = kStage * 20; i < kStage * 20 + 20; i += 5) {
    round<kStage>(a, b, c, d, e, scheduleWord(w, i));
    round<kStage>(e, a, b, c, d, scheduleWord(w, i + 1));
    round<kStage>(d, e, a, b, c, scheduleWord(w, i + 2));
    round<kStage>(c, d, e, a, b, scheduleWord(w, i + 3));
    round<kStage>(b, c, d, e, a, scheduleWord(w, i + 4));
  }
}

void compressPortable(uint32_t state[5], const uint8_t* blocks, size_t block_count) {
  for (; block_count > 0; --block_count, blocks += 64) {
    uint32_t w[16];
    for (int i = 0; i < 16; ++i) w[i] = loadBigEndian32(blocks + 4 * i);
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
    stage<0>(a, b, c, d, e, w);
    stage<1>(a, b, c, d, e, w);
    stage<2>(a, b, c, d, e, w);
    stage<3>(a, b, c, d, e, w);
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
  }
}

// ---- x86-64 SHA extensions ----

#if defined(__x86_64__)
#define TAPFLOW_SHA_TARGET __attribute__((target("sha,ssse3,sse4.1")))

// Four rounds (group g of 20) and the schedule work that group's words feed:
// W[g+1] = msg2(msg1(W[g-3], W[g-2]) ^ W[g-1], W[g]) is built over three groups
// so that each step overlaps the rounds. msg[k] holds W[g] for g = k mod 4.
// `e` holds abcd from before the previous group: sha1nexte turns it into that
// group's E (rotated a) and adds the words.
template <int kGroup>
TAPFLOW_SHA_TARGET __attribute__((always_inline)) inline void shaNiFourRounds(__m128i& abcd, __m128i& e,
                                                                                 __m128i (&msg)[4]) {
  const __m128i words = msg[kGroup % 4];
  const __m128i e_and_words = kGroup == 0 ? _mm_add_epi32(e, words) : _mm_sha1nexte_epu32(e, words);
  if constexpr (kGroup >= 3 && kGroup <= 18) msg[(kGroup + 1) % 4] = _mm_sha1msg2_epu32(msg[(kGroup + 1) % 4], words);
  e = abcd;
  abcd = _mm_sha1rnds4_epu32(abcd, e_and_words, kGroup / 5);
  if constexpr (kGroup >= 1 && kGroup <= 16) msg[(kGroup + 3) % 4] = _mm_sha1msg1_epu32(msg[(kGroup + 3) % 4], words);
  if constexpr (kGroup >= 2 && kGroup <= 17) msg[(kGroup + 2) % 4] = _mm_xor_si128(msg[(kGroup + 2) % 4], words);
}

template <size_t... kGroups>
TAPFLOW_SHA_TARGET __attribute__((always_inline)) inline void shaNiEightyRounds(__m128i& abcd, __m128i& e,
                                                                                   __m128i (&msg)[4],
                                                                                   std::index_sequence<kGroups...>) {
  (shaNiFourRounds<int(kGroups)>(abcd, e, msg), ...);
}

TAPFLOW_SHA_TARGET void compressShaNi(uint32_t state[5], const uint8_t* blocks, size_t block_count) {
  // Big-endian words, and word 0 in the top lane as sha1rnds4 expects: reverse all 16 bytes.
  const __m128i reverse_bytes = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)), 0x1B);
  __m128i e = _mm_set_epi32(int(state[4]), 0, 0, 0);
  for (; block_count > 0; --block_count, blocks += 64) {
    const __m128i abcd_before = abcd;
    const __m128i e_before = e;
    const __m128i* words = reinterpret_cast<const __m128i*>(blocks);
    __m128i msg[4] = {_mm_shuffle_epi8(_mm_loadu_si128(words), reverse_bytes),
                      _mm_shuffle_epi8(_mm_loadu_si128(words + 1), reverse_bytes),
                      _mm_shuffle_epi8(_mm_loadu_si128(words + 2), reverse_bytes),
                      _mm_shuffle_epi8(_mm_loadu_si128(words + 3), reverse_bytes)};
    shaNiEightyRounds(abcd, e, msg, std::make_index_sequence<20>{});
    e = _mm_sha1nexte_epu32(e, e_before);
    abcd = _mm_add_epi32(abcd, abcd_before);
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_shuffle_epi32(abcd, 0x1B));
  state[4] = uint32_t(_mm_extract_epi32(e, 3));
}

bool cpuHasShaExtensions() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool ssse3 = ecx & (1u << 9);
  const bool sse41 = ecx & (1u << 19);
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool sha = ebx & (1u << 29);
  return ssse3 && sse41 && sha;
}

// Read once at load time. Should another file's static initializer hash before
// this is set, it reads false and gets the portable code: same digest.
const bool kHaveShaExtensions = cpuHasShaExtensions();
#endif

}  // namespace

void sha1Portable(const uint8_t* data, size_t len, uint8_t digest[20]) {
  sha1With<compressPortable>(data, len, digest);
}

bool sha1AcceleratedAvailable() {
#if defined(__x86_64__)
  return kHaveShaExtensions;
#else
  return false;
#endif
}

void sha1Accelerated(const uint8_t* data, size_t len, uint8_t digest[20]) {
#if defined(__x86_64__)
  if (kHaveShaExtensions) return sha1With<compressShaNi>(data, len, digest);
#endif
  sha1With<compressPortable>(data, len, digest);
}

void sha1(const uint8_t* data, size_t len, uint8_t digest[20]) { sha1Accelerated(data, len, digest); }

}  // namespace tapflow
