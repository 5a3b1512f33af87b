// HEP v3 (HOMER Encapsulation Protocol) encoding: one captured message with its
// addressing becomes one self-framed "HEP3" packet that HOMER, heplify-server,
// sngrep and hep-js decode. Pure function, no I/O; the HEP sink sends the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "export/event.h"

namespace tapflow {

// Who is capturing: sent with every message so HOMER can tell agents apart.
struct HepIdentity {
  uint32_t agent_id = 0;   // chunk 0x000c, capture agent id
  std::string auth_key;    // chunk 0x000e, only when set
  std::string node_name;   // chunk 0x0013, only when set (the Kubernetes node)
};

// HEP's total length field is 16 bits: nothing longer can be framed.
inline constexpr size_t kHep3MaxBytes = 65535;

// Chunk type ids (vendor 0x0000, the generic chunks).
namespace hep_chunk {
constexpr uint16_t kIpFamily = 0x0001, kIpProto = 0x0002, kIpv4Src = 0x0003, kIpv4Dst = 0x0004,
                   kIpv6Src = 0x0005, kIpv6Dst = 0x0006, kSrcPort = 0x0007, kDstPort = 0x0008,
                   kTimeSeconds = 0x0009, kTimeMicros = 0x000a, kProtoType = 0x000b, kAgentId = 0x000c,
                   kAuthKey = 0x000e, kPayload = 0x000f, kCorrelationId = 0x0011, kVlan = 0x0012,
                   // Node name: heplify-server's decoder names chunk 19 "NodeName" (decoder/decoder.go,
                   // `NodeName = 19 // Chunk 0x0013 NodeName`, stored as a string), and hep-js
                   // writes rcinfo.hepNodeName as chunk 0x0013 and decodes 19 back to hepNodeName.
                   kNodeName = 0x0013;
}  // namespace hep_chunk

// tapflow's own chunks. HEP keeps vendor 0x0000 for the specification's chunks
// and gives each vendor a space of its own; 0x7466 ("tf") is tapflow's choice
// (no registry assigns HEP vendor ids).
// The type numbers stay clear of the generic ones on purpose: hep-js picks a
// chunk by its type alone, whatever its vendor, so a vendor chunk of type 1
// would overwrite the IP family there. Values are text, "namespace/pod".
namespace hep_tapflow_chunk {
constexpr uint16_t kVendor = 0x7466;
constexpr uint16_t kSourcePod = 0x7401,       // the sender's pod, when it is one
                   kDestinationPod = 0x7402;  // the receiver's pod, when it is one
}  // namespace hep_tapflow_chunk

// Bytes encodeHep3 appends for `m` (may exceed kHep3MaxBytes).
size_t hep3EncodedSize(const HepMessage& m, const HepIdentity& identity);

// Appends one HEP v3 packet ("HEP3", total length, chunks) for `m` to `out`.
// Chunks: family, protocol, addresses (v4 or v6 by m.ip_version), ports, time
// (seconds, microseconds), protocol type, agent id, then auth key, correlation
// id, VLAN and node name when set, tapflow's source and destination pod chunks
// when set, and the payload last. Allocates at most once, to grow `out`.
// Appends nothing when the packet would exceed kHep3MaxBytes:
// callers check hep3EncodedSize() first and count such messages as too large.
void encodeHep3(const HepMessage& m, const HepIdentity& identity, std::string& out);

}  // namespace tapflow
