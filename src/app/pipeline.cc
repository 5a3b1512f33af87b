#include "app/pipeline.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "capture/afpacket_source.h"
#include "capture/afxdp_source.h"
#include "capture/capabilities.h"
#include "capture/dpdk_source.h"
#include "capture/mirror.h"
#include "capture/packet_source.h"
#include "capture/pcap_source.h"
#include "app/kubernetes_view.h"
#include "app/stats_reporter.h"
#include "app/target_keeper.h"
#include "export/event_output.h"
#include "export/hep_sink.h"
#include "export/kafka_sink.h"
#include "ops/http_server.h"
#include "ops/log.h"
#include "ops/metrics.h"
#include "worker/handoff.h"
#include "worker/worker.h"

namespace tapflow {

std::atomic<bool> g_stop_requested{false};

namespace {

FlowTableConfig flowTableConfig(const FlowConfig& f) {
  FlowTableConfig c;
  c.max_flows = f.max_flows;
  c.idle_timeout = f.idle_timeout;
  c.active_timeout = f.active_timeout;
  c.closed_timeout = f.closed_timeout;
  c.vlan_in_key = f.vlan_in_key;
  return c;
}

// Every source the config names, one per capture thread. Throws
// CaptureSetupError (or std::runtime_error) naming what is missing or could
// not be opened. The host's preconditions (interfaces, capabilities, locked
// memory) are checked first, the same way for every live mode.
std::vector<std::unique_ptr<PacketSource>> makeSources(const Config& config) {
  const CaptureConfig& capture = config.capture;
  checkCapturePreconditions(capture);
  std::vector<std::unique_ptr<PacketSource>> sources;
  if (capture.source == "pcap") {
    sources.push_back(std::make_unique<PcapFileSource>(capture.pcap_path, capture.snaplen));
  } else if (capture.source == "afxdp") {
    sources = makeAfXdpSources(capture);
  } else if (capture.source == "afpacket") {
    sources = makeAfPacketSources(capture);
  } else if (capture.source == "mirror") {
    // With targets, the keeper chooses the mirrored interfaces from the start.
    sources = makeMirrorSources(capture, !config.targets.empty());
  } else if (capture.source == "dpdk") {
    sources = makeDpdkSources(capture);
  } else {
    throw CaptureSetupError("unknown capture source " + capture.source);
  }
  if (sources.empty()) throw CaptureSetupError(capture.source + " capture found nothing to capture");
  return sources;
}

// The node HEP messages and stats events name: NODE_NAME (set from the
// downward API in the DaemonSet), else the host name.
std::string nodeName(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* node = std::getenv("NODE_NAME"); node != nullptr && *node != '\0') return node;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "";
  return host;
}

std::unique_ptr<EventSink> makeKafkaSink(const OutputConfig& o, const std::string& name, bool offline) {
  const KafkaOutputConfig& k = o.kafka;
  KafkaSinkConfig c;
  for (size_t i = 0; i < k.brokers.size(); ++i) c.brokers += (i ? "," : "") + k.brokers[i];
  c.topic_prefix = k.topic_prefix;
  c.topics = k.topics;
  c.properties = k.properties;
  for (const auto& [name, secret] : k.secret_properties) {
    c.properties.emplace_back(name, secret.value);
    c.secret_properties.push_back(name);
  }
  c.queue_full = k.block_when_full ? KafkaSinkConfig::QueueFullPolicy::kBlock : KafkaSinkConfig::QueueFullPolicy::kDrop;
  c.block_timeout = k.block_timeout;
  c.queue_messages = k.queue_messages;
  return std::make_unique<KafkaSink>(c, name, offline);
}

std::unique_ptr<EventSink> makeHepSink(const OutputConfig& o, const std::string& name, bool offline) {
  const HepOutputConfig& h = o.hep;
  HepSinkConfig c;
  for (const HepEndpoint& e : h.destinations) {
    const HepTransport transport =
        e.transport == "tcp" ? HepTransport::kTcp : (e.transport == "tls" ? HepTransport::kTls : HepTransport::kUdp);
    c.destinations.push_back(HepDestination{transport, e.host, e.port});
    if (transport == HepTransport::kUdp && h.has_auth_key) {
      logWarn("the HEP auth key travels in clear text over UDP (allow_auth_key_over_udp is set)",
              {{"output", name}, {"destination", c.destinations.back().url()}});
    }
  }
  c.identity.agent_id = h.agent_id;
  c.identity.auth_key = h.has_auth_key ? h.auth_key.value : "";
  c.identity.node_name = nodeName(h.node_name);
  c.buffer_bytes = h.buffer_bytes;
  c.reconnect_min = h.reconnect_min;
  c.reconnect_max = h.reconnect_max;
  c.tls.ca_file = h.tls_ca_file;
  c.tls.verify = h.tls_verify;
  c.tls.server_name = h.tls_server_name;
  return std::make_unique<HepSink>(c, name, offline);
}

// Throws std::runtime_error naming the output when it cannot be set up.
std::unique_ptr<EventOutput> makeOutput(const OutputConfig& o, const std::string& name, bool offline) {
  std::unique_ptr<EventSink> sink;
  if (o.type == "kafka") {
    sink = makeKafkaSink(o, name, offline);
  } else if (o.type == "hep") {
    sink = makeHepSink(o, name, offline);
  } else {
    sink = std::make_unique<JsonLinesSink>(o.path);
  }
  // A file source can wait for a slow output; a live one must not.
  return std::make_unique<EventOutput>(name, std::move(sink), o.queue_events,
                                       offline ? FullQueuePolicy::kWait : FullQueuePolicy::kDrop);
}

// How long an output may take to deliver what it holds at shutdown. A file
// source waits for everything (each sink's own timeouts bound it).
Duration shutdownGrace(const OutputConfig& o, bool offline) {
  if (offline) return EventSink::kWaitForever;
  if (o.type == "kafka") return o.kafka.shutdown_grace;
  if (o.type == "hep") return o.hep.shutdown_grace;
  return EventSink::kWaitForever;  // a local file
}

// capture.cores pins capture threads in order; a list that does not match the
// thread count (known only once the sources exist) is used as far as it goes.
void logCorePlan(const CaptureConfig& capture, size_t threads) {
  const size_t cores = capture.cores.size();
  if (cores == 0 || cores == threads) return;
  if (cores < threads) {
    logWarn("fewer capture.cores than capture threads: the rest run unpinned",
            {{"capture_threads", std::to_string(threads)}, {"cores", std::to_string(cores)}});
  } else {
    logWarn("more capture.cores than capture threads: the extra cores are not used",
            {{"capture_threads", std::to_string(threads)}, {"cores", std::to_string(cores)}});
  }
}

void registerMetrics(MetricsRegistry& registry, const std::vector<std::unique_ptr<PacketSource>>& sources,
                     const std::vector<std::unique_ptr<Handoff>>& handoffs,
                     const std::vector<std::unique_ptr<Worker>>& workers,
                     const std::vector<std::unique_ptr<EventOutput>>& outputs) {
  registry.add([&sources, &handoffs](MetricsWriter& m) {
    for (size_t i = 0; i < sources.size(); ++i) {
      MetricLabels capture{{"capture", sources[i]->name()}};
      m.stats("capture", sources[i]->stats(), capture);
      m.stats("decode", sources[i]->decodeStats(), capture);
      sources[i]->collectMetrics(m, capture);
      const Handoff& handoff = *handoffs[i];
      for (size_t w = 0; w < handoff.workerCount(); ++w) {
        m.counter("tapflow_handoff_dropped_total", "Packets dropped at the hand-off to a worker, by reason",
                  {{"capture", sources[i]->name()}, {"worker", std::to_string(w)}, {"reason", "queue_full"}},
                  handoff.drops(w));
      }
      m.counter("tapflow_handoff_dropped_total", "Packets dropped at the hand-off to a worker, by reason",
                {{"capture", sources[i]->name()}, {"worker", "any"}, {"reason", "oversize"}}, handoff.oversize());
    }
  });
  registry.add([&workers](MetricsWriter& m) {
    for (const auto& w : workers) {
      MetricLabels labels{{"worker", std::to_string(w->id())}};
      const FlowEngine& e = w->engine();
      m.stats("worker", w->stats(), labels);
      m.stats("flow", e.flows().stats(), labels);
      m.stats("defrag", e.defrag().stats(), labels);
      m.stats("engine", e.stats(), labels);
      MetricLabels reassembled = labels;
      reassembled.emplace_back("capture", "reassembled");
      m.stats("decode", e.reassembledDecodeStats(), reassembled);
      m.gauge("tapflow_worker_queue_batches", "Batches waiting in the worker's inbox", labels,
              double(w->inboxDepth()));
      m.gauge("tapflow_flow_active", "Flows in the worker's table", labels, double(e.flows().size()));
      m.gauge("tapflow_defrag_datagrams_in_progress", "Datagrams being reassembled", labels,
              double(e.defrag().datagramsInProgress()));
      m.gauge("tapflow_defrag_bytes_held", "Fragment bytes held for reassembly", labels,
              double(e.defrag().bytesHeld()));
      if (const AppLayer* app = w->app()) {
        m.stats("analyzer", app->stats(), labels);
        m.stats("tcp_reassembly", app->tcp().stats(), labels);
        m.stats("http", app->httpStats(), labels);
        m.stats("sip", app->sipStats(), labels);
        m.stats("dns", app->dnsStats(), labels);
        m.stats("tls", app->tlsStats(), labels);
        m.gauge("tapflow_tcp_reassembly_buffered_bytes", "Out-of-order TCP bytes held for reassembly", labels,
                double(app->tcp().bufferedBytes()));
        m.gauge("tapflow_tcp_reassembly_buffered_segments", "Out-of-order TCP segments held for reassembly",
                labels, double(app->tcp().bufferedSegments()));
        m.gauge("tapflow_tcp_reassembly_memory_bytes",
                "Reassembly blocks in use, in bytes (what tcp_reassembly.max_buffered_bytes caps)", labels,
                double(app->tcp().memoryBytes()));
      }
    }
  });
  registry.add([&outputs](MetricsWriter& m) {
    for (const auto& o : outputs) {
      MetricLabels labels{{"output", o->name()}};
      m.stats("output", o->stats(), labels);
      m.gauge("tapflow_output_queue_events", "Events waiting in the output's queue", labels, double(o->depth()));
      m.gauge("tapflow_output_queue_capacity", "Capacity of the output's queue (outputs[].queue_events)", labels,
              double(o->capacity()));
      o->sink().collectMetrics(m, labels);
    }
  });
  registry.add([](MetricsWriter& m) {
    m.gauge("tapflow_build_info", "Build information", {{"version", TAPFLOW_VERSION}}, 1);
  });
}

}  // namespace

int runPipeline(const Config& config, RunMode mode) {
  // With targets, the XDP program starts by capturing nothing: the targeted
  // pods' addresses arrive with the first lists. (Outlives the sources, which
  // may keep references into it.)
  Config capture_config = config;
  if (!config.targets.empty()) capture_config.capture.filter = targetFilter({}, config.capture.filter);
  std::vector<std::unique_ptr<PacketSource>> sources;
  std::vector<std::unique_ptr<EventOutput>> outputs;
  bool offline = true;
  try {
    sources = makeSources(capture_config);
    for (const auto& s : sources) offline = offline && s->isOffline();
  } catch (const std::exception& e) {
    // One line naming what is missing; sources made so far are torn down on return.
    logError(e.what(), {{"source", config.capture.source}});
    return 2;
  }
  std::vector<std::string> names;
  for (const OutputConfig& o : config.outputs) {
    // Metrics and logs tell outputs apart by name: a second one to the same
    // peers gets "#2".
    std::string name = o.name();
    const auto same = std::count(names.begin(), names.end(), name);
    names.push_back(name);
    if (same > 0) {
      // Appended in two steps: g++ 12 warns (-Wrestrict, a false positive) on "#" + to_string().
      name += '#';
      name += std::to_string(same + 1);
    }
    try {
      outputs.push_back(makeOutput(o, name, offline));
    } catch (const std::exception& e) {
      // What a sink refuses at set-up is its configuration (a value
      // librdkafka only judges when the producer is made, a CA file).
      logError(e.what(), {{"output", name}});
      return 1;
    }
  }
  logCorePlan(config.capture, sources.size());

  // The cluster view first: a pcap read is only enriched if the lists are in.
  std::unique_ptr<KubernetesView> kubernetes;
  if (config.kubernetes.enabled) {
    try {
      kubernetes = std::make_unique<KubernetesView>(config.kubernetes);
    } catch (const std::exception& e) {
      logError(e.what());
      return 1;
    }
    kubernetes->start();
    kubernetes->waitForLists(config.kubernetes.initial_list_timeout);
  }
  // Live XDP capture with Kubernetes keeps a target keeper even without
  // targets, so that a SIGHUP can add some.
  std::unique_ptr<TargetKeeper> targets;
  const bool xdp = config.capture.source == "afxdp" ||
                   (config.capture.source == "mirror" && config.capture.mirror.capture == "afxdp");
  if (kubernetes && (!config.targets.empty() || xdp)) {
    if (offline) {
      if (!config.targets.empty()) logWarn("targets apply to live XDP capture; a file is read whole");
    } else {
      targets = std::make_unique<TargetKeeper>(config, nodeName(config.kubernetes.node_name), kubernetes->state(),
                                               sources);
      targets->start();
    }
  }

  std::vector<EventOutput*> output_ptrs;
  for (auto& o : outputs) {
    output_ptrs.push_back(o.get());
    o->start();
  }

  const uint32_t worker_count = config.workers.count;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Worker*> worker_ptrs;
  FlowTableConfig flows = flowTableConfig(config.flows);
  const size_t inbox_capacity = size_t(config.workers.queue_batches) * sources.size();
  // With every analyzer off, workers skip TCP reassembly altogether.
  const AppLayerConfig& a = config.analyzers;
  const bool any_analyzer = a.http_ports.enabled || a.sip_ports.enabled || a.dns_ports.enabled || a.tls_ports.enabled;
  for (uint32_t i = 0; i < worker_count; ++i) {
    workers.push_back(std::make_unique<Worker>(i, flows, config.defrag, any_analyzer ? &a : nullptr, output_ptrs,
                                               inbox_capacity));
    worker_ptrs.push_back(workers.back().get());
    if (kubernetes) workers.back()->setKubernetes(&kubernetes->state(), &kubernetes->complete());
    // Live traffic can pause: idle workers then expire flows on the wall clock.
    workers.back()->setLiveClock(!offline);
  }
  for (uint32_t i = 0; i < worker_count; ++i) {
    workers[i]->start(config.workers.cores.empty() ? -1 : config.workers.cores[i]);
  }

  std::vector<std::unique_ptr<Handoff>> handoffs;
  for (const auto& source : sources) {
    HandoffConfig hc;
    hc.batches_per_worker = config.workers.queue_batches;
    hc.batch_packets = config.workers.batch_packets;
    hc.batch_bytes = config.workers.batch_bytes;
    hc.wait_when_full = source->isOffline();
    handoffs.push_back(std::make_unique<Handoff>(hc, worker_ptrs));
  }

  MetricsRegistry registry;
  registerMetrics(registry, sources, handoffs, workers, outputs);
  if (kubernetes) {
    registry.add([&kubernetes, &workers, &targets](MetricsWriter& m) {
      kubernetes->collectMetrics(m);
      if (targets) targets->collectMetrics(m);
      for (const auto& w : workers) {
        m.counter("tapflow_kubernetes_events_unenriched_total",
                  "Events sent while the cluster view was incomplete (before the first lists, or a watch "
                  "disconnected)",
                  {{"worker", std::to_string(w->id())}}, w->eventsUnenriched());
      }
    });
  }
  StatsReporter stats(registry, nodeName(""));
  for (size_t i = 0; i < outputs.size(); ++i) {
    const OutputConfig& o = config.outputs[i];
    if (o.type == "kafka" && o.kafka.stats_interval > 0) stats.addOutput(outputs[i].get(), o.kafka.stats_interval);
  }
  stats.start();
  std::atomic<bool> ready{false};
  OpsHttpServer ops([&registry] { return registry.render(); }, [&ready] { return ready.load(); });
  if (mode == RunMode::kDaemon && config.metrics.enabled) {
    try {
      ops.start(config.metrics.listen);
      logInfo("serving /metrics, /healthz, /readyz", {{"listen", config.metrics.listen},
                                                       {"port", std::to_string(ops.port())}});
    } catch (const std::exception& e) {
      logError(e.what());
      g_stop_requested.store(true);
    }
  }

  logInfo("capture started", {{"source", config.capture.source},
                              {"capture_threads", std::to_string(sources.size())},
                              {"workers", std::to_string(worker_count)}});
  ready.store(true);
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> capture_threads;
  for (size_t i = 0; i < sources.size(); ++i) {
    capture_threads.emplace_back([&, i] {
      pthread_setname_np(pthread_self(), ("tf-capture" + std::to_string(i)).substr(0, 15).c_str());
      if (i < config.capture.cores.size() && !pinThisThread(config.capture.cores[i])) {
        logWarn("cannot pin capture thread", {{"capture", sources[i]->name()},
                                              {"core", std::to_string(config.capture.cores[i])}});
      }
      sources[i]->run(*handoffs[i], g_stop_requested);
      handoffs[i]->flushAll();  // whatever a source left in partly filled batches
    });
  }
  for (auto& t : capture_threads) t.join();
  if (targets) targets->stop();  // capture is over: the program is about to go

  // Drain: workers finish what is queued, then end their open flows at the
  // newest time any source saw (offline) or now (live).
  bool interrupted = g_stop_requested.load();
  FlowEndReason reason = interrupted ? FlowEndReason::kShutdown : FlowEndReason::kEndOfInput;
  Timestamp final_time = 0;
  for (const auto& s : sources) final_time = std::max(final_time, s->lastTimestamp());
  if (!offline) final_time = std::max(final_time, wallClockNow());
  for (auto& w : workers) w->finishInput(final_time, reason);
  for (auto& w : workers) w->join();
  stats.stop();  // the last stats event covers the drain
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i]->stop(shutdownGrace(config.outputs[i], offline));
  if (kubernetes) kubernetes->stop();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  uint64_t packets = 0, records = 0, events = 0, dropped = 0, not_analyzed = 0;
  for (const auto& s : sources) packets += s->stats().packets.value();
  for (auto& w : workers) {
    records += w->engine().flows().stats().records.value();
    events += w->stats().events.value();
    dropped += w->stats().events_dropped.value();
    if (w->app()) not_analyzed += w->app()->stats().sessions_dropped_full.value();
  }
  // Whether the run saw everything: a file read with too few analyzer
  // sessions gives fewer events, and says so here.
  logInfo(interrupted ? "capture stopped by signal" : "capture finished",
          {{"packets", std::to_string(packets)},
           {"flow_records", std::to_string(records)},
           {"events", std::to_string(events)},
           {"events_dropped", std::to_string(dropped)},
           {"analyzer_sessions_dropped", std::to_string(not_analyzed)},
           {"seconds", std::to_string(seconds)}});

  if (mode == RunMode::kDaemon && !interrupted) {
    // A daemon outlives a file source so the final counters can be scraped.
    logInfo("source ended; serving metrics until SIGTERM");
    while (!g_stop_requested.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ready.store(false);
  ops.stop();
  return 0;
}

}  // namespace tapflow
