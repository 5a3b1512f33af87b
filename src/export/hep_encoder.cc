// HEP v3 encoding: header, fixed chunks, optional chunks, payload. Sizes are
// computed first so the output grows once and the length fields are known.
#include "export/hep_encoder.h"

#include <cstring>

namespace tapflow {
namespace {

constexpr size_t kHeaderBytes = 6;       // "HEP3" + total length
constexpr size_t kChunkHeaderBytes = 6;  // vendor + type + length

constexpr uint8_t kAfInet = 2, kAfInet6 = 10;

// Writes big-endian values at a cursor; the caller has sized the buffer.
class ChunkWriter {
 public:
  explicit ChunkWriter(char* at) : at_(at) {}

  void u8(uint8_t v) { *at_++ = char(v); }
  void u16(uint16_t v) {
    u8(uint8_t(v >> 8));
    u8(uint8_t(v));
  }
  void u32(uint32_t v) {
    u16(uint16_t(v >> 16));
    u16(uint16_t(v));
  }
  void bytes(const void* p, size_t n) {
    if (n == 0) return;
    std::memcpy(at_, p, n);
    at_ += n;
  }
  void header(uint16_t type, size_t value_bytes, uint16_t vendor = 0x0000) {
    u16(vendor);  // 0x0000: the generic chunks
    u16(type);
    u16(uint16_t(kChunkHeaderBytes + value_bytes));
  }
  void chunkU8(uint16_t type, uint8_t v) {
    header(type, 1);
    u8(v);
  }
  void chunkU16(uint16_t type, uint16_t v) {
    header(type, 2);
    u16(v);
  }
  void chunkU32(uint16_t type, uint32_t v) {
    header(type, 4);
    u32(v);
  }
  void chunkBytes(uint16_t type, const void* p, size_t n, uint16_t vendor = 0x0000) {
    header(type, n, vendor);
    bytes(p, n);
  }
  char* at() const { return at_; }

 private:
  char* at_;
};

size_t chunk(size_t value_bytes) { return kChunkHeaderBytes + value_bytes; }

}  // namespace

size_t hep3EncodedSize(const HepMessage& m, const HepIdentity& identity) {
  const size_t addr = m.ip_version == 6 ? 16 : 4;
  size_t n = kHeaderBytes + chunk(1) + chunk(1) + 2 * chunk(addr) + 2 * chunk(2) + 2 * chunk(4) + chunk(1) +
             chunk(4) + chunk(m.payload.size());
  if (!identity.auth_key.empty()) n += chunk(identity.auth_key.size());
  if (!m.correlation_id.empty()) n += chunk(m.correlation_id.size());
  if (m.vlan != 0) n += chunk(2);
  if (!identity.node_name.empty()) n += chunk(identity.node_name.size());
  if (!m.src_pod.empty()) n += chunk(m.src_pod.size());
  if (!m.dst_pod.empty()) n += chunk(m.dst_pod.size());
  return n;
}

void encodeHep3(const HepMessage& m, const HepIdentity& identity, std::string& out) {
  const size_t total = hep3EncodedSize(m, identity);
  if (total > kHep3MaxBytes) return;
  const size_t start = out.size();
  out.resize(start + total);
  ChunkWriter w(out.data() + start);

  w.bytes("HEP3", 4);
  w.u16(uint16_t(total));

  const bool v6 = m.ip_version == 6;
  w.chunkU8(hep_chunk::kIpFamily, v6 ? kAfInet6 : kAfInet);
  w.chunkU8(hep_chunk::kIpProto, m.ip_proto);
  w.chunkBytes(v6 ? hep_chunk::kIpv6Src : hep_chunk::kIpv4Src, m.src_ip.bytes, v6 ? 16 : 4);
  w.chunkBytes(v6 ? hep_chunk::kIpv6Dst : hep_chunk::kIpv4Dst, m.dst_ip.bytes, v6 ? 16 : 4);
  w.chunkU16(hep_chunk::kSrcPort, m.src_port);
  w.chunkU16(hep_chunk::kDstPort, m.dst_port);
  // Packet times before 1970 do not occur; clamp rather than wrap.
  const Timestamp ts = m.ts > 0 ? m.ts : 0;
  w.chunkU32(hep_chunk::kTimeSeconds, uint32_t(ts / kNanosPerSecond));
  w.chunkU32(hep_chunk::kTimeMicros, uint32_t((ts % kNanosPerSecond) / 1000));
  w.chunkU8(hep_chunk::kProtoType, m.proto_type);
  w.chunkU32(hep_chunk::kAgentId, identity.agent_id);
  if (!identity.auth_key.empty()) {
    w.chunkBytes(hep_chunk::kAuthKey, identity.auth_key.data(), identity.auth_key.size());
  }
  if (!m.correlation_id.empty()) {
    w.chunkBytes(hep_chunk::kCorrelationId, m.correlation_id.data(), m.correlation_id.size());
  }
  if (m.vlan != 0) w.chunkU16(hep_chunk::kVlan, m.vlan);
  if (!identity.node_name.empty()) {
    w.chunkBytes(hep_chunk::kNodeName, identity.node_name.data(), identity.node_name.size());
  }
  if (!m.src_pod.empty()) {
    w.chunkBytes(hep_tapflow_chunk::kSourcePod, m.src_pod.data(), m.src_pod.size(), hep_tapflow_chunk::kVendor);
  }
  if (!m.dst_pod.empty()) {
    w.chunkBytes(hep_tapflow_chunk::kDestinationPod, m.dst_pod.data(), m.dst_pod.size(),
                 hep_tapflow_chunk::kVendor);
  }
  // Payload last, as Kamailio's siptrace sends it.
  w.chunkBytes(hep_chunk::kPayload, m.payload.data(), m.payload.size());
}

}  // namespace tapflow
