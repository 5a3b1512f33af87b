// The HEP output: each SIP message is encoded once and handed to every
// destination (hep_destination.h); the sink waits for them at close.
#include "export/hep_sink.h"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "export/hep_destination.h"
#include "ops/log.h"

namespace tapflow {

HepSink::HepSink(const HepSinkConfig& config, std::string output_name, bool offline)
    : name_(std::move(output_name)), identity_(config.identity) {
  if (config.destinations.empty()) throw std::runtime_error("hep output " + name_ + ": no destination");
  for (const HepDestination& d : config.destinations) {
    if (d.transport == HepTransport::kTls && tls_context_ == nullptr) tls_context_ = makeTlsContext(config.tls, name_);
  }
  for (const HepDestination& d : config.destinations) {
    if (d.transport == HepTransport::kUdp) {
      destinations_.push_back(makeUdpDestination(d, name_, offline));
    } else {
      SSL_CTX* tls = d.transport == HepTransport::kTls ? static_cast<SSL_CTX*>(tls_context_.get()) : nullptr;
      destinations_.push_back(makeStreamDestination(d, name_, offline, config, tls));
    }
  }
}

HepSink::~HepSink() {
  // Threads stop before the TLS context they use goes away.
  for (auto& d : destinations_) d->stop();
  destinations_.clear();
}

bool HepSink::write(const Event& event) {
  if (event.hep == nullptr) return true;
  const size_t size = hep3EncodedSize(*event.hep, identity_);
  if (size > kHep3MaxBytes) {
    for (auto& d : destinations_) d->writeTooLarge();
    return true;
  }
  encoded_.clear();
  encodeHep3(*event.hep, identity_, encoded_);
  for (auto& d : destinations_) d->write(encoded_.data(), encoded_.size());
  return true;
}

void HepSink::close(Duration grace) {
  if (closed_) return;
  closed_ = true;
  const Timestamp start = monotonicNow();
  uint64_t last_progress = ~uint64_t(0);
  Timestamp last_progress_at = start;
  for (;;) {
    uint64_t buffered = 0, progress = 0;
    for (const auto& d : destinations_) {
      buffered += d->bufferedBytes();
      progress += d->progress();
    }
    if (buffered == 0) break;
    const Timestamp now = monotonicNow();
    if (grace >= 0 && now - start >= grace) break;
    if (progress != last_progress) {
      last_progress = progress;
      last_progress_at = now;
    } else if (grace < 0 && now - last_progress_at >= kNoProgressLimit) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& d : destinations_) {
    d->stop();
    const HepDestinationStats& s = d->stats();
    logInfo("hep output closed", {{"output", name_},
                                  {"destination", d->url()},
                                  {"written", std::to_string(s.written.value())},
                                  {"sent", std::to_string(s.sent.value())},
                                  {"dropped", std::to_string(s.dropped())},
                                  {"dropped_buffer_full", std::to_string(s.dropped_buffer_full.value())},
                                  {"dropped_too_large", std::to_string(s.dropped_too_large.value())},
                                  {"dropped_send_error", std::to_string(s.dropped_send_error.value())},
                                  {"dropped_shutdown", std::to_string(s.dropped_shutdown.value())}});
  }
}

void HepSink::collectMetrics(MetricsWriter& m, const MetricLabels& labels) const {
  for (const auto& d : destinations_) {
    MetricLabels l = labels;
    l.emplace_back("destination", d->url());
    m.stats("hep", d->stats(), l);
    m.gauge("tapflow_hep_connected", "Whether the HEP destination is connected (UDP: socket open)", l,
            d->connected() ? 1 : 0);
    m.gauge("tapflow_hep_buffered_bytes", "Bytes of HEP messages waiting for the receiver (TCP/TLS)", l,
            double(d->bufferedBytes()));
  }
}

const HepDestinationStats& HepSink::stats(size_t destination) const { return destinations_.at(destination)->stats(); }
bool HepSink::connected(size_t destination) const { return destinations_.at(destination)->connected(); }
uint64_t HepSink::bufferedBytes(size_t destination) const { return destinations_.at(destination)->bufferedBytes(); }

}  // namespace tapflow
