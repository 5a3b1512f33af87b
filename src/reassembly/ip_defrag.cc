// IPv4 and IPv6 defragmentation: fixed tracker pool, chained hash index,
// creation-ordered expiry list and a slab of fixed-size chunks for the bytes.
//
// Storage layout. A datagram's fragmentable part (at most 65535 bytes) is cut
// into kChunkSize pages; each tracker owns a page table whose entries are
// allocated from the slab when a fragment first touches the page, and each
// fragment is copied straight to its place. The unfragmentable part (IP header,
// and for IPv6 the extension headers before the fragment header) of the
// offset-0 fragment goes into one more chunk. bytesHeld() counts whole chunks,
// since that is what the budget gives out. Which bytes are present is kept per
// chunk as a bitmap of 8-byte blocks: every fragment starts on a block and all
// but the last fill whole blocks, so two fragments share a byte exactly when
// they share a block. Overlaps are refused, hence the datagram is complete once
// its last fragment came and the bytes accepted add up to its end.
//
// Drop policy. A datagram dropped as a whole (overlap, fragment limit, too
// large, byte budget) keeps its tracker, without bytes, until its timeout so
// that its later fragments are dropped too instead of starting a datagram that
// can never complete (RFC 5722 asks this for overlaps). A full tracker pool
// evicts nobody: the new fragment is dropped, after expiring what is stale.
#include "reassembly/ip_defrag.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace tapflow {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kChunkSize = 1024;
constexpr uint32_t kMaxFragmentableEnd = 65535;  // IPv6 payload length bounds it; IPv4 is tighter
constexpr uint32_t kPagesPerDatagram = (kMaxFragmentableEnd + kChunkSize - 1) / kChunkSize;
constexpr uint32_t kIpv4MinHeader = 20;
constexpr uint32_t kIpv6Header = 40;
constexpr uint32_t kIpv6FragmentHeader = 8;
constexpr uint32_t kMaxUnfragmentable = kChunkSize;  // IPv6 header + extension headers kept in one chunk
constexpr uint32_t kMaxDatagram = kIpv6Header + 65535;
constexpr uint8_t kNextHeaderFragment = 44;
constexpr uint8_t kNextHeaderAh = 51;
constexpr uint32_t kBlockSize = 8;  // fragment offsets count 8-byte blocks
constexpr uint32_t kBlocksPerChunk = kChunkSize / kBlockSize;

struct Key {
  IpAddress src;
  IpAddress dst;
  uint32_t id;
  uint8_t version;
  uint8_t proto;  // IPv4 only: RFC 791 includes the protocol in the datagram identity

  bool operator==(const Key& o) const {
    return id == o.id && version == o.version && proto == o.proto && src == o.src && dst == o.dst;
  }
};

// Blocks of a data chunk that hold fragment bytes.
struct BlockBits {
  uint64_t words[kBlocksPerChunk / 64];
};

// Calls fn(page, word, mask) for every bitmap word the blocks of [begin, end) touch.
template <typename Fn>
void forEachBlockWord(uint32_t begin, uint32_t end, Fn&& fn) {
  uint32_t block = begin / kBlockSize;
  const uint32_t block_end = (end + kBlockSize - 1) / kBlockSize;
  while (block < block_end) {
    const uint32_t lo = block % 64;
    const uint32_t n = std::min(64 - lo, block_end - block);
    const uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << lo;
    fn(block / kBlocksPerChunk, (block % kBlocksPerChunk) / 64, mask);
    block += n;
  }
}

enum class TrackerState : uint8_t { kFree, kActive, kDead };

struct Tracker {
  Key key{};
  uint32_t bucket = 0;
  uint32_t hash_next = kNone;  // also links the free list
  uint32_t age_prev = kNone;
  uint32_t age_next = kNone;
  Timestamp created_ts = 0;  // ts of the fragment that opened it; expiry runs on it
  Timestamp first_ts = 0;    // earliest ts of its fragments
  uint64_t ip_bytes = 0;
  uint32_t fragment_count = 0;
  uint32_t covered = 0;  // bytes accepted; they never overlap
  uint32_t max_end = 0;  // highest end of any stored fragment
  uint32_t end = 0;      // datagram end, once the last fragment came
  uint32_t header_chunk = kNone;
  uint16_t header_len = 0;
  TrackerState state = TrackerState::kFree;
  bool has_last = false;
};

// One fragment, validated against its own bytes.
struct Fragment {
  Key key{};
  const uint8_t* header = nullptr;  // unfragmentable part
  uint32_t header_len = 0;
  uint32_t next_header_pos = 0;  // IPv6: header byte that names the fragment header
  uint8_t fragment_next_header = 0;
  const uint8_t* payload = nullptr;
  uint32_t offset = 0;
  uint32_t len = 0;
  uint32_t end = 0;
  bool more = false;
};

enum class ParseStatus : uint8_t { kOk, kMalformed, kTruncated };

bool isIpv6ExtensionHeader(uint8_t nh) {
  switch (nh) {
    case 0:    // hop-by-hop options
    case 43:   // routing
    case 51:   // authentication header
    case 60:   // destination options
    case 135:  // mobility
    case 139:  // HIP
    case 140:  // shim6
    case 253:  // experimental
    case 254:
      return true;
    default:
      return false;
  }
}

ParseStatus parseFragment(const DecodedPacket& p, Fragment& f) {
  if (!p.is_fragment || p.data == nullptr) return ParseStatus::kMalformed;
  const uint64_t cap = p.cap_len;
  const uint32_t l3 = p.l3_offset;
  const uint32_t payload_off = p.frag_payload_offset;
  if (uint64_t{payload_off} + p.frag_payload_len > cap) return ParseStatus::kMalformed;
  const uint8_t* ip = p.data + l3;

  if (p.ip_version == 4) {
    if (uint64_t{l3} + kIpv4MinHeader > cap || (ip[0] >> 4) != 4) return ParseStatus::kMalformed;
    const uint32_t ihl = (ip[0] & 0x0fu) * 4u;
    if (ihl < kIpv4MinHeader || payload_off < l3 || payload_off - l3 != ihl) return ParseStatus::kMalformed;
    f.header_len = ihl;
    f.key.proto = ip[9];
  } else if (p.ip_version == 6) {
    if (uint64_t{l3} + kIpv6Header > cap || (ip[0] >> 4) != 6) return ParseStatus::kMalformed;
    const uint32_t fho = p.frag_header_offset;
    if (fho < l3 + kIpv6Header || uint64_t{fho} + kIpv6FragmentHeader > cap ||
        payload_off != fho + kIpv6FragmentHeader || fho - l3 > kMaxUnfragmentable) {
      return ParseStatus::kMalformed;
    }
    // Walk the unfragmentable headers to find the byte that names the fragment
    // header: it is patched when the fragment header is taken out. Each step
    // advances at least 8 bytes and stays below fho, which is inside the capture.
    uint32_t nh_pos = l3 + 6;
    uint8_t nh = ip[6];
    uint32_t pos = l3 + kIpv6Header;
    while (pos < fho) {
      if (!isIpv6ExtensionHeader(nh) || pos + 2 > fho) return ParseStatus::kMalformed;
      const uint32_t ext_len = nh == kNextHeaderAh ? (p.data[pos + 1] + 2u) * 4u : (p.data[pos + 1] + 1u) * 8u;
      nh_pos = pos;
      nh = p.data[pos];
      pos += ext_len;
    }
    if (pos != fho || nh != kNextHeaderFragment) return ParseStatus::kMalformed;
    f.header_len = fho - l3;
    f.next_header_pos = nh_pos - l3;
    f.fragment_next_header = p.data[fho];
    f.key.proto = 0;
  } else {
    return ParseStatus::kMalformed;
  }

  // A fragment cut by the snap length would leave a hole or a wrong end.
  // The length must also fit the 16-bit header field it came from: that bounds
  // every datagram built here by the output buffer.
  const uint32_t headers = payload_off - l3;
  const uint32_t max_total = p.ip_version == 4 ? 65535 : kIpv6Header + 65535;
  if (p.ip_total_len < headers || p.ip_total_len > max_total) return ParseStatus::kMalformed;
  const uint32_t wire_len = p.ip_total_len - headers;
  if (p.frag_payload_len > wire_len) return ParseStatus::kMalformed;
  if (p.frag_payload_len < wire_len) return ParseStatus::kTruncated;

  f.key.version = p.ip_version;
  f.key.src = p.src;
  f.key.dst = p.dst;
  f.key.id = p.frag_id;
  f.header = ip;
  f.payload = p.data + payload_off;
  f.offset = p.frag_offset;
  f.len = p.frag_payload_len;
  f.more = p.more_fragments;
  if (f.len > kMaxFragmentableEnd) return ParseStatus::kMalformed;  // more than any IP packet holds
  // RFC 791 / RFC 8200: offsets count 8-byte blocks, and every fragment but
  // the last carries a multiple of 8 bytes (so the next offset is expressible).
  if (f.offset % 8 != 0 || f.offset > kMaxFragmentableEnd) return ParseStatus::kMalformed;
  if (f.more && (f.len == 0 || f.len % 8 != 0)) return ParseStatus::kMalformed;
  if (!f.more && f.len == 0 && f.offset == 0) return ParseStatus::kMalformed;
  f.end = f.offset + f.len;  // both at most 65535: no overflow
  return ParseStatus::kOk;
}

// Largest fragmentable end that keeps the datagram within 65535 bytes of IPv4
// total length or IPv6 payload length; header_len 0 means not known yet.
uint32_t limitEnd(uint8_t version, uint32_t header_len) {
  if (version == 4) return 65535 - (header_len != 0 ? header_len : kIpv4MinHeader);
  return 65535 - (header_len != 0 ? header_len - kIpv6Header : 0);
}

uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

void putBe16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

void fixIpv4Header(uint8_t* h, uint32_t header_len, uint32_t total_len) {
  putBe16(h + 2, total_len);
  h[6] &= 0xc0;  // keep the reserved and DF bits, clear MF and the offset
  h[7] = 0;
  h[10] = 0;
  h[11] = 0;
  uint32_t sum = 0;
  for (uint32_t i = 0; i + 1 < header_len; i += 2) sum += (uint32_t{h[i]} << 8) | h[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  putBe16(h + 10, ~sum & 0xffff);
}

}  // namespace

struct IpDefragmenter::Impl {
  explicit Impl(const DefragConfig& config);

  DefragResult add(const DecodedPacket& p, ReassembledDatagram& out, DefragStats& stats);
  void expire(Timestamp now, DefragStats& stats);

  bool isExpired(Timestamp created, Timestamp now) const {
    // created < now - timeout, without overflow on any pair of timestamps.
    return now > created && static_cast<uint64_t>(now) - static_cast<uint64_t>(created) > timeout_;
  }
  uint32_t bucketOf(const Key& k) const;
  uint32_t find(const Key& k, uint32_t bucket) const;
  uint32_t openTracker(const Key& k, uint32_t bucket, Timestamp ts);
  void closeTracker(uint32_t t);
  void releaseBytes(Tracker& tr, uint32_t t);
  void dropDatagram(uint32_t t);
  uint32_t takeChunk() { return free_chunks_[--free_chunk_count_]; }
  void giveChunk(uint32_t c) { free_chunks_[free_chunk_count_++] = c; }
  uint8_t* chunk(uint32_t c) { return arena_.get() + uint64_t{c} * kChunkSize; }
  uint32_t* pagesOf(uint32_t t) { return &pages_[uint64_t{t} * kPagesPerDatagram]; }
  bool overlapsHeld(uint32_t t, uint32_t begin, uint32_t end);
  void storeFragment(uint32_t t, const Fragment& f, const DecodedPacket& p);
  void buildDatagram(uint32_t t, ReassembledDatagram& out);
  DefragResult buildAtomic(const Fragment& f, const DecodedPacket& p, ReassembledDatagram& out);

  uint32_t max_fragments_;
  uint64_t timeout_;
  uint64_t seed_;

  std::vector<Tracker> trackers_;
  std::vector<uint32_t> buckets_;
  uint32_t bucket_mask_ = 0;
  uint32_t free_tracker_ = kNone;
  uint32_t age_head_ = kNone;  // oldest
  uint32_t age_tail_ = kNone;
  Gauge<uint32_t> in_use_ = 0;  // read by the metrics thread

  std::vector<uint32_t> pages_;

  uint32_t chunk_count_ = 0;
  Gauge<uint32_t> free_chunk_count_ = 0;  // read by the metrics thread
  std::vector<uint32_t> free_chunks_;
  std::vector<BlockBits> chunk_blocks_;  // per chunk; metadata outside the byte budget
  std::unique_ptr<uint8_t[]> arena_;
  std::unique_ptr<uint8_t[]> out_;
};

IpDefragmenter::Impl::Impl(const DefragConfig& config)
    : max_fragments_(config.max_fragments_per_datagram),
      timeout_(config.timeout > 0 ? static_cast<uint64_t>(config.timeout) : 0),
      seed_((static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()) {
  trackers_.resize(config.max_datagrams);
  for (uint32_t t = config.max_datagrams; t-- > 0;) {
    trackers_[t].hash_next = free_tracker_;
    free_tracker_ = t;
  }
  uint64_t buckets = 1;
  while (buckets < 2ull * config.max_datagrams && buckets < (1ull << 31)) buckets <<= 1;
  buckets_.assign(buckets, kNone);
  bucket_mask_ = static_cast<uint32_t>(buckets - 1);

  pages_.assign(uint64_t{config.max_datagrams} * kPagesPerDatagram, kNone);

  chunk_count_ = static_cast<uint32_t>(std::min<uint64_t>(config.max_bytes / kChunkSize, kNone - 1));
  free_chunks_.resize(chunk_count_);
  chunk_blocks_.resize(chunk_count_);
  for (uint32_t c = 0; c < chunk_count_; ++c) free_chunks_[c] = chunk_count_ - 1 - c;
  free_chunk_count_ = chunk_count_;
  // Left uninitialised so the OS commits pages only as they are used.
  arena_ = std::make_unique_for_overwrite<uint8_t[]>(uint64_t{chunk_count_} * kChunkSize);
  out_ = std::make_unique_for_overwrite<uint8_t[]>(kMaxDatagram);
}

uint32_t IpDefragmenter::Impl::bucketOf(const Key& k) const {
  uint64_t words[4];
  std::memcpy(words, k.src.bytes, 16);
  std::memcpy(words + 2, k.dst.bytes, 16);
  uint64_t h = seed_;
  for (uint64_t w : words) h = mix(h ^ w);
  h = mix(h ^ (uint64_t{k.id} | uint64_t{k.proto} << 32 | uint64_t{k.version} << 40));
  return static_cast<uint32_t>(h) & bucket_mask_;
}

uint32_t IpDefragmenter::Impl::find(const Key& k, uint32_t bucket) const {
  for (uint32_t t = buckets_[bucket]; t != kNone; t = trackers_[t].hash_next) {
    if (trackers_[t].key == k) return t;
  }
  return kNone;
}

uint32_t IpDefragmenter::Impl::openTracker(const Key& k, uint32_t bucket, Timestamp ts) {
  const uint32_t t = free_tracker_;
  Tracker& tr = trackers_[t];
  free_tracker_ = tr.hash_next;
  tr = Tracker{};
  tr.key = k;
  tr.bucket = bucket;
  tr.hash_next = buckets_[bucket];
  buckets_[bucket] = t;
  tr.age_prev = age_tail_;
  if (age_tail_ != kNone) {
    trackers_[age_tail_].age_next = t;
  } else {
    age_head_ = t;
  }
  age_tail_ = t;
  tr.created_ts = ts;
  tr.first_ts = ts;
  tr.state = TrackerState::kActive;
  ++in_use_;
  return t;
}

void IpDefragmenter::Impl::releaseBytes(Tracker& tr, uint32_t t) {
  if (tr.header_chunk != kNone) {
    giveChunk(tr.header_chunk);
    tr.header_chunk = kNone;
  }
  uint32_t* pages = pagesOf(t);
  for (uint32_t i = 0; i < kPagesPerDatagram; ++i) {
    if (pages[i] != kNone) {
      giveChunk(pages[i]);
      pages[i] = kNone;
    }
  }
  tr.covered = 0;
}

void IpDefragmenter::Impl::closeTracker(uint32_t t) {
  Tracker& tr = trackers_[t];
  releaseBytes(tr, t);
  uint32_t* link = &buckets_[tr.bucket];
  while (*link != t) link = &trackers_[*link].hash_next;
  *link = tr.hash_next;
  if (tr.age_prev != kNone) {
    trackers_[tr.age_prev].age_next = tr.age_next;
  } else {
    age_head_ = tr.age_next;
  }
  if (tr.age_next != kNone) {
    trackers_[tr.age_next].age_prev = tr.age_prev;
  } else {
    age_tail_ = tr.age_prev;
  }
  tr.state = TrackerState::kFree;
  tr.hash_next = free_tracker_;
  free_tracker_ = t;
  --in_use_;
}

void IpDefragmenter::Impl::dropDatagram(uint32_t t) {
  Tracker& tr = trackers_[t];
  releaseBytes(tr, t);
  tr.state = TrackerState::kDead;
}

void IpDefragmenter::Impl::expire(Timestamp now, DefragStats& stats) {
  // Creation order is packet order; timestamps that step back a little only
  // delay the expiry of the trackers queued behind an older-looking one.
  while (age_head_ != kNone && isExpired(trackers_[age_head_].created_ts, now)) {
    // A dead datagram was counted when it was dropped.
    if (trackers_[age_head_].state == TrackerState::kActive) stats.dropped_timeout.add();
    closeTracker(age_head_);
  }
}

bool IpDefragmenter::Impl::overlapsHeld(uint32_t t, uint32_t begin, uint32_t end) {
  const uint32_t* pages = pagesOf(t);
  bool overlap = false;
  // The fragment may reach past 65535 (it is then too large): nothing is held there.
  forEachBlockWord(begin, std::min(end, kMaxFragmentableEnd), [&](uint32_t page, uint32_t word, uint64_t mask) {
    if (pages[page] != kNone && (chunk_blocks_[pages[page]].words[word] & mask) != 0) overlap = true;
  });
  return overlap;
}

void IpDefragmenter::Impl::storeFragment(uint32_t t, const Fragment& f, const DecodedPacket& p) {
  Tracker& tr = trackers_[t];
  if (f.offset == 0 && tr.header_chunk == kNone) {
    tr.header_chunk = takeChunk();
    uint8_t* h = chunk(tr.header_chunk);
    std::memcpy(h, f.header, f.header_len);
    // The rebuilt IPv6 datagram has no fragment header: its predecessor names
    // what followed it (the first fragment's value, per RFC 8200).
    if (f.key.version == 6) h[f.next_header_pos] = f.fragment_next_header;
    tr.header_len = static_cast<uint16_t>(f.header_len);
  }
  uint32_t* pages = pagesOf(t);
  uint32_t pos = f.offset;
  const uint8_t* src = f.payload;
  while (pos < f.end) {
    const uint32_t page = pos / kChunkSize;
    const uint32_t in_page = pos % kChunkSize;
    const uint32_t n = std::min(kChunkSize - in_page, f.end - pos);
    if (pages[page] == kNone) {
      pages[page] = takeChunk();
      chunk_blocks_[pages[page]] = BlockBits{};
    }
    std::memcpy(chunk(pages[page]) + in_page, src, n);
    src += n;
    pos += n;
  }
  forEachBlockWord(f.offset, f.end, [&](uint32_t page, uint32_t word, uint64_t mask) {
    chunk_blocks_[pages[page]].words[word] |= mask;
  });
  tr.covered += f.len;
  ++tr.fragment_count;
  tr.ip_bytes += p.ip_total_len;
  tr.first_ts = std::min(tr.first_ts, p.ts);
  tr.max_end = std::max(tr.max_end, f.end);
  if (!f.more) {
    tr.has_last = true;
    tr.end = f.end;
  }
}

void IpDefragmenter::Impl::buildDatagram(uint32_t t, ReassembledDatagram& out) {
  Tracker& tr = trackers_[t];
  uint8_t* o = out_.get();
  const uint32_t header_len = tr.header_len;
  std::memcpy(o, chunk(tr.header_chunk), header_len);
  const uint32_t* pages = pagesOf(t);
  for (uint32_t pos = 0; pos < tr.end; pos += kChunkSize) {
    std::memcpy(o + header_len + pos, chunk(pages[pos / kChunkSize]), std::min(kChunkSize, tr.end - pos));
  }
  const uint32_t total = header_len + tr.end;
  if (tr.key.version == 4) {
    fixIpv4Header(o, header_len, total);
  } else {
    putBe16(o + 4, total - kIpv6Header);
  }
  out.bytes = o;
  out.len = total;
  out.fragment_count = tr.fragment_count;
  out.fragment_ip_bytes = tr.ip_bytes;
  out.first_ts = tr.first_ts;
}

// Offset 0 without more fragments: the datagram is whole (an IPv6 atomic
// fragment, RFC 6946). It is rebuilt alone and never meets other fragments.
DefragResult IpDefragmenter::Impl::buildAtomic(const Fragment& f, const DecodedPacket& p,
                                                ReassembledDatagram& out) {
  uint8_t* o = out_.get();
  std::memcpy(o, f.header, f.header_len);
  std::memcpy(o + f.header_len, f.payload, f.len);
  const uint32_t total = f.header_len + f.len;
  if (f.key.version == 4) {
    fixIpv4Header(o, f.header_len, total);
  } else {
    o[f.next_header_pos] = f.fragment_next_header;
    putBe16(o + 4, total - kIpv6Header);
  }
  out.bytes = o;
  out.len = total;
  out.fragment_count = 1;
  out.fragment_ip_bytes = p.ip_total_len;
  out.first_ts = p.ts;
  return DefragResult::kComplete;
}

DefragResult IpDefragmenter::Impl::add(const DecodedPacket& p, ReassembledDatagram& out, DefragStats& stats) {
  stats.fragments.add();
  Fragment f;
  switch (parseFragment(p, f)) {
    case ParseStatus::kOk:
      break;
    case ParseStatus::kMalformed:
      stats.dropped_malformed.add();
      return DefragResult::kDropped;
    case ParseStatus::kTruncated:
      stats.dropped_truncated.add();
      return DefragResult::kDropped;
  }
  if (f.offset == 0 && !f.more) {
    stats.datagrams_reassembled.add();
    return buildAtomic(f, p, out);
  }

  const uint32_t bucket = bucketOf(f.key);
  uint32_t t = find(f.key, bucket);
  if (t != kNone && isExpired(trackers_[t].created_ts, p.ts)) {
    // Stale but not yet swept: its time is over whatever expire() cadence is.
    if (trackers_[t].state == TrackerState::kActive) stats.dropped_timeout.add();
    closeTracker(t);
    t = kNone;
  }
  if (t != kNone && trackers_[t].state == TrackerState::kDead) {
    stats.dropped_dead_datagram.add();
    return DefragResult::kDropped;
  }
  const bool opened = t == kNone;
  if (opened) {
    if (free_tracker_ == kNone) expire(p.ts, stats);
    if (free_tracker_ == kNone) {
      stats.dropped_tracker_limit.add();
      return DefragResult::kDropped;
    }
    t = openTracker(f.key, bucket, p.ts);
  }
  Tracker& tr = trackers_[t];

  // Inconsistent with the datagram's end: this fragment alone is dropped.
  bool malformed = false;
  if (!f.more) {
    // A repeated last fragment with the same end and some bytes is a duplicate,
    // which the overlap check below handles; an empty one has nothing to compare.
    malformed = tr.has_last ? (f.end != tr.end || f.len == 0) : f.end < tr.max_end;
  } else {
    malformed = tr.has_last && f.end > tr.end;
  }
  if (malformed) {
    stats.dropped_malformed.add();
    if (opened) closeTracker(t);
    return DefragResult::kDropped;
  }

  // Any common byte drops the datagram (RFC 5722). Exact duplicates count as
  // overlaps for IPv4 too: a sender has no reason to send a fragment twice and
  // treating both families alike leaves no ambiguity to exploit.
  if (overlapsHeld(t, f.offset, f.end)) {
    stats.dropped_overlap.add();
    dropDatagram(t);
    return DefragResult::kDropped;
  }
  if (tr.fragment_count >= max_fragments_) {
    stats.dropped_fragment_limit.add();
    dropDatagram(t);
    return DefragResult::kDropped;
  }
  const uint32_t header_len = f.offset == 0 ? f.header_len : tr.header_len;
  if (std::max(tr.max_end, f.end) > limitEnd(f.key.version, header_len)) {
    stats.dropped_too_large.add();
    dropDatagram(t);
    return DefragResult::kDropped;
  }

  uint32_t chunks_needed = (f.offset == 0 && tr.header_chunk == kNone) ? 1 : 0;
  if (f.len > 0) {
    const uint32_t* pages = pagesOf(t);
    for (uint32_t page = f.offset / kChunkSize; page <= (f.end - 1) / kChunkSize; ++page) {
      if (pages[page] == kNone) ++chunks_needed;
    }
  }
  if (chunks_needed > free_chunk_count_) {
    expire(p.ts, stats);  // cannot close t: it is not older than p.ts - timeout
    if (chunks_needed > free_chunk_count_) {
      stats.dropped_memory_limit.add();
      // A datagram that lost a fragment cannot complete: give its bytes to the
      // others now. One that held nothing yet leaves no trace, so a full budget
      // does not also fill the tracker pool.
      if (opened) {
        closeTracker(t);
      } else {
        dropDatagram(t);
      }
      return DefragResult::kDropped;
    }
  }

  storeFragment(t, f, p);
  // Every accepted byte lies below the end (later ones are malformed), so
  // end bytes without overlap are bytes 0..end, the offset-0 fragment included.
  if (tr.has_last && tr.covered == tr.end && tr.header_chunk != kNone) {
    buildDatagram(t, out);
    closeTracker(t);
    stats.datagrams_reassembled.add();
    return DefragResult::kComplete;
  }
  return DefragResult::kHeld;
}

IpDefragmenter::IpDefragmenter(const DefragConfig& config) : impl_(std::make_unique<Impl>(config)) {}

IpDefragmenter::~IpDefragmenter() = default;

DefragResult IpDefragmenter::add(const DecodedPacket& fragment, ReassembledDatagram& out) {
  return impl_->add(fragment, out, stats_);
}

void IpDefragmenter::expire(Timestamp now) { impl_->expire(now, stats_); }

uint32_t IpDefragmenter::datagramsInProgress() const { return impl_->in_use_; }

uint64_t IpDefragmenter::bytesHeld() const {
  return uint64_t{impl_->chunk_count_ - impl_->free_chunk_count_} * kChunkSize;
}

}  // namespace tapflow
