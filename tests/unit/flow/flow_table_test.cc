#include <doctest/doctest.h>

#include <vector>

#include "flow/flow_table.h"
#include "test_packets.h"

using namespace tapflow;

namespace {

struct Record {
  Flow flow;
  FlowEndReason reason;
  bool final;
};

struct CollectingSink : FlowRecordSink {
  std::vector<Record> records;
  void onFlowRecord(const Flow& flow, FlowEndReason reason, bool final) override {
    records.push_back({flow, reason, final});
  }
};

constexpr Timestamp kT0 = 1'700'000'000 * kNanosPerSecond;
constexpr Duration kMs = 1'000'000;

// A TCP segment between 10.0.0.1 (client side) and 10.0.0.2.
DecodedPacket tcp(bool from_client, uint8_t flags, uint32_t seq, uint32_t payload, Timestamp ts,
                  uint16_t client_port = 40000, uint16_t server_port = 80) {
  DecodedPacket p = packetBetween(from_client, 6, client_port, server_port, ts);
  p.tcp.flags = flags;
  p.tcp.seq = seq;
  p.tcp.window = 65535;
  p.payload_len = payload;
  p.ip_total_len = 40 + payload;
  return p;
}

void feed(FlowTable& table, const DecodedPacket& p) {
  FlowKey key;
  bool forward = makeFlowKey(p, table.vlanInKey(), key);
  table.update(p, key, forward, flowKeyHash(key), 1, p.ip_total_len);
}

using namespace tcp_flags;

}  // namespace

TEST_CASE("a closed TCP connection is one record with the SYN sender as client, emitted after the closed timeout") {
  CollectingSink sink;
  FlowTableConfig config;
  config.closed_timeout = 2 * kNanosPerSecond;
  FlowTable table(config, sink);
  feed(table, tcp(true, kSyn, 1000, 0, kT0));
  feed(table, tcp(false, kSyn | kAck, 5000, 0, kT0 + 10 * kMs));
  feed(table, tcp(true, kAck, 1001, 0, kT0 + 11 * kMs));
  feed(table, tcp(true, kAck | kPsh, 1001, 100, kT0 + 12 * kMs));
  feed(table, tcp(false, kAck | kPsh, 5001, 1000, kT0 + 20 * kMs));
  feed(table, tcp(true, kFin | kAck, 1101, 0, kT0 + 30 * kMs));
  feed(table, tcp(false, kFin | kAck, 6001, 0, kT0 + 31 * kMs));
  feed(table, tcp(true, kAck, 1102, 0, kT0 + 32 * kMs));
  CHECK(sink.records.empty());  // still absorbing the last ACKs

  table.expire(kT0 + 3 * kNanosPerSecond);
  REQUIRE(sink.records.size() == 1);
  const Record& r = sink.records[0];
  CHECK(r.reason == FlowEndReason::kFin);
  CHECK(r.final);
  CHECK(r.flow.clientDir().packets == 5);
  CHECK(r.flow.serverDir().packets == 3);
  CHECK(r.flow.clientDir().bytes == 5 * 40 + 100);
  CHECK(r.flow.serverDir().bytes == 3 * 40 + 1000);
  CHECK(r.flow.synack_ts - r.flow.syn_ts == 10 * kMs);
  CHECK(r.flow.handshake_ack_ts - r.flow.synack_ts == 1 * kMs);
  CHECK(r.flow.clientDir().tcp_flags == (kSyn | kAck | kPsh | kFin));
  CHECK(r.flow.first_ts == kT0);
  CHECK(r.flow.last_ts == kT0 + 32 * kMs);
  CHECK(table.size() == 0);
  CHECK(table.stats().ended_fin.value() == 1);
}

TEST_CASE("a reset ends the flow with reason rst") {
  CollectingSink sink;
  FlowTable table(FlowTableConfig{}, sink);
  feed(table, tcp(true, kSyn, 1, 0, kT0));
  feed(table, tcp(false, kRst | kAck, 0, 0, kT0 + kMs));
  table.flushAll(FlowEndReason::kEndOfInput);
  REQUIRE(sink.records.size() == 1);
  CHECK(sink.records[0].reason == FlowEndReason::kRst);  // keeps its own reason at the end of input
}

TEST_CASE("without a handshake the well-known port marks the server") {
  CollectingSink sink;
  FlowTable table(FlowTableConfig{}, sink);
  feed(table, tcp(false, kAck | kPsh, 5000, 10, kT0));  // first packet comes from port 80
  feed(table, tcp(true, kAck, 1000, 0, kT0 + kMs));
  table.flushAll(FlowEndReason::kEndOfInput);
  REQUIRE(sink.records.size() == 1);
  const Flow& f = sink.records[0].flow;
  CHECK(f.clientDir().packets == 1);
  CHECK(f.clientDir().bytes == 40);
  CHECK(sink.records[0].reason == FlowEndReason::kEndOfInput);
}

TEST_CASE("an idle flow ends by the idle timeout and a later packet starts a new flow") {
  CollectingSink sink;
  FlowTableConfig config;
  config.idle_timeout = 10 * kNanosPerSecond;
  FlowTable table(config, sink);
  feed(table, tcp(true, kAck, 1, 10, kT0));
  feed(table, tcp(true, kAck, 11, 10, kT0 + 11 * kNanosPerSecond));  // stale: ends the first
  REQUIRE(sink.records.size() == 1);
  CHECK(sink.records[0].reason == FlowEndReason::kIdleTimeout);
  table.expire(kT0 + 30 * kNanosPerSecond);
  REQUIRE(sink.records.size() == 2);
  CHECK(sink.records[1].reason == FlowEndReason::kIdleTimeout);
  CHECK(sink.records[1].flow.first_ts == kT0 + 11 * kNanosPerSecond);
}

TEST_CASE("a long flow gets interim records whose counters add up to the total") {
  CollectingSink sink;
  FlowTableConfig config;
  config.active_timeout = 10 * kNanosPerSecond;
  config.idle_timeout = 60 * kNanosPerSecond;
  FlowTable table(config, sink);
  for (int i = 0; i < 35; ++i) feed(table, tcp(true, kAck, 1 + 10 * i, 10, kT0 + i * kNanosPerSecond));
  table.flushAll(FlowEndReason::kEndOfInput);
  REQUIRE(sink.records.size() == 4);
  uint64_t packets = 0;
  for (size_t i = 0; i < sink.records.size(); ++i) {
    packets += sink.records[i].flow.clientDir().packets;
    CHECK(sink.records[i].flow.sequence == i);
    CHECK(sink.records[i].final == (i == 3));
  }
  CHECK(sink.records[0].reason == FlowEndReason::kActiveTimeout);
  CHECK(sink.records[0].flow.clientDir().packets == 10);
  CHECK(packets == 35);
  CHECK(table.stats().interim_records.value() == 3);
}

TEST_CASE("a full table evicts the least recently seen flow and counts it") {
  CollectingSink sink;
  FlowTableConfig config;
  config.max_flows = 4;
  FlowTable table(config, sink);
  for (uint16_t i = 0; i < 4; ++i) feed(table, tcp(true, kAck, 1, 1, kT0 + i, uint16_t(40000 + i)));
  feed(table, tcp(true, kAck, 2, 1, kT0 + 10, 40000));  // refresh the oldest
  feed(table, tcp(true, kAck, 1, 1, kT0 + 20, 50000));  // needs room
  REQUIRE(sink.records.size() == 1);
  CHECK(sink.records[0].reason == FlowEndReason::kEvicted);
  CHECK(sink.records[0].flow.key.port_lo == 40001);
  CHECK(table.size() == 4);
  CHECK(table.stats().ended_evicted.value() == 1);
}

TEST_CASE("retransmissions, late out-of-order segments and zero windows are counted per direction") {
  CollectingSink sink;
  FlowTable table(FlowTableConfig{}, sink);
  feed(table, tcp(true, kSyn, 999, 0, kT0));
  feed(table, tcp(true, kAck, 1000, 100, kT0 + 1));
  feed(table, tcp(true, kAck, 1000, 100, kT0 + 2));  // retransmission
  feed(table, tcp(true, kAck, 1200, 100, kT0 + 3));  // jumps ahead: hole 1100..1200
  feed(table, tcp(true, kAck, 1100, 100, kT0 + 4));  // fills the hole late: out of order
  DecodedPacket zero = tcp(false, kAck, 1, 0, kT0 + 5);
  zero.tcp.window = 0;
  feed(table, zero);
  table.flushAll(FlowEndReason::kEndOfInput);
  REQUIRE(sink.records.size() == 1);
  const Flow& f = sink.records[0].flow;
  CHECK(f.clientDir().retransmissions == 1);
  CHECK(f.clientDir().out_of_order == 1);
  CHECK(f.serverDir().zero_windows == 1);
  CHECK(f.serverDir().retransmissions == 0);
}

TEST_CASE("sequence numbers that wrap around are not retransmissions") {
  CollectingSink sink;
  FlowTable table(FlowTableConfig{}, sink);
  feed(table, tcp(true, kAck, 0xFFFFFF00u, 0x80, kT0));
  feed(table, tcp(true, kAck, 0xFFFFFF80u, 0x100, kT0 + 1));  // crosses 2^32
  feed(table, tcp(true, kAck, 0x00000080u, 0x10, kT0 + 2));
  table.flushAll(FlowEndReason::kEndOfInput);
  REQUIRE(sink.records.size() == 1);
  CHECK(sink.records[0].flow.clientDir().retransmissions == 0);
  CHECK(sink.records[0].flow.clientDir().out_of_order == 0);
}

TEST_CASE("a new SYN on a closing flow starts a new flow") {
  CollectingSink sink;
  FlowTable table(FlowTableConfig{}, sink);
  feed(table, tcp(true, kSyn, 1, 0, kT0));
  feed(table, tcp(true, kFin | kAck, 2, 0, kT0 + 1));
  feed(table, tcp(false, kFin | kAck, 9, 0, kT0 + 2));
  feed(table, tcp(true, kSyn, 100, 0, kT0 + 3));
  REQUIRE(sink.records.size() == 1);
  CHECK(sink.records[0].reason == FlowEndReason::kFin);
  CHECK(table.size() == 1);
}

TEST_CASE("icmp echo request and reply are one flow with the requester as client") {
  CollectingSink sink;
  FlowTable table(FlowTableConfig{}, sink);
  DecodedPacket req;
  req.ip_version = 4;
  req.ip_proto = 1;
  req.ts = kT0;
  req.src.bytes[0] = 10, req.src.bytes[3] = 9;  // the larger address asks
  req.dst.bytes[0] = 10, req.dst.bytes[3] = 1;
  req.src_port = 8;  // type
  req.ip_total_len = 84;
  DecodedPacket rep = req;
  std::swap(rep.src, rep.dst);
  rep.src_port = 0;
  rep.ts = kT0 + 1;
  feed(table, rep);  // the reply is seen first
  feed(table, req);
  table.flushAll(FlowEndReason::kEndOfInput);
  REQUIRE(sink.records.size() == 1);
  const Flow& f = sink.records[0].flow;
  CHECK(f.icmp_type == 8);
  CHECK(f.clientDir().packets == 1);
  CHECK(f.serverDir().packets == 1);
  const IpAddress& client_ip = f.client == 0 ? f.key.lo : f.key.hi;
  CHECK(client_ip == req.src);
}
