// libFuzzer target for IP defragmentation: the input is a script of fragments
// fed to a defragmenter with tiny limits, so every limit and drop path is hit.
//
// Each 8-byte record describes one fragment:
//   b0  bit0 IPv6, bit1 more fragments, bit2 call expire() first,
//       bit3 IPv6: hop-by-hop header before the fragment header,
//       bit4 second source address, bit5 perturb one decoded field (b6 picks
//       which) so the fragment must be refused, bits6-7 time step scale
//       (b7 << 0, 4, 8 or 12 ns; the timeout is 100 us)
//   b1  bits0-2 identification, bit3 IPv4 protocol TCP instead of UDP,
//       bits4-5 IPv4 option words in the header
//   b2-3 fragment offset in 8-byte units (13 bits)
//   b4-5 payload length (13 bits)
//   b6  perturbation choice
//   b7  time step before this fragment
// Fragment bytes follow a pattern of (datagram identity, offset), so any
// reassembled datagram can be checked byte for byte; a small model of each
// datagram checks overlaps, completion and the reason of every drop; limits and
// counters are checked after every fragment. A failed check is __builtin_trap().
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "reassembly/ip_defrag.h"

// The harness's own byte loops are left out of coverage: they would drown the
// defragmenter's comparisons in libFuzzer's feedback and slow every run.
#define HARNESS __attribute__((no_sanitize("coverage"), noinline))

namespace {

using namespace tapflow;

constexpr uint32_t kEth = 14;
constexpr size_t kRecord = 8;
constexpr Duration kTimeout = 100'000;

DefragConfig fuzzConfig() {
  DefragConfig c;
  c.max_datagrams = 4;
  c.max_bytes = 16 * 1024;
  c.max_fragments_per_datagram = 8;
  c.timeout = kTimeout;
  return c;
}

uint8_t pattern(uint8_t version, uint32_t id, uint8_t src, uint8_t proto, uint32_t offset) {
  return static_cast<uint8_t>(offset * 31 + (offset >> 8) + id * 7 + version + src * 13 + proto);
}

void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint32_t get16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }

HARNESS uint32_t checksum(const uint8_t* h, uint32_t len) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i + 1 < len; i += 2) sum += get16(h + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

uint8_t g_packet[kEth + 60 + 8 + 8 + 0x2000 + 16];

// Builds one fragment and its DecodedPacket the way the decoder fills it.
HARNESS void buildFragment(const uint8_t* r, Timestamp ts, DecodedPacket& p) {
  const bool v6 = r[0] & 1;
  const bool more = r[0] & 2;
  const bool hbh = r[0] & 8;
  const uint8_t src = (r[0] >> 4) & 1;
  const uint32_t id = r[1] & 7;
  const uint8_t proto = v6 ? 0 : ((r[1] & 8) ? 6 : 17);
  const uint32_t option_words = (r[1] >> 4) & 3;
  const uint32_t offset = (get16(r + 2) & 0x1fff) * 8;
  const uint32_t len = get16(r + 4) & 0x1fff;

  std::memset(g_packet, 0, kEth);
  uint8_t* ip = g_packet + kEth;
  p = DecodedPacket{};
  p.data = g_packet;
  p.ts = ts;
  p.l3_offset = kEth;
  p.is_fragment = true;
  p.more_fragments = more;
  p.frag_offset = offset;
  p.frag_payload_len = len;
  uint32_t payload_off;
  if (!v6) {
    const uint32_t hl = 20 + option_words * 4;
    std::memset(ip, 0, hl);
    std::memset(ip + 20, 1, hl - 20);  // NOP options
    ip[0] = static_cast<uint8_t>(0x40 | (hl / 4));
    put16(ip + 2, hl + len);
    put16(ip + 4, id);
    put16(ip + 6, (more ? 0x2000u : 0u) | (offset / 8));
    ip[8] = 64;
    ip[9] = proto;
    ip[12] = 10;
    ip[15] = static_cast<uint8_t>(1 + src);
    ip[16] = 10;
    ip[19] = 200;
    put16(ip + 10, checksum(ip, hl));
    p.ip_version = 4;
    p.ip_proto = proto;
    p.ip_total_len = hl + len;
    std::memcpy(p.src.bytes, ip + 12, 4);
    std::memcpy(p.dst.bytes, ip + 16, 4);
    p.frag_id = id;
    payload_off = kEth + hl;
  } else {
    const uint32_t ext = hbh ? 8 : 0;
    std::memset(ip, 0, 40 + ext + 8);
    ip[0] = 0x60;
    put16(ip + 4, ext + 8 + len);
    ip[6] = hbh ? 0 : 44;
    ip[7] = 64;
    ip[8] = 0x20;
    ip[23] = static_cast<uint8_t>(1 + src);
    ip[24] = 0x20;
    ip[39] = 200;
    if (hbh) {
      ip[40] = 44;
      ip[42] = 1;  // PadN over the rest of the header
      ip[43] = 4;
    }
    uint8_t* fh = ip + 40 + ext;
    fh[0] = 17;
    put16(fh + 2, offset | (more ? 1u : 0u));
    fh[7] = static_cast<uint8_t>(id);
    p.ip_version = 6;
    p.ip_proto = 17;
    p.ip_total_len = 40 + ext + 8 + len;
    std::memcpy(p.src.bytes, ip + 8, 16);
    std::memcpy(p.dst.bytes, ip + 24, 16);
    p.frag_id = id;
    p.frag_header_offset = kEth + 40 + ext;
    payload_off = kEth + 40 + ext + 8;
  }
  for (uint32_t i = 0; i < len; ++i) g_packet[payload_off + i] = pattern(p.ip_version, id, src, proto, offset + i);
  p.frag_payload_offset = payload_off;
  p.cap_len = payload_off + len;
  p.wire_len = p.cap_len;
}

// Changes one field so that the defragmenter must refuse the fragment.
void perturb(uint8_t choice, DecodedPacket& p) {
  switch (choice % 8) {
    case 0: p.frag_payload_len += 1; break;  // past the capture or the IP length
    case 1: p.cap_len -= 1; break;
    case 2: p.ip_total_len -= 1; break;
    case 3: g_packet[p.l3_offset] ^= 0x30; break;  // version nibble 4<->7, 6<->5
    case 4:
      if (p.ip_version == 6) {
        p.frag_header_offset += 8;
      } else {
        p.frag_payload_offset += 4;
      }
      break;
    case 5: p.ip_total_len += 8; break;  // looks cut by the snap length
    case 6: p.is_fragment = false; break;
    default: p.ip_version = 5; break;
  }
}

// The datagram must be a whole raw IP packet whose payload follows the pattern.
HARNESS void checkDatagram(const ReassembledDatagram& d) {
  if (d.bytes == nullptr || d.fragment_count == 0 || d.len < 20) __builtin_trap();
  const uint8_t* b = d.bytes;
  uint32_t hl;
  uint8_t version = b[0] >> 4;
  uint32_t id;
  uint8_t src;
  uint8_t proto = 0;
  if (version == 4) {
    hl = (b[0] & 0xf) * 4u;
    if (hl < 20 || hl > d.len || get16(b + 2) != d.len) __builtin_trap();
    if ((get16(b + 6) & 0x3fff) != 0 || checksum(b, hl) != 0) __builtin_trap();
    id = get16(b + 4);
    src = static_cast<uint8_t>(b[15] - 1);
    proto = b[9];
  } else if (version == 6) {
    if (d.len < 40 || get16(b + 4) + 40u != d.len) __builtin_trap();
    if (b[6] == 0) {
      if (d.len < 48 || b[40] != 17) __builtin_trap();
      hl = 48;
    } else {
      if (b[6] != 17) __builtin_trap();
      hl = 40;
    }
    // The identification is gone with the fragment header: find it by pattern.
    src = static_cast<uint8_t>(b[23] - 1);
    id = 8;
    for (uint32_t cand = 0; cand < 8; ++cand) {
      if (d.len == hl || b[hl] == pattern(6, cand, src, 0, 0)) {
        id = cand;
        break;
      }
    }
    if (id == 8) __builtin_trap();
  } else {
    __builtin_trap();
  }
  // Each fragment brought its own header (at least 20 or 48 bytes) plus its
  // part of the payload: their IP bytes cover the datagram's payload.
  if (d.fragment_ip_bytes < d.len - hl) __builtin_trap();
  for (uint32_t i = hl; i < d.len; ++i) {
    if (b[i] != pattern(version, id, src, proto, i - hl)) __builtin_trap();
  }
}

// An independent model of what the defragmenter must hold per datagram, kept
// from the results it returns: which bytes were accepted, whether the datagram
// was dropped (and is remembered), and when it was opened. It checks that an
// accepted fragment never overlaps, that a datagram completes exactly when its
// bytes 0..end are all there, and that drops name the right reason.
struct ModelDatagram {
  bool live = false;
  bool dead = false;
  bool has_last = false;
  Timestamp created = 0;
  uint32_t end = 0;
  uint32_t covered = 0;
  uint32_t max_end = 0;
  uint32_t count = 0;
  uint8_t bits[65536 / 8];
};

ModelDatagram g_model[64];

bool stale(Timestamp created, Timestamp now) { return now > created && now - created > kTimeout; }

HARNESS void resetModel(ModelDatagram& m) {
  if (m.covered != 0) std::memset(m.bits, 0, sizeof m.bits);
  m.live = m.dead = m.has_last = false;
  m.end = m.covered = m.max_end = m.count = 0;
}

HARNESS bool overlaps(const ModelDatagram& m, uint32_t begin, uint32_t end) {
  for (uint32_t i = begin; i < end; ++i) {
    if (m.bits[i / 8] & (1u << (i % 8))) return true;
  }
  return false;
}

HARNESS void cover(ModelDatagram& m, uint32_t begin, uint32_t end) {
  for (uint32_t i = begin; i < end; ++i) m.bits[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  m.covered += end - begin;
}

uint32_t modelIndex(const uint8_t* r) {
  const uint32_t id_src = (r[1] & 7) * 2 + ((r[0] >> 4) & 1);
  return (r[0] & 1) ? 32 + id_src : id_src * 2 + ((r[1] >> 3) & 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const DefragConfig config = fuzzConfig();
  IpDefragmenter defrag(config);
  const DefragStats& s = defrag.stats();
  for (ModelDatagram& m : g_model) resetModel(m);
  Timestamp ts = 1'000'000;
  uint64_t adds = 0, dropped = 0, complete = 0;
  for (size_t at = 0; at + kRecord <= size; at += kRecord) {
    const uint8_t* r = data + at;
    ts += static_cast<Duration>(r[7]) << (4 * (r[0] >> 6));
    if (r[0] & 4) {
      defrag.expire(ts);
      // Packet time only grows here, so creation order is time order and
      // exactly the datagrams opened within the timeout remain.
      uint32_t remembered = 0;
      for (const ModelDatagram& m : g_model) remembered += (m.live || m.dead) && !stale(m.created, ts);
      if (defrag.datagramsInProgress() != remembered) __builtin_trap();
    }

    DecodedPacket p;
    buildFragment(r, ts, p);
    const bool perturbed = r[0] & 0x20;
    if (perturbed) perturb(r[6], p);
    const uint64_t overlap0 = s.dropped_overlap.value(), dead0 = s.dropped_dead_datagram.value(),
                   limit0 = s.dropped_fragment_limit.value(), large0 = s.dropped_too_large.value(),
                   memory0 = s.dropped_memory_limit.value(), tracker0 = s.dropped_tracker_limit.value(),
                   refused0 = s.dropped_malformed.value() + s.dropped_truncated.value();

    ModelDatagram& m = g_model[modelIndex(r)];
    if ((m.live || m.dead) && stale(m.created, ts)) resetModel(m);

    ReassembledDatagram out;
    const DefragResult result = defrag.add(p, out);
    ++adds;
    if (result == DefragResult::kDropped) ++dropped;
    if (result == DefragResult::kComplete) {
      ++complete;
      checkDatagram(out);
    }
    if (perturbed && (result != DefragResult::kDropped ||
                      s.dropped_malformed.value() + s.dropped_truncated.value() != refused0 + 1)) {
      __builtin_trap();
    }
    const uint32_t begin = p.frag_offset, end = p.frag_offset + p.frag_payload_len;
    const bool atomic = begin == 0 && !p.more_fragments;
    // A fragment at offset 0 without more to come is a whole datagram.
    if (!perturbed && atomic && end > 0 && result != DefragResult::kComplete) __builtin_trap();

    // RFC 791/8200: all but the last fragment carry a non-zero multiple of 8 bytes.
    const bool bad_length = p.more_fragments && (p.frag_payload_len == 0 || p.frag_payload_len % 8 != 0);
    if (!perturbed && bad_length &&
        (result != DefragResult::kDropped ||
         s.dropped_malformed.value() + s.dropped_truncated.value() != refused0 + 1)) {
      __builtin_trap();
    }

    if (!perturbed && !atomic && !bad_length) {
      if (m.dead && !(result == DefragResult::kDropped && s.dropped_dead_datagram.value() == dead0 + 1)) {
        __builtin_trap();
      }
      if (result != DefragResult::kDropped) {
        if (overlaps(m, begin, end)) __builtin_trap();
        if (!m.live) {
          m.live = true;
          m.created = ts;
        }
        cover(m, begin, end);
        m.max_end = std::max(m.max_end, end);
        ++m.count;
        if (!p.more_fragments) {
          if (m.has_last && m.end != end) __builtin_trap();
          m.has_last = true;
          m.end = end;
        }
        const bool whole = m.has_last && m.covered == m.end;
        if (whole != (result == DefragResult::kComplete)) __builtin_trap();
        if (whole) {
          if (out.fragment_count != m.count || out.len < m.end || out.len - m.end > 48) __builtin_trap();
          resetModel(m);
        }
      } else if (s.dropped_overlap.value() != overlap0) {
        if (!m.live || !overlaps(m, begin, end)) __builtin_trap();
        resetModel(m);
        m.dead = true;
      } else if (s.dropped_fragment_limit.value() != limit0) {
        if (!m.live || m.count < config.max_fragments_per_datagram) __builtin_trap();
        resetModel(m);
        m.dead = true;
      } else if (s.dropped_too_large.value() != large0) {
        // No header built here is longer than 48 bytes.
        if (std::max(m.max_end, end) <= 65535 - 48) __builtin_trap();
        if (!m.live) m.created = ts;  // remembered from now on
        resetModel(m);
        m.dead = true;
      } else if (s.dropped_memory_limit.value() != memory0) {
        if (m.live) {
          resetModel(m);
          m.dead = true;
        }
      } else if (s.dropped_tracker_limit.value() != tracker0) {
        if (m.live) __builtin_trap();
      } else if (s.dropped_dead_datagram.value() != dead0) {
        if (!m.dead) __builtin_trap();
      }
    }

    if (defrag.bytesHeld() > config.max_bytes) __builtin_trap();
    if (defrag.datagramsInProgress() > config.max_datagrams) __builtin_trap();
    if (s.fragments.value() != adds || s.datagrams_reassembled.value() != complete) __builtin_trap();
    // Every refused fragment is counted under exactly one reason.
    const uint64_t reasons = s.dropped_overlap.value() + s.dropped_tracker_limit.value() +
                             s.dropped_memory_limit.value() + s.dropped_fragment_limit.value() +
                             s.dropped_too_large.value() + s.dropped_malformed.value() +
                             s.dropped_truncated.value() + s.dropped_dead_datagram.value();
    if (reasons != dropped) __builtin_trap();
    if (defrag.datagramsInProgress() == 0 && defrag.bytesHeld() != 0) __builtin_trap();
  }
  defrag.expire(ts + kTimeout + 1);
  if (defrag.datagramsInProgress() != 0 || defrag.bytesHeld() != 0) __builtin_trap();
  return 0;
}
