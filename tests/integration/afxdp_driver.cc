// Test driver of the AF_XDP source: the real sources, hand-off, workers and
// JSON-lines output, steered line by line from stdin so a test can hold the
// capture threads back (a stalled consumer), read metrics, and change the XDP
// target set while traffic runs. Used by tests/integration/test_afxdp.py.
//
//   afxdp_driver -i IF [-i IF]... [--queues 0,1] [--frames N] [--frame-size N]
//                [--rx-ring N] [--fill-ring N] [--batch N] [--xdp-mode M]
//                [--zero-copy M] [--no-need-wakeup] [--busy-poll]
//                [--cidr C]... [--port P]... [--protocol P]...
//                [--workers N] [--output FILE]
//
// Prints "ready" once every socket is bound and the program attached, then
// reads commands:
//   start                      start the capture threads
//   metrics                    print the /metrics text, then "end"
//   xskstats                   print each socket's XDP_STATISTICS as read
//                              from the kernel, one line per socket, then "end"
//   filter [cidrs=A,B] [ports=P,Q] [protocols=X,Y]
//                              replace the target set live; prints "ok"
//   stop (or end of input)     stop capture, drain workers, flush the output,
//                              print the final metrics and "end", exit 0
// A setup error prints its message on stderr and exits 2, as tapflow does.
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "driver_text.h"
#include "app/config.h"
#include "capture/afxdp_source.h"
#include "export/event_output.h"
#include "ops/log.h"
#include "ops/metrics.h"
#include "worker/handoff.h"
#include "worker/worker.h"

namespace {

using namespace tapflow;

uint32_t number(const char* flag, const std::string& v) {
  char* end = nullptr;
  unsigned long n = std::strtoul(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') {
    std::fprintf(stderr, "afxdp_driver: %s needs a number\n", flag);
    std::exit(1);
  }
  return uint32_t(n);
}

// "cidrs=A,B ports=P protocols=udp" → a filter; unnamed keys are an error.
bool parseFilter(std::istringstream& words, CaptureFilterConfig& filter, std::string& error) {
  std::string word;
  while (words >> word) {
    size_t eq = word.find('=');
    std::string key = word.substr(0, eq);
    std::vector<std::string> values = eq == std::string::npos ? std::vector<std::string>{} : splitList(word.substr(eq + 1));
    if (key == "cidrs") {
      filter.cidrs = values;
    } else if (key == "ports") {
      filter.ports.clear();
      for (const auto& v : values) filter.ports.push_back(uint32_t(std::strtoul(v.c_str(), nullptr, 10)));
    } else if (key == "protocols") {
      filter.protocols = values;
    } else {
      error = "unknown filter key " + key;
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  config.capture.source = "afxdp";
  config.workers.count = 2;
  config.outputs = {OutputConfig{}};
  CaptureConfig& capture = config.capture;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "afxdp_driver: %s needs a value\n", arg.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (arg == "-i" || arg == "--interface") {
      capture.interfaces.push_back(value());
    } else if (arg == "--queues") {
      for (const auto& q : splitList(value())) capture.queues.push_back(number("--queues", q));
    } else if (arg == "--frames") {
      capture.afxdp.frames = number("--frames", value());
    } else if (arg == "--frame-size") {
      capture.afxdp.frame_size = number("--frame-size", value());
    } else if (arg == "--rx-ring") {
      capture.afxdp.rx_ring = number("--rx-ring", value());
    } else if (arg == "--fill-ring") {
      capture.afxdp.fill_ring = number("--fill-ring", value());
    } else if (arg == "--batch") {
      capture.afxdp.batch = number("--batch", value());
    } else if (arg == "--xdp-mode") {
      capture.afxdp.xdp_mode = value();
    } else if (arg == "--zero-copy") {
      capture.afxdp.zero_copy = value();
    } else if (arg == "--no-need-wakeup") {
      capture.afxdp.need_wakeup = false;
    } else if (arg == "--busy-poll") {
      capture.afxdp.busy_poll = true;
    } else if (arg == "--program") {
      capture.afxdp.program = value();
    } else if (arg == "--cidr") {
      capture.filter.cidrs.push_back(value());
    } else if (arg == "--port") {
      capture.filter.ports.push_back(number("--port", value()));
    } else if (arg == "--protocol") {
      capture.filter.protocols.push_back(value());
    } else if (arg == "--workers") {
      config.workers.count = number("--workers", value());
    } else if (arg == "--output") {
      config.outputs[0].path = value();
    } else {
      std::fprintf(stderr, "afxdp_driver: unknown argument %s\n", arg.c_str());
      return 1;
    }
  }

  std::vector<std::unique_ptr<PacketSource>> sources;
  try {
    sources = makeAfXdpSources(capture);
  } catch (const CaptureSetupError& e) {
    logError(e.what());
    return 2;
  }

  std::vector<std::unique_ptr<EventOutput>> outputs;
  outputs.push_back(std::make_unique<EventOutput>("jsonl:" + config.outputs[0].path,
                                                  std::make_unique<JsonLinesSink>(config.outputs[0].path),
                                                  config.outputs[0].queue_events, FullQueuePolicy::kDrop));
  std::vector<EventOutput*> output_ptrs{outputs[0].get()};
  outputs[0]->start();

  FlowTableConfig flows;
  flows.max_flows = config.flows.max_flows;
  flows.idle_timeout = config.flows.idle_timeout;
  flows.active_timeout = config.flows.active_timeout;
  flows.closed_timeout = config.flows.closed_timeout;
  flows.vlan_in_key = config.flows.vlan_in_key;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Worker*> worker_ptrs;
  for (uint32_t i = 0; i < config.workers.count; ++i) {
    workers.push_back(std::make_unique<Worker>(i, flows, config.defrag, nullptr, output_ptrs,
                                               size_t(config.workers.queue_batches) * sources.size()));
    workers.back()->setLiveClock(true);
    worker_ptrs.push_back(workers.back().get());
  }
  for (auto& w : workers) w->start(-1);
  std::vector<std::unique_ptr<Handoff>> handoffs;
  for (size_t i = 0; i < sources.size(); ++i) {
    HandoffConfig hc;
    hc.batches_per_worker = config.workers.queue_batches;
    hc.batch_packets = config.workers.batch_packets;
    hc.batch_bytes = config.workers.batch_bytes;
    handoffs.push_back(std::make_unique<Handoff>(hc, worker_ptrs));
  }

  MetricsRegistry registry;
  registry.add([&](MetricsWriter& m) {
    for (size_t i = 0; i < sources.size(); ++i) {
      MetricLabels capture_labels{{"capture", sources[i]->name()}};
      m.stats("capture", sources[i]->stats(), capture_labels);
      m.stats("decode", sources[i]->decodeStats(), capture_labels);
      sources[i]->collectMetrics(m, capture_labels);
      for (size_t w = 0; w < handoffs[i]->workerCount(); ++w) {
        m.counter("tapflow_handoff_dropped_total", "Packets dropped at the hand-off to a worker, by reason",
                  {{"capture", sources[i]->name()}, {"worker", std::to_string(w)}, {"reason", "queue_full"}},
                  handoffs[i]->drops(w));
      }
    }
    for (const auto& w : workers) m.stats("worker", w->stats(), {{"worker", std::to_string(w->id())}});
  });

  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  auto start = [&] {
    if (!threads.empty()) return;
    for (size_t i = 0; i < sources.size(); ++i) {
      threads.emplace_back([&, i] {
        pthread_setname_np(pthread_self(), ("tf-capture" + std::to_string(i)).substr(0, 15).c_str());
        sources[i]->run(*handoffs[i], stop);
      });
    }
  };

  std::cout << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command;
    words >> command;
    if (command == "start") {
      start();
      std::cout << "started" << std::endl;
    } else if (command == "metrics") {
      std::cout << registry.render() << "end" << std::endl;
    } else if (command == "xskstats") {
      for (const auto& s : sources) {
        const auto* x = dynamic_cast<const AfXdpSource*>(s.get());
        XskKernelStats k;
        if (x == nullptr || !x->kernelStats(k)) continue;
        std::cout << "xsk interface=" << x->interface() << " queue=" << x->queue() << " rx_dropped=" << k.rx_dropped
                  << " rx_invalid_descs=" << k.rx_invalid_descs << " rx_ring_full=" << k.rx_ring_full
                  << " rx_fill_ring_empty_descs=" << k.rx_fill_ring_empty_descs
                  << " program_id=" << x->program().programId() << "\n";
      }
      std::cout << "end" << std::endl;
    } else if (command == "filter") {
      CaptureFilterConfig filter;
      std::string error;
      if (!parseFilter(words, filter, error)) {
        std::cout << "error: " << error << std::endl;
        continue;
      }
      try {
        size_t n = updateAfXdpTargets(sources, filter);
        std::cout << "ok " << n << std::endl;
      } catch (const std::exception& e) {
        std::cout << "error: " << e.what() << std::endl;
      }
    } else if (command == "stop") {
      break;
    } else if (!command.empty()) {
      std::cout << "error: unknown command " << command << std::endl;
    }
  }

  stop.store(true);
  for (auto& t : threads) t.join();
  for (auto& w : workers) w->finishInput(wallClockNow(), FlowEndReason::kShutdown);
  for (auto& w : workers) w->join();
  outputs[0]->stop();
  std::cout << registry.render() << "end" << std::endl;
  return 0;
}
