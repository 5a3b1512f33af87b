#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <set>
#include <vector>

#include "export/event_output.h"
#include "memory_sink.h"
#include "worker/handoff.h"

using namespace tapflow;

namespace {

DecodedPacket udp(uint8_t a, uint8_t b, uint16_t sport, uint16_t dport, Timestamp ts, const uint8_t* bytes) {
  DecodedPacket p;
  p.data = bytes;
  p.cap_len = p.wire_len = 60;
  p.ip_version = 4;
  p.ip_proto = 17;
  p.src.bytes[0] = 10, p.src.bytes[3] = a;
  p.dst.bytes[0] = 10, p.dst.bytes[3] = b;
  p.src_port = sport;
  p.dst_port = dport;
  p.ip_total_len = 46;
  p.ts = ts;
  return p;
}

std::multiset<std::string> runWith(uint32_t worker_count, const std::vector<DecodedPacket>& packets,
                                   bool in_place = false) {
  std::vector<std::string> lines;
  EventOutput output("memory", std::make_unique<MemorySink>(&lines), 1 << 16, FullQueuePolicy::kWait);
  output.start();
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Worker*> ptrs;
  for (uint32_t i = 0; i < worker_count; ++i) {
    workers.push_back(std::make_unique<Worker>(i, FlowTableConfig{}, DefragConfig{}, nullptr, std::vector<EventOutput*>{&output}, 64));
    ptrs.push_back(workers.back().get());
    workers.back()->start(-1);
  }
  HandoffConfig hc;
  hc.batches_per_worker = 4;
  hc.batch_packets = 8;
  hc.batch_bytes = 4096;
  hc.wait_when_full = true;
  Handoff handoff(hc, ptrs);
  for (const auto& p : packets) CHECK((in_place ? handoff.pushInPlace(p) : handoff.push(p)));
  handoff.flushAll();
  for (auto& w : workers) w->finishInput(packets.back().ts, FlowEndReason::kEndOfInput);
  for (auto& w : workers) w->join();
  output.stop();
  return {lines.begin(), lines.end()};
}

}  // namespace

TEST_CASE("the flow records are the same with one worker and with several") {
  static uint8_t bytes[60] = {};
  std::vector<DecodedPacket> packets;
  for (int i = 0; i < 2000; ++i) {
    uint8_t a = uint8_t(1 + i % 37), b = uint8_t(100 + i % 11);
    bool reply = i % 3 == 0;
    packets.push_back(reply ? udp(b, a, 53, uint16_t(1000 + i % 50), 1000 + i, bytes)
                            : udp(a, b, uint16_t(1000 + i % 50), 53, 1000 + i, bytes));
  }
  auto one = runWith(1, packets);
  auto three = runWith(3, packets);
  CHECK(one.size() > 100);
  CHECK(one == three);
  // Handed over in place (a mapped file), nothing changes either.
  CHECK(runWith(1, packets, true) == one);
  CHECK(runWith(3, packets, true) == one);
}

TEST_CASE("a live hand-off with no free batch drops and counts instead of waiting") {
  static uint8_t bytes[60] = {};
  std::vector<std::string> lines;
  EventOutput output("memory", std::make_unique<MemorySink>(&lines), 16, FullQueuePolicy::kDrop);
  Worker worker(0, FlowTableConfig{}, DefragConfig{}, nullptr, {&output}, 8);  // never started: nothing drains
  HandoffConfig hc;
  hc.batches_per_worker = 2;
  hc.batch_packets = 4;
  hc.batch_bytes = 1024;
  Handoff handoff(hc, {&worker});
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += handoff.push(udp(1, 2, 3, 4, i, bytes)) ? 1 : 0;
  CHECK(accepted == 8);  // two batches of four
  CHECK(handoff.drops(0) == 12);
  worker.finishInput(0, FlowEndReason::kShutdown);
}

TEST_CASE("while the batch pool runs low, one-packet bursts share a batch instead of using one each") {
  static uint8_t bytes[60] = {};
  std::vector<std::string> lines;
  EventOutput output("memory", std::make_unique<MemorySink>(&lines), 16, FullQueuePolicy::kDrop);
  Worker worker(0, FlowTableConfig{}, DefragConfig{}, nullptr, {&output}, 8);  // stalled: never started
  HandoffConfig hc;
  hc.batches_per_worker = 4;
  hc.batch_packets = 64;
  hc.batch_bytes = 64 * 60;
  Handoff handoff(hc, {&worker});
  for (int i = 0; i < 40; ++i) {
    handoff.push(udp(1, 2, 3, 4, i, bytes));
    handoff.flush();  // a live source flushes at the end of every burst
  }
  // Two batches go out with one packet each; from then on the pool is low and
  // batches leave a quarter full (16 packets): 2 + 16 + 16 accepted.
  CHECK(handoff.drops(0) == 6);
  worker.finishInput(0, FlowEndReason::kShutdown);
}
