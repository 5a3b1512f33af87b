#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "capture/afpacket_source.h"
#include "capture/afxdp_source.h"
#include "capture/capture_stats.h"
#include "capture/dpdk_source.h"
#include "capture/mirror.h"
#include "export/event_output.h"
#include "export/hep_sink.h"
#include "export/kafka_sink.h"
#include "k8s/api_client.h"
#include "flow/flow_table.h"
#include "ops/metrics.h"
#include "packet/decode_stats.h"
#include "reassembly/ip_defrag_stats.h"
#include "worker/app_layer.h"
#include "worker/flow_engine.h"
#include "worker/worker.h"

using namespace tapflow;

namespace {

// `name` as docs/metrics.md writes it. (Not "`" + name + "`": GCC 12 warns
// falsely on that operator+ at -O3, its bug 105651.)
std::string quoted(const std::string& name) {
  std::string q = "`";
  q += name;
  q += '`';
  return q;
}

}  // namespace

TEST_CASE("stats counters render as Prometheus families, reasons as labels") {
  DecodeStats decode;
  decode.packets.add(7);
  decode.malformed_ipv4_header.add(2);
  MetricsWriter m;
  m.stats("decode", decode, {{"capture", "0"}});
  std::string text = m.render();
  CHECK(text.find("tapflow_decode_packets_total{capture=\"0\"} 7\n") != std::string::npos);
  CHECK(text.find("tapflow_decode_malformed_total{capture=\"0\",reason=\"ipv4_header\"} 2\n") != std::string::npos);
  // One HELP/TYPE per family even with many samples.
  size_t first = text.find("# TYPE tapflow_decode_malformed_total counter");
  REQUIRE(first != std::string::npos);
  CHECK(text.find("# TYPE tapflow_decode_malformed_total", first + 1) == std::string::npos);
}

TEST_CASE("every metric family is documented in docs/metrics.md") {
  MetricsWriter m;
  MetricLabels none;
  m.stats("capture", CaptureStats{}, none);
  m.stats("decode", DecodeStats{}, none);
  m.stats("worker", WorkerStats{}, none);
  m.stats("flow", FlowStats{}, none);
  m.stats("defrag", DefragStats{}, none);
  m.stats("engine", EngineStats{}, none);
  m.stats("output", OutputStats{}, none);
  m.stats("afxdp", AfXdpStats{}, none);
  m.stats("dpdk", DpdkPortStats{}, none);
  m.stats("dpdk_queue", DpdkQueueStats{}, none);
  m.stats("afpacket", AfPacketStats{}, none);
  m.stats("mirror", MirrorStats{}, none);
  m.stats("analyzer", AppStats{}, none);
  m.stats("tcp_reassembly", TcpReassemblyStats{}, none);
  m.stats("http", HttpStats{}, none);
  m.stats("sip", SipStats{}, none);
  m.stats("dns", DnsStats{}, none);
  m.stats("tls", TlsStats{}, none);
  m.stats("kube_watch", KubeWatchStats{}, none);
  // The sinks write their own families; a producer to a port nothing listens
  // on and a UDP socket are enough to make them.
  KafkaSinkConfig kafka;
  kafka.brokers = "127.0.0.1:1";
  KafkaSink(kafka, "kafka", false).collectMetrics(m, none);
  HepSinkConfig hep;
  hep.destinations.push_back(HepDestination{HepTransport::kUdp, "127.0.0.1", 9});
  HepSink(hep, "hep", false).collectMetrics(m, none);
  std::string text = m.render();

  std::ifstream doc(std::string(TAPFLOW_SOURCE_DIR) + "/docs/metrics.md");
  REQUIRE(doc.good());
  std::stringstream buffer;
  buffer << doc.rdbuf();
  std::string docs = buffer.str();

  std::set<std::string> families;
  std::regex type_line("# TYPE (\\S+) ");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), type_line); it != std::sregex_iterator(); ++it) {
    families.insert((*it)[1]);
  }
  CHECK(families.size() > 10);
  for (const auto& f : families) {
    CAPTURE(f);
    CHECK(docs.find(quoted(f)) != std::string::npos);
  }
  // And every reason label value, so dashboards can be built from the doc.
  std::regex reason("reason=\"([a-z0-9_]+)\"");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), reason); it != std::sregex_iterator(); ++it) {
    CAPTURE((*it)[1].str());
    CHECK(docs.find(quoted((*it)[1].str())) != std::string::npos);
  }
}
