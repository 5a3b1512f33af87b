// The worker's application layer end to end: packets through the FlowEngine
// into TCP reassembly and the analyzers, events out as JSON.
#include <doctest/doctest.h>

#include <deque>
#include <string>
#include <vector>

#include "k8s/cluster_state.h"
#include "test_packets.h"
#include "worker/app_layer.h"
#include "worker/flow_engine.h"

using namespace tapflow;

namespace {

constexpr Timestamp kT0 = 1'700'000'000 * kNanosPerSecond;
constexpr Duration kMs = 1'000'000;

struct Events : EventPublisher {
  std::vector<std::string> lines;
  std::vector<EventType> types;
  std::vector<std::string> keys;
  std::vector<std::unique_ptr<HepMessage>> hep;  // one per event, null when none
  bool wants_hep = false;
  void publish(EventType type, std::string_view key, std::string& json,
               std::unique_ptr<HepMessage> message) override {
    lines.push_back(json);
    types.push_back(type);
    keys.emplace_back(key);
    hep.push_back(std::move(message));
  }
  bool wantsHep() const override { return wants_hep; }
  const ClusterSnapshot* cluster() const override { return snapshot; }
  const ClusterSnapshot* snapshot = nullptr;  // as the worker pins one per batch
  std::vector<std::string> ofType(const std::string& type) const {
    std::vector<std::string> out;
    for (const auto& l : lines) {
      if (l.find("\"type\":\"" + type + "\"") != std::string::npos) out.push_back(l);
    }
    return out;
  }
};

struct NoRecords : FlowRecordSink {
  void onFlowRecord(const Flow&, FlowEndReason, bool) override {}
};

// Packets of TCP conversations between 10.0.0.1 and 10.0.0.2; payload bytes
// live as long as the builder.
class Conversation {
 public:
  Conversation(uint16_t client_port, uint16_t server_port) : client_port_(client_port), server_port_(server_port) {}

  void handshake(Timestamp ts) {
    add(true, tcp_flags::kSyn, "", ts);
    add(false, tcp_flags::kSyn | tcp_flags::kAck, "", ts);
    add(true, tcp_flags::kAck, "", ts);
  }
  // `data` from one side in pieces of `piece` bytes, all at `ts`.
  void send(bool from_client, const std::string& data, size_t piece, Timestamp ts) {
    for (size_t off = 0; off < data.size(); off += piece) {
      add(from_client, tcp_flags::kAck | tcp_flags::kPsh, data.substr(off, piece), ts);
    }
  }
  void close(Timestamp ts) {
    add(true, tcp_flags::kFin | tcp_flags::kAck, "", ts);
    add(false, tcp_flags::kFin | tcp_flags::kAck, "", ts);
    add(true, tcp_flags::kAck, "", ts);
  }
  const std::vector<DecodedPacket>& packets() const { return packets_; }

 private:
  void add(bool from_client, uint8_t flags, std::string payload, Timestamp ts) {
    payloads_.push_back(std::move(payload));
    const std::string& bytes = payloads_.back();
    DecodedPacket p = packetBetween(from_client, 6, client_port_, server_port_, ts);
    uint32_t& seq = from_client ? client_seq_ : server_seq_;
    const uint32_t& peer_seq = from_client ? server_seq_ : client_seq_;
    p.tcp.flags = flags;
    p.tcp.seq = seq;
    p.tcp.ack = (flags & tcp_flags::kAck) ? peer_seq : 0;
    p.tcp.window = 65535;
    p.data = reinterpret_cast<const uint8_t*>(bytes.data());
    p.payload_offset = 0;
    p.payload_len = uint32_t(bytes.size());
    p.ip_total_len = 40 + p.payload_len;
    seq += p.payload_len + ((flags & (tcp_flags::kSyn | tcp_flags::kFin)) ? 1 : 0);
    packets_.push_back(p);
  }

  uint16_t client_port_, server_port_;
  uint32_t client_seq_ = 1000, server_seq_ = 5000;
  std::deque<std::string> payloads_;
  std::vector<DecodedPacket> packets_;
};

const std::string kRequest = "GET /status?verbose=1 HTTP/1.1\r\nHost: api.example\r\nUser-Agent: probe/1\r\n\r\n";
const std::string kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nall is well";

Conversation httpExchange(uint16_t server_port, size_t piece) {
  Conversation c(40000, server_port);
  c.handshake(kT0);
  c.send(true, kRequest, piece, kT0 + 1 * kMs);
  c.send(false, kResponse, piece, kT0 + 3 * kMs);
  c.close(kT0 + 4 * kMs);
  return c;
}

// An AppLayer behind a FlowEngine, as a worker runs them, publishing into
// `events` (set its wants_hep and snapshot before feeding).
struct Analysis {
  Events events;
  NoRecords records;
  AppLayer app;
  FlowEngine engine;
  explicit Analysis(const AppLayerConfig& config = AppLayerConfig{}, const FlowTableConfig& flows = FlowTableConfig{})
      : app(config, events), engine(flows, DefragConfig{}, records, &app) {}
  // One packet at a time.
  void feed(const std::vector<DecodedPacket>& packets) {
    for (const DecodedPacket& p : packets) engine.process(&p, 1);
  }
  // End of input at `end`: every open flow ends.
  void finish(Timestamp end) { engine.finish(end, FlowEndReason::kEndOfInput); }
};

std::vector<std::string> run(const std::vector<DecodedPacket>& packets, const AppLayerConfig& config,
                             AppStats* stats_out = nullptr) {
  Analysis a(config);
  a.feed(packets);
  a.finish(packets.back().ts);
  if (stats_out) {
    stats_out->sessions.set(a.app.stats().sessions.value());
    stats_out->sessions_dropped_full.set(a.app.stats().sessions_dropped_full.value());
    stats_out->flows_http.set(a.app.stats().flows_http.value());
    stats_out->flows_unrecognized.set(a.app.stats().flows_unrecognized.value());
  }
  return a.events.lines;
}

}  // namespace

TEST_CASE("an HTTP exchange on a port no analyzer names is recognized by its first bytes") {
  AppStats stats;
  auto lines = run(httpExchange(9999, 1500).packets(), AppLayerConfig{}, &stats);
  REQUIRE(lines.size() == 1);
  const std::string& e = lines[0];
  CHECK(e.find("\"type\":\"http\"") != std::string::npos);
  CHECK(e.find("\"request\":{\"method\":\"GET\",\"body\":{\"bytes\":0}}") != std::string::npos);
  CHECK(e.find("\"response\":{\"status_code\":200,\"reason\":\"OK\",\"body\":{\"bytes\":11}}") != std::string::npos);
  CHECK(e.find("\"url\":{\"original\":\"/status?verbose=1\",\"domain\":\"api.example\"}") != std::string::npos);
  CHECK(e.find("\"source\":{\"ip\":\"10.0.0.1\",\"port\":40000},\"destination\":{\"ip\":\"10.0.0.2\",\"port\":9999}") !=
        std::string::npos);
  CHECK(e.find("\"latency_us\":2000") != std::string::npos);
  CHECK(stats.flows_http.value() == 1);
}

TEST_CASE("the same exchange in one-byte segments gives the same event, the probe bytes included") {
  const auto whole = run(httpExchange(9999, 1500).packets(), AppLayerConfig{});
  for (size_t piece : {1, 3, 7, 16, 17}) {
    CAPTURE(piece);
    CHECK(run(httpExchange(9999, piece).packets(), AppLayerConfig{}) == whole);
    CHECK(run(httpExchange(80, piece).packets(), AppLayerConfig{}) == run(httpExchange(80, 1500).packets(), AppLayerConfig{}));
  }
}

TEST_CASE("a TCP flow no analyzer recognizes gives its session back and emits nothing") {
  Conversation c(40000, 6379);
  c.handshake(kT0);
  c.send(true, "*1\r\n$4\r\nPING\r\n", 100, kT0 + kMs);
  c.send(false, "+PONG\r\n", 100, kT0 + 2 * kMs);
  c.close(kT0 + 3 * kMs);
  AppStats stats;
  CHECK(run(c.packets(), AppLayerConfig{}, &stats).empty());
  CHECK(stats.flows_unrecognized.value() == 1);
}

TEST_CASE("with every session taken, a new flow is not analyzed and the miss is counted") {
  AppLayerConfig config;
  config.max_sessions = 1;
  // Two connections interleaved: the second one's SYN finds the only session taken.
  Conversation first = httpExchange(80, 1500);
  Conversation second(40001, 80);
  second.handshake(kT0);
  second.send(true, kRequest, 1500, kT0 + 1 * kMs);
  second.send(false, kResponse, 1500, kT0 + 3 * kMs);
  std::vector<DecodedPacket> packets;
  const auto& a = first.packets();
  const auto& b = second.packets();
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size()) packets.push_back(a[i]);
    if (i < b.size()) packets.push_back(b[i]);
  }
  AppStats stats;
  auto lines = run(packets, config, &stats);
  CHECK(lines.size() == 1);
  CHECK(stats.sessions_dropped_full.value() == 1);
}

TEST_CASE("where bursts end changes no event, even when sessions run out") {
  // Ten exchanges 10 ms apart, each closed 4 ms after its start, with two
  // sessions and a 3 ms closed timeout: whether an exchange finds a session
  // depends on when the earlier flows were expired. How the capture thread
  // cut its batches (timing) must not decide it: timeouts run on packet time.
  AppLayerConfig config;
  config.max_sessions = 2;
  FlowTableConfig flows;
  flows.closed_timeout = 3 * kMs;
  std::vector<DecodedPacket> packets;
  std::vector<Conversation> exchanges;
  exchanges.reserve(10);  // packets point into their conversation's payloads: no reallocation
  for (uint16_t i = 0; i < 10; ++i) {
    const Timestamp start = kT0 + i * 10 * kMs;
    Conversation& c = exchanges.emplace_back(uint16_t(41000 + i), 80);
    c.handshake(start);
    c.send(true, kRequest, 1500, start + 1 * kMs);
    c.send(false, kResponse, 1500, start + 3 * kMs);
    c.close(start + 4 * kMs);
  }
  for (const Conversation& c : exchanges) packets.insert(packets.end(), c.packets().begin(), c.packets().end());

  auto eventsWithBursts = [&](size_t burst) {
    Analysis a(config, flows);
    for (size_t off = 0; off < packets.size(); off += burst) {
      a.engine.process(packets.data() + off, std::min(burst, packets.size() - off));
    }
    a.finish(packets.back().ts);
    return a.events.lines;
  };
  const std::vector<std::string> one_by_one = eventsWithBursts(1);
  CHECK(one_by_one.size() == 10);  // each exchange's flow ended before the next began
  for (size_t burst : {2, 7, 64, 256}) {
    CAPTURE(burst);
    CHECK(eventsWithBursts(burst) == one_by_one);
  }
}

namespace {

// A DNS query or its response for `name` (A, id `id`), as a datagram between
// 10.0.0.1:client_port and 10.0.0.2:53; bytes live in `store`.
DecodedPacket dnsDatagram(std::deque<std::string>& store, uint16_t client_port, uint16_t id, bool response,
                          Timestamp ts) {
  std::string m;
  const auto u16 = [&m](uint16_t v) { m.push_back(char(v >> 8)), m.push_back(char(v & 0xff)); };
  u16(id);
  u16(response ? 0x8180 : 0x0100);
  u16(1), u16(response ? 1 : 0), u16(0), u16(0);
  const std::string qname("\x07" "example\x03" "com\x00", 13);
  m += qname;
  u16(1), u16(1);
  if (response) {
    u16(0xc00c), u16(1), u16(1), u16(0), u16(60), u16(4);
    m += std::string("\xc0\x00\x02\x01", 4);
  }
  store.push_back(m);
  DecodedPacket p = packetBetween(!response, 17, client_port, 53, ts);
  p.data = reinterpret_cast<const uint8_t*>(store.back().data());
  p.payload_offset = 0;
  p.payload_len = uint32_t(store.back().size());
  p.ip_total_len = 28 + p.payload_len;
  return p;
}

}  // namespace

TEST_CASE("a UDP DNS flow holds a session only while a query awaits its answer") {
  // One session for three resolver flows that stay open (no idle timeout
  // passes): each exchange must find it free again, and a flow's second
  // exchange must not count the flow twice.
  AppLayerConfig config;
  config.max_sessions = 1;
  std::deque<std::string> store;
  std::vector<DecodedPacket> packets;
  Timestamp t = kT0;
  for (uint16_t port : {41000, 41001, 41002, 41000}) {
    packets.push_back(dnsDatagram(store, port, port, false, t += kMs));
    packets.push_back(dnsDatagram(store, port, port, true, t += kMs));
  }
  // Two queries in flight at once: the second flow finds no session, is
  // counted, and is not analyzed.
  packets.push_back(dnsDatagram(store, 41003, 7, false, t += kMs));
  packets.push_back(dnsDatagram(store, 41004, 8, false, t += kMs));
  packets.push_back(dnsDatagram(store, 41003, 7, true, t += kMs));
  packets.push_back(dnsDatagram(store, 41004, 8, true, t += kMs));
  Analysis a(config);
  a.feed(packets);
  a.finish(t);
  const auto dns = a.events.ofType("dns");
  CHECK(dns.size() == 5);
  for (const auto& line : dns) CHECK(line.find("\"response_code\":\"NOERROR\"") != std::string::npos);
  CHECK(a.app.stats().flows_dns.value() == 4);  // 41000..41003; 41004 found none free
  CHECK(a.app.stats().sessions.value() == 4);
  CHECK(a.app.stats().sessions_dropped_full.value() == 1);
  CHECK(a.app.dnsStats().unanswered.value() == 0);
  CHECK(a.app.dnsStats().transactions.value() == 5);
}

TEST_CASE("a request still unanswered when the input ends is reported without a response") {
  Conversation c(40000, 80);
  c.handshake(kT0);
  c.send(true, kRequest, 1500, kT0 + kMs);
  auto lines = run(c.packets(), AppLayerConfig{});
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("\"method\":\"GET\"") != std::string::npos);
  CHECK(lines[0].find("\"response\"") == std::string::npos);
}

TEST_CASE("analyzer events carry the community id of their flow") {
  auto lines = run(httpExchange(80, 1500).packets(), AppLayerConfig{});
  REQUIRE(lines.size() == 1);
  // 10.0.0.1:40000 -> 10.0.0.2:80 over TCP, seed 0 (checked with the spec's reference code).
  FlowKey key;
  DecodedPacket p = httpExchange(80, 1500).packets()[0];
  makeFlowKey(p, true, key);
  char id[kCommunityIdLength + 1];
  communityId(key, id);
  CHECK(lines[0].find(std::string("\"community_id\":\"") + id + "\"") != std::string::npos);
}

namespace {

const std::string kInvite =
    "INVITE sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:40001;branch=z9hG4bK1\r\n"
    "From: <sip:alice@10.0.0.1>;tag=a1\r\nTo: <sip:bob@10.0.0.2>\r\nCall-ID: call-77@10.0.0.1\r\n"
    "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
const std::string kRinging =
    "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/TCP 10.0.0.1:40001;branch=z9hG4bK1\r\n"
    "From: <sip:alice@10.0.0.1>;tag=a1\r\nTo: <sip:bob@10.0.0.2>;tag=b1\r\nCall-ID: call-77@10.0.0.1\r\n"
    "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

}  // namespace

TEST_CASE("SIP over TCP reaches HEP one whole message at a time, addressed from its sender") {
  Conversation c(40001, 5060);
  c.handshake(kT0);
  c.send(true, kInvite, 7, kT0 + 1 * kMs);  // the INVITE in 7-byte segments
  c.send(false, kRinging, 1500, kT0 + 2 * kMs);
  Analysis a;
  a.events.wants_hep = true;
  a.feed(c.packets());
  a.finish(kT0 + 3 * kMs);
  const Events& events = a.events;

  FlowKey key;
  makeFlowKey(c.packets()[0], true, key);
  char id[kCommunityIdLength + 1];
  communityId(key, id);
  std::vector<const HepMessage*> messages;
  for (size_t i = 0; i < events.lines.size(); ++i) {
    if (events.types[i] != EventType::kSip) continue;
    CHECK(events.keys[i] == id);
    REQUIRE(events.hep[i] != nullptr);
    messages.push_back(events.hep[i].get());
  }
  REQUIRE(messages.size() == 2);
  const HepMessage& invite = *messages[0];
  CHECK(invite.proto_type == 1);
  CHECK(invite.ip_version == 4);
  CHECK(invite.ip_proto == 6);
  CHECK(invite.src_ip == c.packets()[0].src);
  CHECK(invite.dst_ip == c.packets()[0].dst);
  CHECK(invite.src_port == 40001);
  CHECK(invite.dst_port == 5060);
  CHECK(invite.ts == kT0 + 1 * kMs);
  CHECK(invite.correlation_id == "call-77@10.0.0.1");
  CHECK(invite.payload == kInvite);
  const HepMessage& ringing = *messages[1];
  CHECK(ringing.src_port == 5060);
  CHECK(ringing.dst_port == 40001);
  CHECK(ringing.src_ip == c.packets()[0].dst);
  CHECK(ringing.payload == kRinging);
}

TEST_CASE("no raw message is copied when no output forwards HEP") {
  Conversation c(40001, 5060);
  c.handshake(kT0);
  c.send(true, kInvite, 1500, kT0 + 1 * kMs);
  Analysis a;  // wants_hep stays false
  a.feed(c.packets());
  a.finish(kT0 + 3 * kMs);
  const Events& events = a.events;
  size_t sip = 0;
  for (size_t i = 0; i < events.lines.size(); ++i) {
    if (events.types[i] == EventType::kSip) ++sip;
    CHECK(events.hep[i] == nullptr);
  }
  CHECK(sip == 1);
}

namespace {

KubeIp kubeIp(const char* text) {
  auto parsed = parseKubeIp(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

// 10.0.0.1 is the pod shop/alice-0; 10.0.0.2 is pbx-0 in voip when
// `server_is_pod`, else a host-network pod on node-b, whose address is the node's.
std::shared_ptr<const ClusterSnapshot> sipCluster(bool server_is_pod) {
  KubeCaches c;
  PodObject alice;
  alice.ns = "shop", alice.name = "alice-0", alice.uid = "u1", alice.node_name = "node-a", alice.phase = "Running";
  alice.ips = {kubeIp("10.0.0.1")};
  c.pods["shop/alice-0"] = alice;
  PodObject pbx = alice;
  pbx.ns = "voip", pbx.name = "pbx-0", pbx.uid = "u2", pbx.node_name = "node-b", pbx.ips = {kubeIp("10.0.0.2")};
  pbx.host_network = !server_is_pod;
  c.pods["voip/pbx-0"] = pbx;
  c.nodes["node-b"] = {"node-b", {kubeIp("10.0.0.2")}, {}};
  return ClusterSnapshot::build(c, SnapshotOptions{}, 1);
}

// The HEP messages of an INVITE (client to server) and its 180 over TCP, with
// `cluster` pinned the way the worker pins it (nullptr: Kubernetes off).
std::vector<std::unique_ptr<HepMessage>> sipHep(const ClusterSnapshot* cluster) {
  Conversation c(40001, 5060);
  c.handshake(kT0);
  c.send(true, kInvite, 1500, kT0 + 1 * kMs);
  c.send(false, kRinging, 1500, kT0 + 2 * kMs);
  Analysis a;
  a.events.wants_hep = true;
  a.events.snapshot = cluster;
  a.feed(c.packets());
  std::vector<std::unique_ptr<HepMessage>> out;
  for (size_t i = 0; i < a.events.lines.size(); ++i) {
    if (a.events.types[i] == EventType::kSip) out.push_back(std::move(a.events.hep[i]));
  }
  return out;
}

}  // namespace

TEST_CASE("HEP messages name the pods of both ends, each from its own sender's point of view") {
  const auto cluster = sipCluster(true);
  const auto messages = sipHep(cluster.get());
  REQUIRE(messages.size() == 2);
  REQUIRE(messages[0] != nullptr);
  REQUIRE(messages[1] != nullptr);
  CHECK(messages[0]->payload == kInvite);
  CHECK(messages[0]->src_pod == "shop/alice-0");
  CHECK(messages[0]->dst_pod == "voip/pbx-0");
  CHECK(messages[1]->payload == kRinging);
  CHECK(messages[1]->src_pod == "voip/pbx-0");
  CHECK(messages[1]->dst_pod == "shop/alice-0");
}

TEST_CASE("a host-network pod's end resolves to its node and names no pod in HEP") {
  const auto cluster = sipCluster(false);
  CHECK(cluster->lookup(kubeIp("10.0.0.2")).kind == IpIdentity::Kind::kNode);
  const auto messages = sipHep(cluster.get());
  REQUIRE(messages.size() == 2);
  CHECK(messages[0]->src_pod == "shop/alice-0");
  CHECK(messages[0]->dst_pod.empty());
  CHECK(messages[1]->src_pod.empty());
  CHECK(messages[1]->dst_pod == "shop/alice-0");
}

TEST_CASE("without Kubernetes HEP messages carry no pod") {
  const auto messages = sipHep(nullptr);
  REQUIRE(messages.size() == 2);
  for (const auto& m : messages) {
    REQUIRE(m != nullptr);
    CHECK(m->src_pod.empty());
    CHECK(m->dst_pod.empty());
  }
}
