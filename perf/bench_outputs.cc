// The output benchmark: how many events a second tapflow's Kafka and HEP
// outputs take, side by side with the ceiling under them in the same run, so
// the figure says how much tapflow itself costs on top of librdkafka and the
// kernel.
//
// Usage: bench_outputs [--events N] [--runs N] [--only kafka,hep] [--mock PATH]
//                      [--brokers N] [--property NAME=VALUE]...
//
//   kafka tapflow     per event, what a worker and the Kafka output do for a
//                     flow record: encodeFlowEvent() (a SHA-1 for the Community ID) into a
//                     reused string, the Event copied out (as Worker::publish
//                     does), then KafkaSink::write() (offline: a full queue
//                     waits, nothing is dropped); then KafkaSink::close(), which
//                     flushes until every message is acknowledged
//   kafka librdkafka  librdkafka's own producer on the same events encoded
//                     beforehand (same bytes, keys and topic handles, same
//                     properties: tapflow's defaults enable.idempotence=true,
//                     queue.buffering.max.messages=100000, plus --property):
//                     rd_kafka_produce() + rd_kafka_poll(rk, 0) per message, as
//                     rdkafka_performance does, then rd_kafka_flush()
//   (encode alone)    the first row's worker share without Kafka: where the
//                     difference between the two goes
//   hep tapflow       HepSink::write() of SIP messages over UDP (HEP v3 encoding
//                     + send) to a bound 127.0.0.1 socket nobody reads
//   hep send()        send() of the same datagrams, encoded beforehand with
//                     encodeHep3(): the kernel's ceiling
// Both sides of a pair take the same --events N; the sides alternate, --runs
// times each (default 3), and the median run is reported. Each Kafka run gets
// a fresh mock cluster (librdkafka's rdkafka_mock): with --mock PATH, the
// kafka_mock_cluster program of the integration tests as a separate process,
// so this process's CPU time is the producer's alone; without it, a cluster
// inside this process. "CPU s" is this process's user + system time during
// the run (every thread: librdkafka's included); events per CPU-second is the
// per-core figure.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "export/event.h"
#include "export/flow_event.h"
#include "export/hep_encoder.h"
#include "export/hep_sink.h"
#include "export/kafka_sink.h"
#include "flow/flow.h"
#include "flow/flow_key.h"

namespace {

using namespace tapflow;

struct Options {
  uint64_t events = 200000;
  int runs = 3;
  bool kafka = true;
  bool hep = true;
  std::string mock_path;  // "": a mock cluster in this process
  int brokers = 3;
  std::vector<std::pair<std::string, std::string>> properties;
};

// -------------------------------------------------------------- measuring

double processCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

struct Run {
  double wall_s = 0;
  double cpu_s = 0;
  uint64_t done = 0;    // delivered (Kafka) or sent (HEP)
  uint64_t failed = 0;  // anything else
};

class Stopwatch {
 public:
  Stopwatch() : wall_(std::chrono::steady_clock::now()), cpu_(processCpuSeconds()) {}
  void stop(Run& run) const {
    run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
    run.cpu_s = processCpuSeconds() - cpu_;
  }

 private:
  std::chrono::steady_clock::time_point wall_;
  double cpu_;
};

struct Row {
  std::string key;    // for the RESULT line
  std::string label;
  std::vector<Run> runs;
  double mean_bytes = 0;
  int ceiling = -1;   // index of the row this one is compared with

  const Run& median() const {
    std::vector<const Run*> sorted;
    for (const Run& r : runs) sorted.push_back(&r);
    std::sort(sorted.begin(), sorted.end(), [](const Run* a, const Run* b) { return a->wall_s < b->wall_s; });
    return *sorted[sorted.size() / 2];
  }
};

// ---------------------------------------------------------- the mock cluster

// One fresh mock cluster: in this process, or kafka_mock_cluster as a child
// (its first stdout line is the bootstrap list; closing its stdin ends it).
class MockCluster {
 public:
  MockCluster(const Options& opt) {
    if (opt.mock_path.empty()) {
      char error[256];
      rd_kafka_conf_t* conf = rd_kafka_conf_new();
      rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
      host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
      if (host_ == nullptr) throw std::runtime_error(std::string("mock cluster host: ") + error);
      cluster_ = rd_kafka_mock_cluster_new(host_, opt.brokers);
      if (cluster_ == nullptr) throw std::runtime_error("rd_kafka_mock_cluster_new failed");
      bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
      return;
    }
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      close(to_child[0]);
      close(to_child[1]);
      close(from_child[0]);
      close(from_child[1]);
      const std::string brokers = std::to_string(opt.brokers);
      execl(opt.mock_path.c_str(), opt.mock_path.c_str(), "--brokers", brokers.c_str(), static_cast<char*>(nullptr));
      std::perror(opt.mock_path.c_str());
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    stdin_fd_ = to_child[1];
    char c;
    while (read(from_child[0], &c, 1) == 1 && c != '\n') bootstrap_ += c;
    close(from_child[0]);  // the child answers nothing more we wait for
    if (bootstrap_.empty()) {
      stop();
      throw std::runtime_error("kafka_mock_cluster printed no bootstrap list: " + opt.mock_path);
    }
  }
  ~MockCluster() { stop(); }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }

 private:
  void stop() {
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (host_ != nullptr) rd_kafka_destroy(host_);
    cluster_ = nullptr;
    host_ = nullptr;
    if (pid_ > 0) {
      close(stdin_fd_);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::string bootstrap_;
};

// ---------------------------------------------------------------- events

// Flow record i: a deterministic mix of IPv4 and IPv6, TCP and UDP, with
// realistic counters, so the JSON has the sizes real flow events have.
void fillFlow(Flow& f, uint64_t i) {
  f = Flow{};
  const bool v6 = i % 8 == 7;
  const bool udp = i % 4 == 3;
  f.key.ip_version = v6 ? 6 : 4;
  f.key.proto = udp ? 17 : 6;
  if (v6) {
    const uint8_t lo[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8),
                            uint8_t(i)};
    const uint8_t hi[16] = {0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, uint8_t(i >> 4), 1};
    std::memcpy(f.key.lo.bytes, lo, 16);
    std::memcpy(f.key.hi.bytes, hi, 16);
  } else {
    const uint8_t lo[4] = {10, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
    const uint8_t hi[4] = {10, 200, uint8_t(i >> 12), uint8_t(1 + i % 250)};
    std::memcpy(f.key.lo.bytes, lo, 4);
    std::memcpy(f.key.hi.bytes, hi, 4);
  }
  f.key.port_lo = uint16_t(32768 + i % 28000);
  f.key.port_hi = udp ? 53 : (i % 3 ? 443 : 80);
  f.hash = flowKeyHash(f.key);
  f.client = 0;
  f.client_from_syn = !udp;
  const Timestamp start = Timestamp(1767225600) * kNanosPerSecond + Timestamp(i) * 1'000'000;
  f.first_ts = f.record_start = start;
  f.last_ts = start + Timestamp(1 + i % 900) * 1'000'000;
  FlowDirection& c = f.dir[0];
  FlowDirection& s = f.dir[1];
  c.packets = 2 + i % 40;
  c.bytes = c.packets * (60 + i % 500);
  s.packets = 1 + i % 60;
  s.bytes = s.packets * (52 + i % 1400);
  if (!udp) {
    c.tcp_flags = 0x1b;  // FIN SYN PSH ACK
    s.tcp_flags = 0x1b;
    c.retransmissions = uint32_t(i % 17 == 0);
    f.syn_ts = start;
    f.synack_ts = start + 180'000;
    f.handshake_ack_ts = start + 240'000;
  }
}

FlowEndReason reasonOf(uint64_t i) { return i % 4 == 3 ? FlowEndReason::kIdleTimeout : FlowEndReason::kFin; }

// What a worker publishes for flow record i (Worker::onFlowRecord + publish).
std::shared_ptr<Event> flowEvent(Flow& flow, uint64_t i, std::string& json) {
  fillFlow(flow, i);
  json.clear();
  encodeFlowEvent(flow, reasonOf(i), true, json);
  auto event = std::make_shared<Event>();
  event->type = EventType::kFlow;
  event->json = json;
  event->key = communityIdOf(flow);
  return event;
}

// SIP message j of the HEP runs: an INVITE of a few hundred bytes.
HepMessage sipMessage(uint64_t j) {
  HepMessage m;
  m.proto_type = 1;
  m.ip_version = 4;
  m.ip_proto = 17;
  const uint8_t src[4] = {10, 30, uint8_t(j >> 8), uint8_t(1 + j % 250)};
  const uint8_t dst[4] = {10, 40, 0, 1};
  std::memcpy(m.src_ip.bytes, src, 4);
  std::memcpy(m.dst_ip.bytes, dst, 4);
  m.src_port = m.dst_port = 5060;
  m.ts = Timestamp(1767225600) * kNanosPerSecond + Timestamp(j) * 20'000'000;
  char call_id[64];
  std::snprintf(call_id, sizeof call_id, "%016" PRIx64 "@10.30.0.1", uint64_t(j * 0x9E3779B97F4A7C15ull));
  m.correlation_id = call_id;
  const std::string body = "v=0\r\no=alice 2890844526 2890844526 IN IP4 10.30.0.1\r\ns=Talk\r\nc=IN IP4 10.30.0.1\r\n"
                           "t=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
                           "a=rtpmap:101 telephone-event/8000\r\n" +
                           std::string(j % 64, 'a') + "\r\n";
  m.payload = "INVITE sip:+14445550100@10.40.0.1 SIP/2.0\r\n"
              "Via: SIP/2.0/UDP 10.30.0.1:5060;branch=z9hG4bK" + std::to_string(j) + ";rport\r\n"
              "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:+15555550100@10.30.0.1>;tag=" + std::to_string(j * 7) + "\r\n"
              "To: <sip:+14445550100@10.40.0.1>\r\nCall-ID: " + m.correlation_id + "\r\nCSeq: 1 INVITE\r\n"
              "Contact: <sip:+15555550100@10.30.0.1:5060>\r\nUser-Agent: Linphone/5.2.0\r\n"
              "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return m;
}

// ------------------------------------------------------------------- Kafka

KafkaSinkConfig sinkConfig(const Options& opt, const std::string& bootstrap) {
  KafkaSinkConfig config;
  config.brokers = bootstrap;
  config.topic_prefix = "bench.";
  config.properties = opt.properties;
  return config;
}

Run kafkaTapflow(const Options& opt, double& mean_bytes) {
  MockCluster cluster(opt);
  KafkaSink sink(sinkConfig(opt, cluster.bootstrap()), "bench", /*offline=*/true);
  Flow flow;
  std::string json;
  json.reserve(2048);
  uint64_t bytes = 0;
  Run run;
  Stopwatch watch;
  for (uint64_t i = 0; i < opt.events; ++i) {
    auto event = flowEvent(flow, i, json);
    bytes += event->json.size();
    sink.write(*event);
  }
  sink.flush();
  sink.close(EventSink::kWaitForever);
  watch.stop(run);
  const KafkaSinkStats& s = sink.stats();
  run.done = s.delivered.value();
  run.failed = s.failed.value() + s.dropped();
  mean_bytes = double(bytes) / double(opt.events);
  return run;
}

void onBaselineDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* run = static_cast<Run*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++run->done;
  } else {
    ++run->failed;
  }
}

Run kafkaBaseline(const Options& opt, const std::vector<std::string>& payloads, const std::vector<std::string>& keys) {
  MockCluster cluster(opt);
  Run run;
  const KafkaSinkConfig like = sinkConfig(opt, cluster.bootstrap());
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& name, const std::string& value) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      throw std::runtime_error("librdkafka property " + name + ": " + error);
    }
  };
  // KafkaSink's defaults, then the same user properties.
  set("bootstrap.servers", like.brokers);
  set("client.id", "tapflow");
  set("enable.idempotence", "true");
  set("queue.buffering.max.messages", std::to_string(like.queue_messages));
  for (const auto& [name, value] : like.properties) set(name, value);
  rd_kafka_conf_set_opaque(conf, &run);
  rd_kafka_conf_set_dr_msg_cb(conf, &onBaselineDelivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (rk == nullptr) throw std::runtime_error(std::string("rd_kafka_new: ") + error);
  // The same topic handles as the sink (one per distinct topic name).
  std::vector<rd_kafka_topic_t*> topics;
  std::vector<std::string> names;
  for (const std::string& t : like.topics) {
    if (std::find(names.begin(), names.end(), like.topic_prefix + t) != names.end()) continue;
    names.push_back(like.topic_prefix + t);
    topics.push_back(rd_kafka_topic_new(rk, names.back().c_str(), nullptr));
  }
  rd_kafka_topic_t* flows = topics[0];
  uint64_t refused = 0;
  Stopwatch watch;
  for (size_t i = 0; i < payloads.size(); ++i) {
    const std::string& p = payloads[i];
    const std::string& k = keys[i];
    while (rd_kafka_produce(flows, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(p.data()), p.size(),
                            k.data(), k.size(), nullptr) != 0) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        ++refused;
        break;
      }
      rd_kafka_poll(rk, 1);
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, -1);
  watch.stop(run);
  run.failed += refused;
  for (rd_kafka_topic_t* t : topics) rd_kafka_topic_destroy(t);
  rd_kafka_destroy(rk);
  return run;
}

// --------------------------------------------------------------------- HEP

// A UDP socket bound to 127.0.0.1 that nobody reads (the kernel drops what
// its buffer cannot hold, on the receiving side: the sender never waits).
class UdpSink {
 public:
  UdpSink() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error(std::string("UDP receiver: ") + std::strerror(errno));
    }
    port_ = ntohs(a.sin_port);
  }
  ~UdpSink() { close(fd_); }
  UdpSink(const UdpSink&) = delete;
  UdpSink& operator=(const UdpSink&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

constexpr size_t kHepDistinct = 4096;  // distinct SIP messages, cycled

HepIdentity benchIdentity() {
  HepIdentity id;
  id.agent_id = 2001;
  id.node_name = "bench-node-1";
  return id;
}

Run hepTapflow(const Options& opt, const std::vector<std::shared_ptr<Event>>& events) {
  UdpSink receiver;
  HepSinkConfig config;
  config.destinations.push_back(HepDestination{HepTransport::kUdp, "127.0.0.1", receiver.port()});
  config.identity = benchIdentity();
  HepSink sink(config, "bench-hep", /*offline=*/true);
  Run run;
  Stopwatch watch;
  for (uint64_t i = 0; i < opt.events; ++i) sink.write(*events[i % events.size()]);
  sink.flush();
  sink.close(EventSink::kWaitForever);
  watch.stop(run);
  run.done = sink.stats(0).sent.value();
  run.failed = sink.stats(0).dropped();
  return run;
}

Run hepBaseline(const Options& opt, const std::vector<std::string>& datagrams) {
  UdpSink receiver;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(receiver.port());
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    throw std::runtime_error(std::string("UDP sender: ") + std::strerror(errno));
  }
  Run run;
  Stopwatch watch;
  for (uint64_t i = 0; i < opt.events; ++i) {
    const std::string& d = datagrams[i % datagrams.size()];
    if (send(fd, d.data(), d.size(), 0) == ssize_t(d.size())) {
      ++run.done;
    } else {
      ++run.failed;
    }
  }
  watch.stop(run);
  close(fd);
  return run;
}

// ------------------------------------------------------------------ report

void printTable(const std::vector<Row>& rows, const Options& opt) {
  std::printf("\n| what | events | median s | events/s | CPU s | events per CPU-s | not done | vs ceiling (events/s) "
              "| vs ceiling (per CPU-s) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& r : rows) {
    const Run& m = r.median();
    char vs_wall[32] = "-", vs_cpu[32] = "-";
    if (r.ceiling >= 0) {
      const Run& ceiling = rows[size_t(r.ceiling)].median();
      std::snprintf(vs_wall, sizeof vs_wall, "%.2f", ceiling.wall_s / m.wall_s);
      std::snprintf(vs_cpu, sizeof vs_cpu, "%.2f", ceiling.cpu_s / m.cpu_s);
    }
    std::printf("| %s | %" PRIu64 " | %.3f | %.0f | %.3f | %.0f | %" PRIu64 " | %s | %s |\n", r.label.c_str(),
                opt.events, m.wall_s, double(opt.events) / m.wall_s, m.cpu_s, double(opt.events) / m.cpu_s,
                opt.events - m.done, vs_wall, vs_cpu);
  }
  std::printf("\n");
  for (const Row& r : rows) {
    const Run& m = r.median();
    std::printf("RESULT %s events=%" PRIu64 " mean_bytes=%.0f median_s=%.6f events_per_s=%.0f cpu_s=%.6f "
                "events_per_cpu_s=%.0f done=%" PRIu64 " failed=%" PRIu64 " runs_s=",
                r.key.c_str(), opt.events, r.mean_bytes, m.wall_s, double(opt.events) / m.wall_s, m.cpu_s,
                double(opt.events) / m.cpu_s, m.done, m.failed);
    for (size_t k = 0; k < r.runs.size(); ++k) std::printf("%s%.3f", k ? "," : "", r.runs[k].wall_s);
    std::printf("\n");
  }
  for (const Row& r : rows) {
    if (r.ceiling < 0) continue;
    const Row& c = rows[size_t(r.ceiling)];
    std::printf("RATIO %s/%s events_per_s=%.3f events_per_cpu_s=%.3f\n", r.key.c_str(), c.key.c_str(),
                c.median().wall_s / r.median().wall_s, c.median().cpu_s / r.median().cpu_s);
  }
}

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: bench_outputs [--events N] [--runs N] [--only kafka,hep] [--mock PATH] [--brokers N]\n"
               "                     [--property NAME=VALUE]...\n");
  std::exit(code);
}

uint64_t number(const char* flag, const char* v) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(v, &end, 10);
  if (*v == '\0' || *end != '\0' || n == 0) {
    std::fprintf(stderr, "bench_outputs: %s needs a positive number, got '%s'\n", flag, v);
    usage(1);
  }
  return n;
}

Options parseOptions(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(0);
    if (i + 1 >= argc) usage(1);
    const char* v = argv[++i];
    if (a == "--events") {
      opt.events = number("--events", v);
    } else if (a == "--runs") {
      opt.runs = int(std::min<uint64_t>(number("--runs", v), 100));
    } else if (a == "--brokers") {
      opt.brokers = int(std::min<uint64_t>(number("--brokers", v), 16));
    } else if (a == "--mock") {
      opt.mock_path = v;
    } else if (a == "--only") {
      const std::string list = std::string(",") + v + ",";
      opt.kafka = list.find(",kafka,") != std::string::npos;
      opt.hep = list.find(",hep,") != std::string::npos;
      if (!opt.kafka && !opt.hep) usage(1);
    } else if (a == "--property") {
      const std::string kv = v;
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) usage(1);
      opt.properties.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else {
      usage(1);
    }
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parseOptions(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  std::printf("bench_outputs: %" PRIu64 " events per run, %d runs per side (median kept), mock cluster: %s, %d brokers\n",
              opt.events, opt.runs, opt.mock_path.empty() ? "in this process" : opt.mock_path.c_str(), opt.brokers);
  std::vector<Row> rows;
  try {
    if (opt.kafka) {
      // The baseline's messages: the very bytes and keys the sink side produces.
      std::vector<std::string> payloads, keys;
      payloads.reserve(opt.events);
      keys.reserve(opt.events);
      Flow flow;
      std::string json;
      for (uint64_t i = 0; i < opt.events; ++i) {
        auto event = flowEvent(flow, i, json);
        payloads.push_back(event->json);
        keys.push_back(event->key);
      }
      Row tap{"kafka_tapflow", "Kafka: flow JSON + KafkaSink::write, to flush", {}, 0, int(rows.size()) + 1};
      Row base{"kafka_librdkafka", "Kafka: librdkafka rd_kafka_produce loop, to flush", {}, 0};
      // Where the difference goes: the worker's share alone (no Kafka).
      Row encode{"kafka_encode_only", "(Kafka: the flow JSON + Event alone, no produce)", {}, 0};
      for (int r = 0; r < opt.runs; ++r) {
        Run run;
        uint64_t bytes = 0;
        Stopwatch watch;
        for (uint64_t i = 0; i < opt.events; ++i) bytes += flowEvent(flow, i, json)->json.size();
        watch.stop(run);
        run.done = opt.events;
        encode.mean_bytes = double(bytes) / double(opt.events);
        encode.runs.push_back(run);
        tap.runs.push_back(kafkaTapflow(opt, tap.mean_bytes));
        base.runs.push_back(kafkaBaseline(opt, payloads, keys));
        base.mean_bytes = tap.mean_bytes;
        std::fprintf(stderr, "kafka run %d: tapflow %.3f s (%" PRIu64 " delivered), librdkafka %.3f s (%" PRIu64
                             " delivered)\n",
                     r + 1, tap.runs.back().wall_s, tap.runs.back().done, base.runs.back().wall_s,
                     base.runs.back().done);
      }
      rows.push_back(std::move(tap));
      rows.push_back(std::move(base));
      rows.push_back(std::move(encode));
    }
    if (opt.hep) {
      std::vector<std::shared_ptr<Event>> events;
      std::vector<std::string> datagrams;
      const HepIdentity identity = benchIdentity();
      double bytes = 0;
      for (uint64_t j = 0; j < kHepDistinct; ++j) {
        auto event = std::make_shared<Event>();
        event->type = EventType::kSip;
        event->json = "{}";
        event->hep = std::make_unique<HepMessage>(sipMessage(j));
        std::string datagram;
        encodeHep3(*event->hep, identity, datagram);
        bytes += double(datagram.size());
        datagrams.push_back(std::move(datagram));
        events.push_back(std::move(event));
      }
      Row tap{"hep_tapflow", "HEP over UDP: HepSink::write (encode + send)", {}, bytes / kHepDistinct,
              int(rows.size()) + 1};
      Row base{"hep_send", "HEP over UDP: send() of pre-encoded datagrams", {}, bytes / kHepDistinct};
      for (int r = 0; r < opt.runs; ++r) {
        tap.runs.push_back(hepTapflow(opt, events));
        base.runs.push_back(hepBaseline(opt, datagrams));
        std::fprintf(stderr, "hep run %d: tapflow %.3f s, send() %.3f s\n", r + 1, tap.runs.back().wall_s,
                     base.runs.back().wall_s);
      }
      rows.push_back(std::move(tap));
      rows.push_back(std::move(base));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_outputs: %s\n", e.what());
    return 2;
  }
  printTable(rows, opt);
  for (const Row& r : rows) {
    if (r.median().done != opt.events) {
      std::fprintf(stderr, "bench_outputs: %s: only %" PRIu64 " of %" PRIu64 " events done in the median run\n",
                   r.key.c_str(), r.median().done, opt.events);
      return 1;
    }
  }
  return 0;
}
