// Offline capture from a file: classic pcap is mapped and walked in place,
// everything else goes through libpcap (see pcap_source.h).
#include "capture/pcap_source.h"

#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "ops/log.h"
#include "packet/decoder.h"

namespace tapflow {

// libpcap reports DLT_* values; map the ones the decoder knows.
bool linkTypeFromDlt(int dlt, LinkType& link) {
  switch (dlt) {
    case DLT_EN10MB: link = LinkType::kEthernet; return true;
    case DLT_RAW: link = LinkType::kRaw; return true;
#ifdef DLT_IPV4
    case DLT_IPV4: link = LinkType::kIpv4; return true;
#endif
#ifdef DLT_IPV6
    case DLT_IPV6: link = LinkType::kIpv6; return true;
#endif
    case DLT_LINUX_SLL: link = LinkType::kLinuxSll; return true;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2: link = LinkType::kLinuxSll2; return true;
#endif
    default: return false;
  }
}

namespace {

uint32_t loadU32(const uint8_t* p, bool swapped) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return swapped ? __builtin_bswap32(v) : v;
}

// The four classic pcap magics (micro- and nanosecond, either byte order);
// other formats (pcapng, Kuznetzov's patched records) stay with libpcap.
bool isClassicPcapMagic(uint32_t magic) {
  switch (magic) {
    case 0xa1b2c3d4: case 0xd4c3b2a1: case 0xa1b23c4d: case 0x4d3cb2a1: return true;
    default: return false;
  }
}

}  // namespace

PcapRecordWalker::Step PcapRecordWalker::next(PcapRecord& record) {
  const size_t left = size_ - offset_;
  if (left < kRecordHeaderBytes) {
    if (left == 0) return last_ = Step::kEnd;
    header_short_ = true;
    wanted_ = kRecordHeaderBytes;
    available_ = left;
    return last_ = Step::kTruncated;
  }
  const uint8_t* header = bytes_ + offset_;
  const bool swapped = layout_.swapped;
  // libpcap keeps the time fields as signed 32-bit values and widens them.
  const int32_t sec = int32_t(loadU32(header, swapped));
  const int32_t frac = int32_t(loadU32(header + 4, swapped));
  uint32_t caplen = loadU32(header + 8, swapped);
  uint32_t len = loadU32(header + 12, swapped);
  // Before pcap 2.3 (and in some files labelled 2.3) the two lengths were the
  // other way round.
  if (layout_.lengths == PcapRecordLayout::LengthOrder::kLenFirst ||
      (layout_.lengths == PcapRecordLayout::LengthOrder::kLenFirstWhenCaplenLarger && caplen > len)) {
    std::swap(caplen, len);
  }
  if (caplen > layout_.max_caplen) {
    bad_caplen_ = caplen;
    return last_ = Step::kInvalid;
  }
  const size_t body_left = left - kRecordHeaderBytes;
  if (caplen > body_left) {
    // libpcap reads a record longer than the snapshot in two parts (the
    // snapshot, then the rest), and names the part it was reading.
    wanted_ = (caplen > layout_.snapshot && body_left < layout_.snapshot) ? layout_.snapshot : caplen;
    available_ = body_left;
    header_short_ = false;
    return last_ = Step::kTruncated;
  }
  record.data = header + kRecordHeaderBytes;
  // A record longer than the file's snapshot length (an old Solaris bug or a
  // damaged file): libpcap hands over only the snapshot.
  record.caplen = std::min(caplen, layout_.snapshot);
  record.len = len;
  record.ts = Timestamp(sec) * kNanosPerSecond + Timestamp(frac) * (layout_.nanoseconds ? 1 : 1000);
  offset_ += kRecordHeaderBytes + caplen;
  // The file is read once, so its bytes are not in the CPU caches; the
  // hardware prefetcher stops at each 4 KiB page. Ask for the lines a few
  // packets ahead so the decoder and the hand-off copy find them there.
  const size_t ahead = std::min(offset_ + kPrefetchBytes, size_);
  for (prefetched_ = std::max(prefetched_, offset_); prefetched_ < ahead; prefetched_ += 64) {
    __builtin_prefetch(bytes_ + prefetched_);
  }
  return last_ = Step::kRecord;
}

std::string PcapRecordWalker::error() const {
  if (last_ == Step::kInvalid) {
    // caplen > max_caplen >= snapshot: libpcap's first message applies.
    return "invalid packet capture length " + std::to_string(bad_caplen_) + ", bigger than snaplen of " +
           std::to_string(layout_.snapshot);
  }
  if (last_ == Step::kTruncated) {
    return "truncated dump file; tried to read " + std::to_string(wanted_) +
           (header_short_ ? " header bytes, only got " : " captured bytes, only got ") + std::to_string(available_);
  }
  return {};
}

struct PcapFileSource::Handle {
  pcap_t* pcap = nullptr;
  // The mapped classic pcap file (nullptr: libpcap reads the file).
  const uint8_t* map = nullptr;
  size_t map_size = 0;
  // Packets are handed to the workers in place, pointing into `map`. Only
  // until the file first grows (see remapIfGrown).
  bool in_place = false;
  // The mapping replaced when the file first grew: workers may still hold
  // packets in it, so it goes with the source.
  std::vector<std::pair<const uint8_t*, size_t>> retired;
  std::unique_ptr<PcapRecordWalker> walker;
  ~Handle() {
    if (map != nullptr) munmap(const_cast<uint8_t*>(map), map_size);
    for (const auto& [old_map, old_size] : retired) munmap(const_cast<uint8_t*>(old_map), old_size);
    if (pcap != nullptr) pcap_close(pcap);
  }
};

PcapFileSource::PcapFileSource(const std::string& path, uint32_t snaplen, ReadMode mode)
    : handle_(std::make_unique<Handle>()), path_(path), snaplen_(snaplen) {
  char error[PCAP_ERRBUF_SIZE] = {};
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error("cannot read pcap " + path + ": " + std::strerror(errno));
  // A classic pcap in a regular file is mapped; libpcap still reads (and
  // checks) its header, so both paths accept and refuse the same files.
  // Pipes and FIFOs cannot be mapped, and peeking at them would eat bytes.
  struct stat st {};
  uint32_t magic = 0;
  bool map_it = mode == ReadMode::kMapClassicPcap && fstat(fileno(file), &st) == 0 && S_ISREG(st.st_mode) &&
                size_t(st.st_size) >= PcapRecordWalker::kFileHeaderBytes &&
                pread(fileno(file), &magic, sizeof magic, 0) == ssize_t(sizeof magic) && isClassicPcapMagic(magic);
  // libpcap reads each record with fread, and stdio's default 4 KiB buffer
  // made that a read() every few packets; a mapped file only needs its header.
  if (!map_it) std::setvbuf(file, nullptr, _IOFBF, 1 << 20);
  // Nanosecond timestamps when the file has them (pcapng, nanosecond pcap).
  handle_->pcap = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, error);
  if (handle_->pcap == nullptr) {
    std::fclose(file);
    throw std::runtime_error("cannot read pcap " + path + ": " + error);
  }
  int dlt = pcap_datalink(handle_->pcap);
  if (!linkTypeFromDlt(dlt, link_)) {
    const char* name = pcap_datalink_val_to_name(dlt);
    throw std::runtime_error("cannot read pcap " + path + ": unsupported link type " + std::to_string(dlt) +
                             (name ? std::string(" (") + name + ")" : std::string()));
  }
  if (!map_it) return;
  void* map = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fileno(file), 0);
  if (map == MAP_FAILED) {
    // Still readable, just with a copy more: say so and let libpcap go on
    // (it has only read the header).
    logWarn("pcap file not mapped, reading it with libpcap",
            {{"path", path_}, {"error", std::strerror(errno)}});
    return;
  }
  // Read once, front to back: ask for aggressive read-ahead.
  madvise(map, size_t(st.st_size), MADV_SEQUENTIAL);
  handle_->map = static_cast<const uint8_t*>(map);
  handle_->map_size = size_t(st.st_size);
  PcapRecordLayout layout;
  layout.swapped = pcap_is_swapped(handle_->pcap) == 1;
  layout.nanoseconds = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
  const int major = pcap_major_version(handle_->pcap);
  const int minor = pcap_minor_version(handle_->pcap);
  using LengthOrder = PcapRecordLayout::LengthOrder;
  if ((major == 2 && minor < 3) || major == 543) layout.lengths = LengthOrder::kLenFirst;
  else if (major == 2 && minor == 3) layout.lengths = LengthOrder::kLenFirstWhenCaplenLarger;
  layout.snapshot = uint32_t(pcap_snapshot(handle_->pcap));
  handle_->walker = std::make_unique<PcapRecordWalker>(layout);
  handle_->in_place = true;
  handle_->walker->setBytes(handle_->map, handle_->map_size);
}

PcapFileSource::~PcapFileSource() = default;

bool PcapFileSource::isMapped() const { return handle_->walker != nullptr; }

// A file still being written may have grown since it was mapped; libpcap
// would read on to wherever the file ends now, so map the new end too. The
// first time, packets handed over in place still point into the mapping: it
// is kept, the file mapped anew, and packets are copied from then on, so
// that later growth can move the mapping (mremap) however often it happens.
bool PcapFileSource::remapIfGrown() {
  struct stat st {};
  const int fd = fileno(pcap_file(handle_->pcap));
  if (fstat(fd, &st) != 0 || size_t(st.st_size) <= handle_->map_size) return false;
  void* map;
  if (handle_->in_place) {
    map = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) return false;
    handle_->retired.emplace_back(handle_->map, handle_->map_size);
    handle_->in_place = false;
  } else {
    map = mremap(const_cast<uint8_t*>(handle_->map), handle_->map_size, size_t(st.st_size), MREMAP_MAYMOVE);
    if (map == MAP_FAILED) return false;
  }
  handle_->map = static_cast<const uint8_t*>(map);
  handle_->map_size = size_t(st.st_size);
  madvise(map, handle_->map_size, MADV_SEQUENTIAL);
  handle_->walker->setBytes(handle_->map, handle_->map_size);
  return true;
}

PcapReadResult PcapFileSource::readRecord(PcapRecord& record) {
  if (PcapRecordWalker* walker = handle_->walker.get()) {
    for (;;) {
      switch (walker->next(record)) {
        case PcapRecordWalker::Step::kRecord: return PcapReadResult::kRecord;
        case PcapRecordWalker::Step::kEnd:
          if (remapIfGrown()) continue;
          return PcapReadResult::kEnd;
        case PcapRecordWalker::Step::kTruncated:
          if (remapIfGrown()) continue;
          read_error_ = walker->error();
          return PcapReadResult::kError;
        case PcapRecordWalker::Step::kInvalid:
          read_error_ = walker->error();
          return PcapReadResult::kError;
      }
    }
  }
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = pcap_next_ex(handle_->pcap, &header, &data);
  if (rc == 1) {
    record.data = data;
    record.caplen = header->caplen;
    record.len = header->len;
    // Nanosecond precision was asked for: tv_usec holds nanoseconds.
    record.ts = Timestamp(header->ts.tv_sec) * kNanosPerSecond + Timestamp(header->ts.tv_usec);
    return PcapReadResult::kRecord;
  }
  if (rc == -2) return PcapReadResult::kEnd;
  read_error_ = pcap_geterr(handle_->pcap);
  return PcapReadResult::kError;
}

void PcapFileSource::run(Handoff& handoff, const std::atomic<bool>& stop) {
  constexpr uint32_t kFlushEvery = 256;  // packets per capture "burst"
  PcapRecord record;
  DecodedPacket pkt;
  uint32_t since_flush = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    PcapReadResult result = readRecord(record);
    if (result == PcapReadResult::kEnd) break;
    if (result == PcapReadResult::kError) {
      // A file cut mid-record (a capture still being written, a copy cut
      // short): what came before is kept; say why the rest is missing.
      logWarn("pcap read stopped early", {{"path", path_}, {"error", read_error_},
                                          {"packets_read", std::to_string(stats_.packets.value())}});
      break;
    }
    last_ts_ = std::max(last_ts_, record.ts);
    uint32_t cap_len = std::min<uint32_t>(record.caplen, snaplen_);
    stats_.packets.add();
    stats_.bytes.add(cap_len);
    if (decodePacket(record.data, cap_len, record.len, record.ts, link_, pkt, decode_stats_) == DecodeResult::kOk) {
      // A refusal is counted by the hand-off, per worker. Mapped records
      // stay where they are until the source goes, after the workers.
      if (handle_->in_place) {
        handoff.pushInPlace(pkt);
      } else {
        handoff.push(pkt);
      }
    }
    if (++since_flush == kFlushEvery) {
      handoff.flush();
      since_flush = 0;
    }
  }
  handoff.flushAll();
}

}  // namespace tapflow
