#include "capture/pcap_source.h"

#include <pcap/pcap.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

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

struct PcapFileSource::Handle {
  pcap_t* pcap = nullptr;
  ~Handle() {
    if (pcap != nullptr) pcap_close(pcap);
  }
};

PcapFileSource::PcapFileSource(const std::string& path, uint32_t snaplen)
    : handle_(std::make_unique<Handle>()), path_(path), snaplen_(snaplen) {
  char error[PCAP_ERRBUF_SIZE] = {};
  // Nanosecond timestamps when the file has them (pcapng, nanosecond pcap).
  // Our own FILE with a large buffer: libpcap reads each record with fread,
  // and stdio's default 4 KiB buffer made that a read() every few packets.
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error("cannot read pcap " + path + ": " + std::strerror(errno));
  std::setvbuf(file, nullptr, _IOFBF, 1 << 20);
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
}

PcapFileSource::~PcapFileSource() = default;

void PcapFileSource::run(Handoff& handoff, const std::atomic<bool>& stop) {
  constexpr uint32_t kFlushEvery = 256;  // packets per capture "burst"
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  DecodedPacket pkt;
  uint32_t since_flush = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    int rc = pcap_next_ex(handle_->pcap, &header, &data);
    if (rc == -2) break;  // end of file
    if (rc != 1) {
      // A file cut mid-record (a capture still being written, a copy cut
      // short): what came before is kept; say why the rest is missing.
      logWarn("pcap read stopped early", {{"path", path_}, {"error", pcap_geterr(handle_->pcap)},
                                          {"packets_read", std::to_string(stats_.packets.value())}});
      break;
    }
    Timestamp ts = Timestamp(header->ts.tv_sec) * kNanosPerSecond + Timestamp(header->ts.tv_usec);
    last_ts_ = std::max(last_ts_, ts);
    uint32_t cap_len = std::min<uint32_t>(header->caplen, snaplen_);
    stats_.packets.add();
    stats_.bytes.add(cap_len);
    if (decodePacket(data, cap_len, header->len, ts, link_, pkt, decode_stats_) == DecodeResult::kOk) {
      handoff.push(pkt);  // a refusal is counted by the hand-off, per worker
    }
    if (++since_flush == kFlushEvery) {
      handoff.flush();
      since_flush = 0;
    }
  }
  handoff.flushAll();
}

}  // namespace tapflow
