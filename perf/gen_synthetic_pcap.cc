// Synthetic traffic for the engine benchmark: one large, deterministic pcap
// whose flows, sizes, encapsulations and timing look like a busy node's tap.
//
// Usage: gen_synthetic_pcap OUT.pcap [--packets N] [--flows N] [--seconds S] [--seed S]
//
// Plan, then write. Each flow gets a script (handshake, request/response
// exchanges with think times, close) with times relative to its own start;
// flows start at random points of the capture window so they interleave; all
// packets are then sorted by time and written. The bulk transfers share what
// is left of the packet budget after every flow's fixed packets, by
// heavy-tailed (Pareto) weights: a few elephants, many mice.
// Only the standard library is used, and the random generator and the
// distributions are our own, so a seed gives the same file everywhere.
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

// ---------------------------------------------------------------- randomness

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// xoshiro256**: fast, and unlike <random>'s distributions its output does not
// depend on the standard library's implementation.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double unit() { return double(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [lo, hi] (the modulo bias is far below what matters here).
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }
  bool chance(double p) { return unit() < p; }
  double exponential(double mean) { return -mean * std::log(1.0 - unit()); }
  double lognormal(double median, double sigma) {
    // Box-Muller; one normal per call is plenty fast for a generator.
    double u1 = 1.0 - unit(), u2 = unit();
    double n = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    return median * std::exp(sigma * n);
  }
  double pareto(double xm, double alpha) { return xm / std::pow(1.0 - unit(), 1.0 / alpha); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// ---------------------------------------------------------------- flow plans

constexpr uint64_t kNs = 1;
constexpr uint64_t kUs = 1000 * kNs;
constexpr uint64_t kMs = 1000 * kUs;
constexpr uint64_t kSec = 1000 * kMs;

enum class Kind : uint8_t { kTcp, kDns, kUdpOneWay, kIcmpEcho, kUdpFragmented };
enum class Encap : uint8_t { kNone, kVlan, kVxlan };
enum class Close : uint8_t { kFinByClient, kFinByServer, kRst, kOpen };
enum class ExchangeType : uint8_t { kApi, kDownload, kUpload };

namespace tcpf {
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
}

struct Exchange {
  ExchangeType type = ExchangeType::kApi;
  uint32_t request_bytes = 0;   // payload of the client's message (bulk: the remainder segment)
  uint32_t response_bytes = 0;  // payload of the server's message (bulk: the remainder segment)
  double weight = 0;            // share of the bulk budget (download/upload)
  uint32_t bulk_segments = 0;   // full-MSS segments before the remainder
  uint64_t think = 0;           // pause before the request
  uint64_t server_time = 0;     // server's processing time
  double rate_bps = 0;          // sender's pace for bulk segments
};

struct FlowSpec {
  Kind kind = Kind::kTcp;
  Encap encap = Encap::kNone;
  uint8_t ip_version = 4;
  uint8_t client_ttl = 64;
  uint8_t server_ttl = 64;
  uint16_t vlan_id = 0;
  uint32_t vni = 0;
  uint8_t client_ip[16] = {};
  uint8_t server_ip[16] = {};
  uint8_t outer_client_ip[4] = {};  // VXLAN: the nodes' addresses
  uint8_t outer_server_ip[4] = {};
  uint16_t client_port = 0;
  uint16_t server_port = 0;
  uint32_t flow_label = 0;
  uint16_t ip_id[2] = {0, 0};  // next IPv4 identification per direction (advanced while writing)

  // TCP
  bool tcp_timestamps = true;
  uint16_t mss = 1460;          // advertised
  uint16_t seg_payload = 1448;  // payload of a full segment (MSS less the timestamp option)
  uint32_t isn[2] = {0, 0};
  uint32_t ts_base[2] = {0, 0};
  uint64_t rtt = 0;
  Close close = Close::kFinByClient;
  std::vector<Exchange> exchanges;

  // DNS
  uint16_t dns_id = 0;
  uint16_t dns_qtype = 1;
  uint8_t dns_answers = 1;
  bool dns_edns = false;

  // One-way UDP, ICMP echo, fragmented UDP
  uint16_t messages = 1;
  uint16_t udp_payload = 0;  // one-way UDP message size; fragmented UDP: datagram payload
  uint16_t icmp_id = 0;

  uint64_t start = 0;  // absolute start (ns from the capture start)
};

// One packet to write; everything else comes from its flow.
struct PacketSpec {
  uint64_t ts = 0;  // ns from the capture start
  uint32_t flow = 0;
  uint32_t seq = 0;          // TCP seq; ICMP echo sequence; fragmented UDP: datagram number
  uint32_t ack = 0;          // TCP ack
  uint32_t order = 0;        // generation order: breaks timestamp ties stably
  uint16_t payload = 0;      // L4 payload bytes (fragmented UDP: of the whole datagram)
  uint8_t dir = 0;           // 0: client → server
  uint8_t flags = 0;         // TCP flags; fragmented UDP: fragment index
  uint32_t message_len = 0;  // TCP, on a message's first segment: bytes of the whole message; else 0
};

// Service ports of the TCP flows and how often each appears (weights).
struct PortShare {
  uint16_t port;
  int weight;
};
constexpr PortShare kTcpServices[] = {{443, 45}, {80, 10},  {8080, 10}, {6379, 8}, {9092, 7},
                                      {5432, 5}, {3306, 4}, {6443, 5},  {2379, 3}, {10250, 3}};

uint16_t pickServicePort(Rng& rng) {
  int total = 0;
  for (const auto& s : kTcpServices) total += s.weight;
  int r = int(rng.range(0, total - 1));
  for (const auto& s : kTcpServices) {
    if (r < s.weight) return s.port;
    r -= s.weight;
  }
  return 443;
}

void setIpv4(uint8_t* ip, uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  std::memset(ip, 0, 16);
  ip[0] = a;
  ip[1] = b;
  ip[2] = c;
  ip[3] = d;
}

// Pods: 10.244.0.0/16 (v4) and fd00:10:244::/64 (v6); cluster services 10.96/16;
// outside peers in two cloud-looking ranges and 2001:db8::/32.
void podAddress(Rng& rng, uint8_t version, uint8_t* ip) {
  uint32_t pod = uint32_t(rng.range(0, 6000));  // a few thousand pods talk
  if (version == 4) {
    setIpv4(ip, 10, 244, uint8_t(pod / 250), uint8_t(2 + pod % 250));
  } else {
    static constexpr uint8_t kPrefix[8] = {0xfd, 0x00, 0x00, 0x10, 0x02, 0x44, 0x00, 0x00};
    std::memcpy(ip, kPrefix, 8);
    std::memset(ip + 8, 0, 6);
    ip[14] = uint8_t(pod >> 8);
    ip[15] = uint8_t(pod);
  }
}

void serverAddress(Rng& rng, uint8_t version, uint8_t* ip) {
  if (version == 4) {
    double r = rng.unit();
    if (r < 0.45) {
      setIpv4(ip, 10, 96, uint8_t(rng.range(0, 3)), uint8_t(rng.range(1, 254)));  // services
    } else if (r < 0.75) {
      setIpv4(ip, 10, 244, uint8_t(rng.range(0, 23)), uint8_t(rng.range(2, 251)));  // other pods
    } else if (r < 0.9) {
      setIpv4(ip, 52, uint8_t(rng.range(0, 95)), uint8_t(rng.range(0, 255)), uint8_t(rng.range(1, 254)));
    } else {
      setIpv4(ip, 142, 250, uint8_t(rng.range(0, 255)), uint8_t(rng.range(1, 254)));
    }
  } else {
    if (rng.chance(0.6)) {
      static constexpr uint8_t kPrefix[8] = {0xfd, 0x00, 0x00, 0x10, 0x00, 0x96, 0x00, 0x00};
      std::memcpy(ip, kPrefix, 8);
    } else {
      static constexpr uint8_t kPrefix[8] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00};
      std::memcpy(ip, kPrefix, 8);
      ip[4] = uint8_t(rng.range(0, 255));
    }
    std::memset(ip + 8, 0, 6);
    ip[14] = uint8_t(rng.range(0, 255));
    ip[15] = uint8_t(rng.range(1, 255));
  }
}

uint64_t tupleHash(const FlowSpec& f, uint8_t proto) {
  uint64_t h = 0x243F6A8885A308D3ull ^ proto ^ (uint64_t(f.vlan_id) << 8) ^ (uint64_t(f.vni) << 20);
  auto mixIn = [&h](uint64_t v) {
    h ^= v;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  };
  uint64_t w[4];
  std::memcpy(w, f.client_ip, 16);
  std::memcpy(w + 2, f.server_ip, 16);
  for (uint64_t v : w) mixIn(v);
  mixIn(uint64_t(f.client_port) << 16 | f.server_port);
  return h;
}

uint8_t protoOf(const FlowSpec& f) {
  switch (f.kind) {
    case Kind::kTcp: return 6;
    case Kind::kIcmpEcho: return f.ip_version == 4 ? 1 : 58;
    default: return 17;
  }
}

// ------------------------------------------------------------------- DNS

// Query names look like a cluster's: services of namespaces, and some outside names.
size_t writeDnsName(uint32_t flow, uint8_t* out) {
  char name[96];
  uint32_t h = uint32_t(flow * 2654435761u);
  if (h % 4 != 0) {
    std::snprintf(name, sizeof name, "svc-%u.ns-%u.svc.cluster.local", h % 997, (h >> 10) % 37);
  } else {
    std::snprintf(name, sizeof name, "api%u.example%u.com", h % 311, (h >> 12) % 53);
  }
  size_t n = 0;
  const char* label = name;
  for (;;) {
    const char* dot = std::strchr(label, '.');
    size_t len = dot ? size_t(dot - label) : std::strlen(label);
    out[n++] = uint8_t(len);
    std::memcpy(out + n, label, len);
    n += len;
    if (!dot) break;
    label = dot + 1;
  }
  out[n++] = 0;
  return n;
}

void put16(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// A DNS query (dir 0) or its response (dir 1); returns the payload length.
size_t writeDns(const FlowSpec& f, uint32_t flow, uint8_t dir, uint8_t* out) {
  const bool response = dir == 1;
  put16(out, f.dns_id);
  put16(out + 2, response ? 0x8180 : 0x0100);
  put16(out + 4, 1);
  put16(out + 6, response ? f.dns_answers : 0);
  put16(out + 8, 0);
  put16(out + 10, f.dns_edns ? 1 : 0);
  size_t n = 12;
  n += writeDnsName(flow, out + n);
  put16(out + n, f.dns_qtype);
  put16(out + n + 2, 1);  // IN
  n += 4;
  if (response) {
    for (uint8_t a = 0; a < f.dns_answers; ++a) {
      put16(out + n, 0xc00c);  // the question's name
      put16(out + n + 2, f.dns_qtype);
      put16(out + n + 4, 1);
      put32(out + n + 6, 30);
      const uint16_t rdlen = f.dns_qtype == 28 ? 16 : 4;
      put16(out + n + 10, rdlen);
      n += 12;
      for (uint16_t i = 0; i < rdlen; ++i) out[n + i] = uint8_t(flow * 7 + a * 13 + i);
      if (rdlen == 4) out[n] = 10;
      n += rdlen;
    }
  }
  if (f.dns_edns) {  // OPT pseudo-record: UDP size 1232
    out[n] = 0;
    put16(out + n + 1, 41);
    put16(out + n + 3, 1232);
    put32(out + n + 5, 0);
    put16(out + n + 9, 0);
    n += 11;
  }
  return n;
}

// ------------------------------------------------------------------ scripts

class ScriptBuilder {
 public:
  ScriptBuilder(std::vector<PacketSpec>& out, uint32_t flow) : out_(out), flow_(flow) {}

  void add(uint64_t t, uint8_t dir, uint8_t flags, uint16_t payload, uint32_t seq = 0, uint32_t ack = 0,
           uint32_t message_len = 0) {
    PacketSpec p;
    p.ts = t;
    p.flow = flow_;
    p.dir = dir;
    p.flags = flags;
    p.payload = payload;
    p.seq = seq;
    p.ack = ack;
    p.message_len = message_len;
    out_.push_back(p);
  }

 private:
  std::vector<PacketSpec>& out_;
  uint32_t flow_;
};

constexpr uint32_t kAckEvery = 3;  // stretch ACKs, as GRO-ing receivers send

// Packets a transfer of `segments` costs: the segments and the receiver's ACKs
// (one per kAckEvery segments, and one for a tail when nothing else acks it).
uint32_t transferPackets(uint32_t segments, bool ack_tail) {
  return segments + segments / kAckEvery + (ack_tail && segments % kAckEvery != 0 ? 1 : 0);
}

// A TCP script in progress: the next sequence number of each side, and its clock.
struct TcpState {
  uint32_t next_seq[2];
  uint64_t t;
};

uint64_t jitter(Rng& rng, uint64_t v) { return uint64_t(double(v) * (0.8 + 0.4 * rng.unit())); }

// Sends a message of `full` full segments and a `tail`-byte segment from `dir`;
// the receiver acks per kAckEvery segments. Returns the time of the last segment.
uint64_t tcpMessage(ScriptBuilder& sb, Rng& rng, const FlowSpec& f, TcpState& s, uint8_t dir, uint32_t full,
                    uint32_t tail, double rate_bps, bool ack_tail) {
  const uint32_t segments = full + (tail > 0 ? 1 : 0);
  const uint64_t gap = uint64_t(double(f.seg_payload) * 8.0 * 1e9 / rate_bps);
  const uint32_t message_len = full * f.seg_payload + tail;
  uint64_t t = s.t;
  uint64_t last = t;
  for (uint32_t i = 0; i < segments; ++i) {
    const uint16_t len = uint16_t(i < full ? f.seg_payload : tail);
    const bool last_segment = i + 1 == segments;
    sb.add(t, dir, tcpf::kAck | (last_segment ? tcpf::kPsh : 0), len, s.next_seq[dir], s.next_seq[dir ^ 1],
           i == 0 ? message_len : 0);
    s.next_seq[dir] += len;
    last = t;
    if ((i + 1) % kAckEvery == 0 || (last_segment && ack_tail)) {
      // The receiver's ACK, as a tap next to the receiver sees it: tens of
      // microseconds after a stretch of segments, a delayed ACK after the tail.
      const uint64_t delay = last_segment && ack_tail ? jitter(rng, 200 * kUs) : jitter(rng, 30 * kUs);
      sb.add(t + delay, dir ^ 1, tcpf::kAck, 0, s.next_seq[dir ^ 1], s.next_seq[dir]);
    }
    t += jitter(rng, gap);
  }
  s.t = last;
  return last;
}

uint64_t scriptTcp(std::vector<PacketSpec>& out, uint32_t index, FlowSpec& f, Rng& rng) {
  ScriptBuilder sb(out, index);
  TcpState s{{f.isn[0], f.isn[1]}, 0};
  // Handshake.
  sb.add(0, 0, tcpf::kSyn, 0, s.next_seq[0], 0);
  s.next_seq[0] += 1;
  s.t = f.rtt;
  sb.add(s.t, 1, tcpf::kSyn | tcpf::kAck, 0, s.next_seq[1], s.next_seq[0]);
  s.next_seq[1] += 1;
  s.t += jitter(rng, 40 * kUs);
  sb.add(s.t, 0, tcpf::kAck, 0, s.next_seq[0], s.next_seq[1]);

  for (const Exchange& e : f.exchanges) {
    s.t += e.think + jitter(rng, 20 * kUs);
    const bool upload = e.type == ExchangeType::kUpload;
    const bool download = e.type == ExchangeType::kDownload;
    // Request: the server's reply carries the ACK of a one-segment request.
    tcpMessage(sb, rng, f, s, 0, upload ? e.bulk_segments : 0, e.request_bytes, e.rate_bps, false);
    s.t += f.rtt / 2 + e.server_time;
    tcpMessage(sb, rng, f, s, 1, download ? e.bulk_segments : 0, e.response_bytes, e.rate_bps, true);
  }

  s.t += jitter(rng, 50 * kMs);
  switch (f.close) {
    case Close::kFinByClient:
    case Close::kFinByServer: {
      const uint8_t closer = f.close == Close::kFinByClient ? 0 : 1;
      sb.add(s.t, closer, tcpf::kFin | tcpf::kAck, 0, s.next_seq[closer], s.next_seq[closer ^ 1]);
      s.next_seq[closer] += 1;
      s.t += f.rtt + jitter(rng, 30 * kUs);
      sb.add(s.t, closer ^ 1, tcpf::kFin | tcpf::kAck, 0, s.next_seq[closer ^ 1], s.next_seq[closer]);
      s.next_seq[closer ^ 1] += 1;
      s.t += jitter(rng, 40 * kUs);
      sb.add(s.t, closer, tcpf::kAck, 0, s.next_seq[closer], s.next_seq[closer ^ 1]);
      break;
    }
    case Close::kRst: sb.add(s.t, 0, tcpf::kRst | tcpf::kAck, 0, s.next_seq[0], s.next_seq[1]); break;
    case Close::kOpen: break;
  }
  return s.t;
}

uint32_t tcpFixedPackets(const FlowSpec& f) {
  uint32_t n = 3;
  for (const Exchange& e : f.exchanges) {
    uint32_t req = (e.type == ExchangeType::kUpload ? e.bulk_segments : 0) + 1;
    uint32_t resp = (e.type == ExchangeType::kDownload ? e.bulk_segments : 0) + 1;
    n += transferPackets(req, false) + transferPackets(resp, true);
  }
  n += f.close == Close::kRst ? 1 : f.close == Close::kOpen ? 0 : 3;
  return n;
}

uint64_t scriptDns(std::vector<PacketSpec>& out, uint32_t index, const FlowSpec& f, Rng& rng) {
  ScriptBuilder sb(out, index);
  uint8_t scratch[512];
  sb.add(0, 0, 0, uint16_t(writeDns(f, index, 0, scratch)));
  const uint64_t reply = f.rtt + uint64_t(rng.exponential(double(400 * kUs)));
  sb.add(reply, 1, 0, uint16_t(writeDns(f, index, 1, scratch)));
  return reply;
}

uint64_t scriptUdpOneWay(std::vector<PacketSpec>& out, uint32_t index, const FlowSpec& f, Rng& rng) {
  ScriptBuilder sb(out, index);
  uint64_t t = 0;
  for (uint16_t m = 0; m < f.messages; ++m) {
    if (m > 0) t += uint64_t(rng.exponential(double(2 * kSec)));
    sb.add(t, 0, 0, uint16_t(f.udp_payload - 40 + rng.range(0, 80)), m);
  }
  return t;
}

uint64_t scriptIcmp(std::vector<PacketSpec>& out, uint32_t index, const FlowSpec& f, Rng& rng) {
  ScriptBuilder sb(out, index);
  uint64_t t = 0;
  for (uint16_t m = 0; m < f.messages; ++m) {
    if (m > 0) t += jitter(rng, 1 * kSec);  // ping's default interval
    sb.add(t, 0, 0, 56, m + 1);
    sb.add(t + f.rtt, 1, 0, 56, m + 1);
  }
  return t + f.rtt;
}

constexpr uint32_t kFragmentPayload = 1480;  // MTU 1500 less the IPv4 header

uint32_t fragmentsOf(uint32_t udp_payload) { return (8 + udp_payload + kFragmentPayload - 1) / kFragmentPayload; }

// A client's small request, then the server's large datagrams, each cut into
// fragments that follow each other closely; some are sent last fragment first.
uint64_t scriptUdpFragmented(std::vector<PacketSpec>& out, uint32_t index, const FlowSpec& f, Rng& rng) {
  ScriptBuilder sb(out, index);
  sb.add(0, 0, 0, 64, 0, 0);
  uint64_t t = f.rtt;
  for (uint16_t m = 0; m < f.messages; ++m) {
    const uint32_t n = fragmentsOf(f.udp_payload);
    const bool reversed = rng.chance(0.2);
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t frag = reversed ? n - 1 - i : i;
      sb.add(t, 1, uint8_t(frag), f.udp_payload, uint32_t(m) + 1);
      t += jitter(rng, 12 * kUs);
    }
    t += jitter(rng, 5 * kMs);
  }
  return t;
}

// --------------------------------------------------------------- frame bytes

uint32_t checksumAdd(uint32_t sum, const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (i < n) sum += uint32_t(p[i]) << 8;
  return sum;
}

uint16_t checksumFinish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

// Pseudo-header sum for the TCP/UDP/ICMPv6 checksum.
uint32_t pseudoSum(uint8_t version, const uint8_t* src, const uint8_t* dst, uint8_t proto, uint32_t len) {
  uint32_t sum = 0;
  const size_t alen = version == 4 ? 4 : 16;
  sum = checksumAdd(sum, src, alen);
  sum = checksumAdd(sum, dst, alen);
  sum += proto;
  sum += len >> 16;
  sum += len & 0xffff;
  return sum;
}

void writeMac(uint8_t* p, const uint8_t* ip, uint8_t version) {
  // Locally administered MACs derived from the address: stable per endpoint.
  p[0] = 0x02;
  p[1] = 0x42;
  const uint8_t* tail = ip + (version == 4 ? 0 : 12);
  std::memcpy(p + 2, tail, 4);
}

// Random-looking payload bytes (TLS records and compressed bodies look so).
struct Filler {
  std::vector<uint8_t> bytes;
  explicit Filler(uint64_t seed) : bytes(1 << 17) {
    Rng rng(seed);
    for (size_t i = 0; i < bytes.size(); i += 8) {
      uint64_t v = rng.next();
      std::memcpy(bytes.data() + i, &v, 8);
    }
  }
  void fill(uint8_t* out, size_t n, uint64_t at) const { std::memcpy(out, bytes.data() + (at % (1 << 16)), n); }
};

size_t writeText(uint8_t* out, size_t n, const char* text) {
  size_t len = std::min(n, std::strlen(text));
  std::memcpy(out, text, len);
  return len;
}

class FrameWriter {
 public:
  explicit FrameWriter(const Filler& filler) : filler_(filler) {}

  // Writes the frame of `p` into `out` (at least 2048 bytes); returns its length.
  size_t write(FlowSpec& f, uint32_t index, const PacketSpec& p, uint8_t* out) {
    const bool vxlan = f.encap == Encap::kVxlan;
    uint8_t* inner = vxlan ? out + 50 : out;
    const uint8_t* src_ip = p.dir == 0 ? f.client_ip : f.server_ip;
    const uint8_t* dst_ip = p.dir == 0 ? f.server_ip : f.client_ip;

    // Ethernet (and 802.1Q).
    writeMac(inner, dst_ip, f.ip_version);
    writeMac(inner + 6, src_ip, f.ip_version);
    size_t n = 12;
    if (f.encap == Encap::kVlan) {
      put16(inner + n, 0x8100);
      put16(inner + n + 2, f.vlan_id);
      n += 4;
    }
    put16(inner + n, f.ip_version == 4 ? 0x0800 : 0x86dd);
    n += 2;
    uint8_t* ip = inner + n;
    const size_t ip_hlen = f.ip_version == 4 ? 20 : 40;
    uint8_t* l4 = ip + ip_hlen;
    const uint8_t proto = protoOf(f);

    size_t l4_len = 0;
    bool fragment = false;
    uint16_t frag_field = 0;
    // Fragments of one datagram share its identification.
    const bool server_fragment = f.kind == Kind::kUdpFragmented && p.dir == 1;
    const uint16_t ip_id = server_fragment ? uint16_t(f.flow_label + p.seq * 31) : f.ip_id[p.dir]++;
    switch (f.kind) {
      case Kind::kTcp: l4_len = writeTcp(f, p, l4); break;
      case Kind::kDns: l4_len = writeUdp(f, p, l4, [&](uint8_t* o) { return writeDns(f, index, p.dir, o); }); break;
      case Kind::kUdpOneWay:
        l4_len = writeUdp(f, p, l4, [&](uint8_t* o) {
          size_t k = size_t(
              std::snprintf(reinterpret_cast<char*>(o), 64, "<134>1 app-%u metrics seq=%u ", index % 1000, p.seq));
          for (; k < p.payload; ++k) o[k] = uint8_t('a' + (k * 7 + index) % 26);
          return size_t(p.payload);
        });
        break;
      case Kind::kIcmpEcho: l4_len = writeIcmp(f, p, l4); break;
      case Kind::kUdpFragmented:
        if (p.dir == 0) {
          l4_len = writeUdp(f, p, l4, [&](uint8_t* o) {
            filler_.fill(o, p.payload, index);
            return size_t(p.payload);
          });
        } else {
          fragment = true;
          l4_len = writeFragment(f, p, l4, frag_field);
        }
        break;
    }

    // IP header.
    const uint8_t ttl = p.dir == 0 ? f.client_ttl : f.server_ttl;
    if (f.ip_version == 4) {
      ip[0] = 0x45;
      ip[1] = 0;
      put16(ip + 2, uint32_t(20 + l4_len));
      put16(ip + 4, ip_id);
      put16(ip + 6, fragment ? frag_field : (proto == 6 ? 0x4000 : 0));  // DF on TCP
      ip[8] = ttl;
      ip[9] = proto;
      put16(ip + 10, 0);
      std::memcpy(ip + 12, src_ip, 4);
      std::memcpy(ip + 16, dst_ip, 4);
      put16(ip + 10, checksumFinish(checksumAdd(0, ip, 20)));
    } else {
      put32(ip, 0x60000000u | (f.flow_label & 0xfffff));
      put16(ip + 4, uint32_t(l4_len));
      ip[6] = proto;
      ip[7] = ttl;
      std::memcpy(ip + 8, src_ip, 16);
      std::memcpy(ip + 24, dst_ip, 16);
    }
    if (!fragment) writeL4Checksum(f, ip, l4, l4_len, proto, src_ip, dst_ip);

    size_t frame = n + ip_hlen + l4_len;
    if (frame < 60 && !vxlan) {  // Ethernet pads short frames to the minimum size
      std::memset(inner + frame, 0, 60 - frame);
      frame = 60;
    }
    if (!vxlan) return frame;
    return wrapVxlan(f, p, out, frame);
  }

 private:
  size_t writeTcp(const FlowSpec& f, const PacketSpec& p, uint8_t* t) {
    put16(t, p.dir == 0 ? f.client_port : f.server_port);
    put16(t + 2, p.dir == 0 ? f.server_port : f.client_port);
    put32(t + 4, p.seq);
    put32(t + 8, p.ack);
    const bool syn = p.flags & tcpf::kSyn;
    size_t opt = 0;
    uint8_t* o = t + 20;
    // Timestamp clocks tick in milliseconds from a random base per side; the
    // echoed value is the peer's clock one RTT earlier.
    const uint64_t flow_time = p.ts - f.start;
    const uint32_t tsval = f.ts_base[p.dir] + uint32_t(flow_time / kMs);
    const uint64_t peer_time = flow_time > f.rtt ? flow_time - f.rtt : 0;
    const uint32_t tsecr = (p.flags & tcpf::kAck) ? f.ts_base[p.dir ^ 1] + uint32_t(peer_time / kMs) : 0;
    if (syn) {
      o[opt++] = 2, o[opt++] = 4, put16(o + opt, f.mss), opt += 2;  // MSS
      if (f.tcp_timestamps) {
        o[opt++] = 4, o[opt++] = 2;  // SACK permitted
        o[opt++] = 8, o[opt++] = 10, put32(o + opt, tsval), put32(o + opt + 4, tsecr), opt += 8;
        o[opt++] = 1;
        o[opt++] = 3, o[opt++] = 3, o[opt++] = 7;  // window scale 7
      } else {
        o[opt++] = 1;
        o[opt++] = 3, o[opt++] = 3, o[opt++] = 8;
        o[opt++] = 1, o[opt++] = 1;
        o[opt++] = 4, o[opt++] = 2;
      }
    } else if (f.tcp_timestamps) {
      o[opt++] = 1, o[opt++] = 1;
      o[opt++] = 8, o[opt++] = 10, put32(o + opt, tsval), put32(o + opt + 4, tsecr), opt += 8;
    }
    const size_t hlen = 20 + opt;
    t[12] = uint8_t((hlen / 4) << 4);
    t[13] = p.flags;
    put16(t + 14, syn ? 64240 : 501 + (p.seq & 0x3f));
    put16(t + 16, 0);
    put16(t + 18, 0);
    uint8_t* payload = t + hlen;
    if (p.payload > 0) {
      filler_.fill(payload, p.payload, uint64_t(p.seq) * 131 + p.flow);
      // The first bytes of a plain-text service's messages, where the port says so.
      const bool http = f.server_port == 80 || f.server_port == 8080;
      if (p.message_len != 0 && http) writeHttpHead(p, payload);
    }
    return hlen + p.payload;
  }

  // A well-formed HTTP/1.1 head for the first segment of each message: a GET
  // padded to its planned size, or a POST or response whose Content-Length
  // covers the rest of the message.
  static void writeHttpHead(const PacketSpec& p, uint8_t* payload) {
    char text[256];
    int n;
    if (p.dir == 0 && p.message_len == p.payload) {
      n = std::snprintf(text, sizeof text,
                        "GET /api/v1/items/%u HTTP/1.1\r\nHost: svc-%u\r\nUser-Agent: synthetic/1.0\r\n"
                        "Accept: */*\r\nX-Pad: ",
                        p.flow % 100000, p.flow % 997);
      if (n < 0 || p.payload < size_t(n) + 5) return;  // planned requests are long enough
      std::memcpy(payload, text, size_t(n));
      std::memset(payload + n, 'x', p.payload - size_t(n) - 4);
      std::memcpy(payload + p.payload - 4, "\r\n\r\n", 4);
      return;
    }
    // The head's own length depends on the digits of Content-Length: settle it.
    uint32_t body = p.message_len;
    for (int round = 0; round < 3; ++round) {
      n = p.dir == 0 ? std::snprintf(text, sizeof text,
                                     "POST /api/v1/upload HTTP/1.1\r\nHost: svc-%u\r\nContent-Type: "
                                     "application/octet-stream\r\nContent-Length: %u\r\n\r\n",
                                     p.flow % 997, body)
                     : std::snprintf(text, sizeof text,
                                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                     "Content-Length: %u\r\n\r\n",
                                     body);
      if (n < 0 || uint32_t(n) > p.message_len) return;  // too short a message for a head: left as data
      body = p.message_len - uint32_t(n);
    }
    writeText(payload, p.payload, text);
  }

  template <typename PayloadFn>
  size_t writeUdp(const FlowSpec& f, const PacketSpec& p, uint8_t* u, PayloadFn&& payload) {
    put16(u, p.dir == 0 ? f.client_port : f.server_port);
    put16(u + 2, p.dir == 0 ? f.server_port : f.client_port);
    const size_t len = 8 + payload(u + 8);
    put16(u + 4, uint32_t(len));
    put16(u + 6, 0);
    return len;
  }

  size_t writeIcmp(const FlowSpec& f, const PacketSpec& p, uint8_t* c) {
    const bool v4 = f.ip_version == 4;
    c[0] = p.dir == 0 ? (v4 ? 8 : 128) : (v4 ? 0 : 129);
    c[1] = 0;
    put16(c + 2, 0);
    put16(c + 4, f.icmp_id);
    put16(c + 6, p.seq);
    for (uint16_t i = 0; i < p.payload; ++i) c[8 + i] = uint8_t(0x10 + i);
    return 8 + p.payload;
  }

  // One fragment of the server's datagram: the whole UDP datagram is built
  // (its checksum covers all of it) and the fragment's slice copied out.
  size_t writeFragment(const FlowSpec& f, const PacketSpec& p, uint8_t* l4, uint16_t& frag_field) {
    const uint32_t total = 8 + p.payload;
    put16(datagram_, f.server_port);
    put16(datagram_ + 2, f.client_port);
    put16(datagram_ + 4, total);
    put16(datagram_ + 6, 0);
    filler_.fill(datagram_ + 8, p.payload, uint64_t(p.seq) * 977 + p.flow);
    uint32_t sum = pseudoSum(4, f.server_ip, f.client_ip, 17, total);
    uint16_t c = checksumFinish(checksumAdd(sum, datagram_, total));
    put16(datagram_ + 6, c == 0 ? 0xffff : c);
    const uint32_t begin = uint32_t(p.flags) * kFragmentPayload;
    const uint32_t len = std::min(kFragmentPayload, total - begin);
    std::memcpy(l4, datagram_ + begin, len);
    const bool more = begin + len < total;
    frag_field = uint16_t((more ? 0x2000 : 0) | (begin / 8));
    return len;
  }

  void writeL4Checksum(const FlowSpec& f, uint8_t* ip, uint8_t* l4, size_t len, uint8_t proto, const uint8_t* src,
                       const uint8_t* dst) {
    (void)ip;
    size_t at;
    switch (proto) {
      case 6: at = 16; break;
      case 17: at = 6; break;
      case 1: at = 2; break;
      case 58: at = 2; break;
      default: return;
    }
    uint32_t sum = proto == 1 ? 0 : pseudoSum(f.ip_version, src, dst, proto, uint32_t(len));
    uint16_t c = checksumFinish(checksumAdd(sum, l4, len));
    if (proto == 17 && c == 0) c = 0xffff;
    put16(l4 + at, c);
  }

  // Outer Ethernet + IPv4 + UDP + VXLAN between the two nodes, as flannel or
  // Calico send pod traffic; the outer UDP checksum is 0, as Linux sends it.
  size_t wrapVxlan(const FlowSpec& f, const PacketSpec& p, uint8_t* out, size_t inner_len) {
    const uint8_t* src = p.dir == 0 ? f.outer_client_ip : f.outer_server_ip;
    const uint8_t* dst = p.dir == 0 ? f.outer_server_ip : f.outer_client_ip;
    uint8_t src16[16] = {}, dst16[16] = {};
    std::memcpy(src16, src, 4);
    std::memcpy(dst16, dst, 4);
    writeMac(out, dst16, 4);
    writeMac(out + 6, src16, 4);
    put16(out + 12, 0x0800);
    uint8_t* ip = out + 14;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, uint32_t(20 + 8 + 8 + inner_len));
    put16(ip + 4, f.ip_id[p.dir] * 7u);
    put16(ip + 6, 0);
    ip[8] = 64;
    ip[9] = 17;
    put16(ip + 10, 0);
    std::memcpy(ip + 12, src, 4);
    std::memcpy(ip + 16, dst, 4);
    put16(ip + 10, checksumFinish(checksumAdd(0, ip, 20)));
    uint8_t* udp = ip + 20;
    put16(udp, 49152 + (f.client_port ^ f.server_port) % 16384);  // entropy from the inner flow
    put16(udp + 2, 4789);
    put16(udp + 4, uint32_t(8 + 8 + inner_len));
    put16(udp + 6, 0);
    uint8_t* vx = udp + 8;
    put32(vx, 0x08000000);
    put32(vx + 4, f.vni << 8);
    return 50 + inner_len;
  }

  const Filler& filler_;
  uint8_t datagram_[65536 + 64];
};

// ---------------------------------------------------------------- the plan

struct Options {
  std::string out;
  uint64_t packets = 1000000;
  uint64_t flows = 100000;
  double seconds = 60;
  uint64_t seed = 20240601;
};

void usage() {
  std::fprintf(stderr,
               "usage: gen_synthetic_pcap OUT.pcap [--packets N] [--flows N] [--seconds S] [--seed S]\n"
               "  Writes a deterministic synthetic pcap (Ethernet) of about N packets over N flows\n"
               "  (defaults: 1000000 packets, 100000 flows, 60 seconds).\n");
}

bool parseNumber(const char* s, uint64_t& v) {
  char* end = nullptr;
  errno = 0;
  unsigned long long x = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') return false;
  v = x;
  return true;
}

bool parseOptions(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--packets" || a == "--flows" || a == "--seed") {
      const char* v = need();
      uint64_t x;
      if (!v || !parseNumber(v, x)) {
        std::fprintf(stderr, "gen_synthetic_pcap: %s needs a number\n", a.c_str());
        return false;
      }
      (a == "--packets" ? o.packets : a == "--flows" ? o.flows : o.seed) = x;
    } else if (a == "--seconds") {
      const char* v = need();
      char* end = nullptr;
      o.seconds = v ? std::strtod(v, &end) : 0;
      if (!v || *end != '\0' || !(o.seconds > 0.001) || o.seconds > 86400) {
        std::fprintf(stderr, "gen_synthetic_pcap: --seconds needs a duration between 0.001 and 86400\n");
        return false;
      }
    } else if (a == "-h" || a == "--help") {
      usage();
      std::exit(0);
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "gen_synthetic_pcap: unknown option %s\n", a.c_str());
      return false;
    } else if (o.out.empty()) {
      o.out = a;
    } else {
      std::fprintf(stderr, "gen_synthetic_pcap: unexpected argument %s\n", a.c_str());
      return false;
    }
  }
  if (o.out.empty()) return false;
  if (o.flows == 0 || o.flows > 50000000 || o.packets == 0 || o.packets > 1000000000) {
    std::fprintf(stderr, "gen_synthetic_pcap: --flows must be 1..50000000 and --packets 1..1000000000\n");
    return false;
  }
  return true;
}

// Flow mix (by flow count). TCP carries most packets and bytes; DNS makes
// many tiny flows, as it does on a real node.
constexpr double kShareDns = 0.55;
constexpr double kShareUdpOneWay = 0.06;
constexpr double kShareIcmp = 0.02;
constexpr double kShareFragmented = 0.003;
constexpr double kShareIpv6 = 0.10;
constexpr double kShareVlan = 0.02;
constexpr double kShareVxlan = 0.02;

void planFlow(FlowSpec& f, uint64_t window, Rng& rng) {
  double r = rng.unit();
  if (r < kShareDns) {
    f.kind = Kind::kDns;
  } else if (r < kShareDns + kShareUdpOneWay) {
    f.kind = Kind::kUdpOneWay;
  } else if (r < kShareDns + kShareUdpOneWay + kShareIcmp) {
    f.kind = Kind::kIcmpEcho;
  } else if (r < kShareDns + kShareUdpOneWay + kShareIcmp + kShareFragmented) {
    f.kind = Kind::kUdpFragmented;
  } else {
    f.kind = Kind::kTcp;
  }
  f.ip_version = f.kind != Kind::kUdpFragmented && rng.chance(kShareIpv6) ? 6 : 4;
  double e = rng.unit();
  if (f.kind != Kind::kUdpFragmented) {
    if (e < kShareVlan) {
      f.encap = Encap::kVlan;
      f.vlan_id = uint16_t(100 + rng.range(0, 9));
    } else if (e < kShareVlan + kShareVxlan && f.ip_version == 4) {
      f.encap = Encap::kVxlan;
      f.vni = uint32_t(rng.range(1, 4));
      setIpv4(f.outer_client_ip, 192, 168, 1, uint8_t(rng.range(1, 20)));
      setIpv4(f.outer_server_ip, 192, 168, 1, uint8_t(rng.range(21, 40)));
    }
  }
  podAddress(rng, f.ip_version, f.client_ip);
  f.client_port = uint16_t(rng.range(32768, 60999));
  f.client_ttl = 64;
  f.server_ttl = uint8_t(rng.chance(0.7) ? 64 : rng.range(40, 63));
  f.flow_label = uint32_t(rng.next());
  f.ip_id[0] = uint16_t(rng.next());
  f.ip_id[1] = uint16_t(rng.next());
  // In-cluster RTTs are sub-millisecond; the outside is tens of milliseconds.
  f.rtt = uint64_t(std::min(300.0, std::max(0.05, rng.lognormal(0.6, 1.5))) * double(kMs));

  switch (f.kind) {
    case Kind::kDns:
      if (f.ip_version == 4) {
        setIpv4(f.server_ip, 10, 96, 0, 10);  // kube-dns
      } else {
        static constexpr uint8_t kDns6[16] = {0xfd, 0, 0, 0x10, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
        std::memcpy(f.server_ip, kDns6, 16);
      }
      f.server_port = 53;
      f.dns_id = uint16_t(rng.next());
      f.dns_qtype = f.ip_version == 6 && rng.chance(0.7) ? 28 : 1;
      f.dns_answers = uint8_t(rng.range(1, 6));
      f.dns_edns = rng.chance(0.5);
      break;
    case Kind::kUdpOneWay:
      serverAddress(rng, f.ip_version, f.server_ip);
      f.server_port = rng.chance(0.5) ? 8125 : 514;  // statsd, syslog
      f.messages = uint16_t(rng.range(1, 3));
      f.udp_payload = uint16_t(rng.range(120, 480));
      break;
    case Kind::kIcmpEcho:
      serverAddress(rng, f.ip_version, f.server_ip);
      f.client_port = 0;  // no ports: the tuple is the address pair
      f.messages = uint16_t(rng.range(1, 4));
      f.icmp_id = uint16_t(rng.next());
      break;
    case Kind::kUdpFragmented:
      serverAddress(rng, 4, f.server_ip);
      f.server_port = 5201;
      f.messages = uint16_t(rng.range(1, 4));
      f.udp_payload = uint16_t(rng.range(1600, 4400));  // two or three fragments
      break;
    case Kind::kTcp: {
      serverAddress(rng, f.ip_version, f.server_ip);
      f.server_port = pickServicePort(rng);
      f.tcp_timestamps = rng.chance(0.85);
      const uint32_t ip_mtu = f.encap == Encap::kVxlan ? 1450 : 1500;
      const uint32_t mss = ip_mtu - (f.ip_version == 4 ? 20 : 40) - 20;
      f.mss = uint16_t(rng.chance(0.05) ? mss - 80 : mss);  // some paths clamp the MSS
      f.seg_payload = uint16_t(f.mss - (f.tcp_timestamps ? 12 : 0));
      f.isn[0] = uint32_t(rng.next());
      f.isn[1] = uint32_t(rng.next());
      f.ts_base[0] = uint32_t(rng.next());
      f.ts_base[1] = uint32_t(rng.next());
      double c = rng.unit();
      f.close = c < 0.80 ? Close::kFinByClient : c < 0.90 ? Close::kFinByServer : c < 0.95 ? Close::kRst : Close::kOpen;
      // Keep-alive connections carry several exchanges with think times between.
      uint32_t exchanges = 1;
      while (exchanges < 40 && rng.chance(0.45)) ++exchanges;
      f.exchanges.resize(exchanges);
      const double rate = std::min(5e9, std::max(10e6, rng.lognormal(300e6, 1.0)));
      // Think times add up to at most half the window, so flows stay inside it.
      uint64_t think_left = window / 2;
      for (uint32_t i = 0; i < exchanges; ++i) {
        Exchange& x = f.exchanges[i];
        double t = rng.unit();
        x.type = t < 0.30 ? ExchangeType::kApi : t < 0.92 ? ExchangeType::kDownload : ExchangeType::kUpload;
        x.request_bytes = uint32_t(rng.range(60, 540));
        if (f.server_port == 80 || f.server_port == 8080) x.request_bytes = std::max<uint32_t>(x.request_bytes, 160);
        x.response_bytes = uint32_t(rng.range(80, 540));
        if (x.type != ExchangeType::kApi) x.weight = rng.pareto(1.0, 1.15);
        x.think = i == 0 ? 0 : std::min(think_left, uint64_t(std::min(8.0, rng.exponential(1.5)) * double(kSec)));
        think_left -= x.think;
        x.server_time = uint64_t(rng.exponential(double(2 * kMs)));
        x.rate_bps = rate;
      }
      break;
    }
  }
}

uint32_t fixedPackets(const FlowSpec& f) {
  switch (f.kind) {
    case Kind::kTcp: return tcpFixedPackets(f);
    case Kind::kDns: return 2;
    case Kind::kUdpOneWay: return f.messages;
    case Kind::kIcmpEcho: return 2u * f.messages;
    case Kind::kUdpFragmented: return 1 + f.messages * fragmentsOf(f.udp_payload);
  }
  return 0;
}

// Shares the packets left after every flow's fixed ones among the bulk
// exchanges, by weight. A full segment costs about 1 + 1/kAckEvery packets.
void distributeBulkOnce(std::vector<FlowSpec>& flows, uint64_t target_packets, bool quiet) {
  uint64_t fixed = 0;
  double weights = 0;
  for (const FlowSpec& f : flows) {
    fixed += fixedPackets(f);
    for (const Exchange& e : f.exchanges) weights += e.weight;
  }
  if (fixed >= target_packets || weights <= 0) {
    if (fixed > target_packets && !quiet) {
      std::fprintf(stderr,
                   "gen_synthetic_pcap: the flows' minimal scripts take %" PRIu64 " packets, more than the %" PRIu64
                   " asked for: writing %" PRIu64 "\n",
                   fixed, target_packets, fixed);
    }
    return;
  }
  double segments = double(target_packets - fixed) * kAckEvery / (kAckEvery + 1);
  // One exchange may not swallow the budget (a Pareto draw can be huge): cap
  // it, as a real capture's biggest flow is big but not everything, and share
  // what the capped ones leave among the others (water-filling).
  const double cap = std::max(1.0, std::floor(segments * 0.01));
  std::vector<Exchange*> open;
  for (FlowSpec& f : flows) {
    for (Exchange& e : f.exchanges) {
      if (e.weight > 0) open.push_back(&e);
    }
  }
  for (;;) {
    double sum = 0;
    for (const Exchange* e : open) sum += e->weight;
    const double share = segments / sum;
    std::vector<Exchange*> still_open;
    for (Exchange* e : open) {
      if (share * e->weight > cap) {
        e->bulk_segments = uint32_t(cap);
        segments -= cap;
      } else {
        still_open.push_back(e);
      }
    }
    const bool done = still_open.size() == open.size();
    open.swap(still_open);
    if (done || open.empty() || segments <= 0) break;
  }
  if (open.empty() || segments <= 0) return;
  double sum = 0;
  for (const Exchange* e : open) sum += e->weight;
  double carry = 0;  // rounding carried on, so the total comes out whole
  for (Exchange* e : open) {
    carry += segments * e->weight / sum;
    const double whole = std::floor(carry);
    e->bulk_segments = uint32_t(whole);
    carry -= whole;
  }
}

// The ACKs come in whole numbers per exchange, so the first share misses the
// target by a percent or two: a second round corrects for what it missed.
void distributeBulk(std::vector<FlowSpec>& flows, uint64_t target_packets) {
  distributeBulkOnce(flows, target_packets, false);
  uint64_t planned = 0;
  for (const FlowSpec& f : flows) planned += fixedPackets(f);
  if (planned >= target_packets) return;
  const uint64_t corrected = target_packets + (target_packets - planned);
  for (FlowSpec& f : flows) {
    for (Exchange& e : f.exchanges) e.bulk_segments = 0;
  }
  distributeBulkOnce(flows, corrected, true);
}

struct PcapFile {
  std::FILE* file = nullptr;
  std::vector<char> buffer = std::vector<char>(1 << 20);

  bool open(const std::string& path) {
    file = std::fopen(path.c_str(), "wb");
    if (!file) return false;
    std::setvbuf(file, buffer.data(), _IOFBF, buffer.size());
    // Classic pcap, microsecond timestamps, Ethernet: what every tool reads.
    uint8_t header[24];
    const uint32_t magic = 0xa1b2c3d4, snaplen = 65535, link = 1;
    const uint16_t major = 2, minor = 4;
    const int32_t zone = 0;
    const uint32_t sigfigs = 0;
    std::memcpy(header, &magic, 4);
    std::memcpy(header + 4, &major, 2);
    std::memcpy(header + 6, &minor, 2);
    std::memcpy(header + 8, &zone, 4);
    std::memcpy(header + 12, &sigfigs, 4);
    std::memcpy(header + 16, &snaplen, 4);
    std::memcpy(header + 20, &link, 4);
    return std::fwrite(header, 1, sizeof header, file) == sizeof header;
  }

  bool write(uint64_t ts_ns, const uint8_t* data, uint32_t len) {
    uint32_t record[4] = {uint32_t(ts_ns / kSec), uint32_t(ts_ns % kSec / kUs), len, len};
    return std::fwrite(record, 1, sizeof record, file) == sizeof record && std::fwrite(data, 1, len, file) == len;
  }

  bool close() {
    bool ok = std::fflush(file) == 0;
    ok = std::fclose(file) == 0 && ok;
    file = nullptr;
    return ok;
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parseOptions(argc, argv, opt)) {
    usage();
    return 1;
  }
  Rng rng(opt.seed);
  const uint64_t window = uint64_t(opt.seconds * double(kSec));

  // 1. Plan every flow, unique by its tuple (a repeated tuple would merge two flows).
  std::vector<FlowSpec> flows(opt.flows);
  std::unordered_set<uint64_t> tuples;
  tuples.reserve(opt.flows * 2);
  for (uint32_t i = 0; i < flows.size(); ++i) {
    FlowSpec& f = flows[i];
    planFlow(f, window, rng);
    if (f.kind == Kind::kIcmpEcho) {
      // An echo flow is keyed by its addresses alone (types, no ports): a
      // repeated pair takes another client.
      while (!tuples.insert(tupleHash(f, protoOf(f))).second) podAddress(rng, f.ip_version, f.client_ip);
    } else {
      while (!tuples.insert(tupleHash(f, protoOf(f))).second) f.client_port = uint16_t(rng.range(32768, 60999));
    }
  }
  distributeBulk(flows, opt.packets);

  // 2. Script them, each at a random start that keeps it inside the window.
  std::vector<PacketSpec> packets;
  packets.reserve(size_t(opt.packets + opt.packets / 20 + 1024));
  for (uint32_t i = 0; i < flows.size(); ++i) {
    FlowSpec& f = flows[i];
    const size_t first = packets.size();
    uint64_t duration = 0;
    switch (f.kind) {
      case Kind::kTcp: duration = scriptTcp(packets, i, f, rng); break;
      case Kind::kDns: duration = scriptDns(packets, i, f, rng); break;
      case Kind::kUdpOneWay: duration = scriptUdpOneWay(packets, i, f, rng); break;
      case Kind::kIcmpEcho: duration = scriptIcmp(packets, i, f, rng); break;
      case Kind::kUdpFragmented: duration = scriptUdpFragmented(packets, i, f, rng); break;
    }
    f.start = duration < window ? uint64_t(rng.unit() * double(window - duration)) : 0;
    for (size_t k = first; k < packets.size(); ++k) packets[k].ts += f.start;
  }
  for (uint32_t k = 0; k < packets.size(); ++k) packets[k].order = k;
  std::sort(packets.begin(), packets.end(),
            [](const PacketSpec& a, const PacketSpec& b) { return a.ts != b.ts ? a.ts < b.ts : a.order < b.order; });

  // 3. Write, in time order.
  PcapFile pcap;
  if (!pcap.open(opt.out)) {
    std::fprintf(stderr, "gen_synthetic_pcap: cannot write %s: %s\n", opt.out.c_str(), std::strerror(errno));
    return 2;
  }
  Filler filler(opt.seed ^ 0x5eed);
  auto writer = std::make_unique<FrameWriter>(filler);
  std::vector<uint8_t> frame(4096);
  constexpr uint64_t kEpoch = 1717200000ull * kSec;  // 2024-06-01T00:00:00Z
  uint64_t sizes[5] = {0, 0, 0, 0, 0};               // <=80, 81-99, 100-600, 601-1399, >=1400
  uint64_t bytes = 0, max_frame = 0;
  uint64_t by_kind[5] = {0, 0, 0, 0, 0};
  uint64_t ipv6 = 0, vlan = 0, vxlan = 0, fragments = 0;
  for (const PacketSpec& p : packets) {
    FlowSpec& f = flows[p.flow];
    const size_t len = writer->write(f, p.flow, p, frame.data());
    if (!pcap.write(kEpoch + p.ts, frame.data(), uint32_t(len))) {
      std::fprintf(stderr, "gen_synthetic_pcap: cannot write %s: %s\n", opt.out.c_str(), std::strerror(errno));
      return 2;
    }
    bytes += len;
    max_frame = std::max<uint64_t>(max_frame, len);
    sizes[len <= 80 ? 0 : len < 100 ? 1 : len <= 600 ? 2 : len < 1400 ? 3 : 4]++;
    by_kind[int(f.kind)]++;
    ipv6 += f.ip_version == 6;
    vlan += f.encap == Encap::kVlan;
    vxlan += f.encap == Encap::kVxlan;
    fragments += f.kind == Kind::kUdpFragmented && p.dir == 1;
  }
  if (!pcap.close()) {
    std::fprintf(stderr, "gen_synthetic_pcap: cannot write %s: %s\n", opt.out.c_str(), std::strerror(errno));
    return 2;
  }

  uint64_t flows_by_kind[5] = {0, 0, 0, 0, 0};
  for (const FlowSpec& f : flows) flows_by_kind[int(f.kind)]++;
  const double n = double(packets.size());
  const uint64_t span = packets.empty() ? 0 : packets.back().ts - packets.front().ts;
  std::printf("wrote %s: %zu packets, %zu flows, %" PRIu64 " wire bytes (mean %.0f, max %" PRIu64 "), %.1f s\n",
              opt.out.c_str(), packets.size(), flows.size(), bytes, bytes / std::max(1.0, n), max_frame,
              double(span) / double(kSec));
  std::printf("frame sizes: <=80 %.1f%%, 81-99 %.1f%%, 100-600 %.1f%%, 601-1399 %.1f%%, >=1400 %.1f%%\n",
              100 * sizes[0] / n, 100 * sizes[1] / n, 100 * sizes[2] / n, 100 * sizes[3] / n, 100 * sizes[4] / n);
  static const char* kKindNames[5] = {"tcp", "dns", "udp-oneway", "icmp-echo", "udp-fragmented"};
  std::printf("flows/packets by kind:");
  for (int k = 0; k < 5; ++k) std::printf(" %s %" PRIu64 "/%" PRIu64, kKindNames[k], flows_by_kind[k], by_kind[k]);
  std::printf("\npackets: ipv6 %" PRIu64 ", vlan %" PRIu64 ", vxlan %" PRIu64 ", ipv4 fragments %" PRIu64 "\n", ipv6,
              vlan, vxlan, fragments);
  return 0;
}
