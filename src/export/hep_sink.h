// The HEP output: SIP messages encoded as HEP v3 and sent to one or more HOMER
// receivers over UDP, TCP or TLS. Stream destinations buffer whole messages
// while their receiver is away and reconnect on their own thread, so the
// output's writer thread never waits on the network; every message ends up
// sent or counted as dropped, with the reason.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "export/event_output.h"
#include "export/hep_encoder.h"

namespace tapflow {

enum class HepTransport : uint8_t { kUdp, kTcp, kTls };

struct HepDestination {
  HepTransport transport = HepTransport::kUdp;
  std::string host;  // name or address; IPv6 without brackets
  uint16_t port = 0;
  // "hep://h:p", "hep+tcp://h:p", "hep+tls://h:p" (IPv6 hosts in brackets).
  std::string url() const;
};

struct HepTlsConfig {
  std::string ca_file;      // "": the system's trust store
  bool verify = true;       // check the chain and the host name
  std::string server_name;  // SNI and the name checked; "": the destination's host
};

struct HepSinkConfig {
  std::vector<HepDestination> destinations;  // each message goes to every destination
  HepIdentity identity;
  uint32_t buffer_bytes = 8u << 20;  // per TCP/TLS destination while its receiver is away; beyond: dropped, counted
  Duration reconnect_min = 100 * 1'000'000;     // jittered exponential backoff between these
  Duration reconnect_max = 5 * kNanosPerSecond;
  HepTlsConfig tls;
};

// Per destination. dropped_X become tapflow_hep_dropped_total{reason="X"}.
// TCP/TLS count a message as sent once the receiver's TCP has acknowledged it
// (not when it entered the local socket), so a receiver that dies takes no
// unacknowledged message with it: those are sent again on the next connection.
#define TF_HEP_STATS(C)                                                                                  \
  C(written, "HEP messages handed to the destination (sent, dropped or still buffered)")               \
  C(sent, "HEP messages sent (TCP/TLS: acknowledged by the receiver's TCP)")                            \
  C(dropped_buffer_full, "")                                                                            \
  C(dropped_too_large, "")                                                                              \
  C(dropped_send_error, "")                                                                             \
  C(dropped_shutdown, "")                                                                               \
  C(connects, "Connections to the HEP receiver established (TLS: handshake done)")                     \
  C(disconnects, "Connections to the HEP receiver closed: lost, failed TLS handshake, send error")      \
  C(connect_failures, "Attempts to connect to the HEP receiver that failed (refused, timeout, TLS)")

struct HepDestinationStats {
  TF_HEP_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_HEP_STATS(TF_VISIT_COUNTER)
  }
  uint64_t dropped() const {
    return dropped_buffer_full.value() + dropped_too_large.value() + dropped_send_error.value() +
           dropped_shutdown.value();
  }
};

class HepSink : public EventSink {
 public:
  // Starts one sender thread per TCP/TLS destination. `offline` (tapflow read):
  // a full buffer waits for room while its receiver is connected and taking
  // data, rather than dropping at once. Throws std::runtime_error naming the
  // problem (no destination, unreadable CA file).
  HepSink(const HepSinkConfig& config, std::string output_name, bool offline);
  ~HepSink() override;

  bool accepts(const Event& event) const override { return event.hep != nullptr; }
  bool forwardsHep() const override { return true; }
  // Encodes once and hands the bytes to every destination. Always true: losses
  // are per destination and counted in its stats.
  bool write(const Event& event) override;
  // Sender threads run on their own: nothing to push.
  bool flush() override { return true; }
  // Waits until every buffer is empty or `grace` has passed (kWaitForever:
  // while progress is made, giving up after 10 s without), counts what is
  // left as dropped{shutdown}, stops the threads and logs "hep output closed".
  void close(Duration grace) override;
  void collectMetrics(MetricsWriter& m, const MetricLabels& labels) const override;

  // For tests and the closing log line.
  size_t destinationCount() const { return destinations_.size(); }
  const HepDestinationStats& stats(size_t destination) const;
  bool connected(size_t destination) const;
  uint64_t bufferedBytes(size_t destination) const;

  class Destination;  // UDP or stream: export/hep_destination.h

 private:
  std::string name_;
  HepIdentity identity_;
  std::vector<std::unique_ptr<Destination>> destinations_;
  std::shared_ptr<void> tls_context_;  // SSL_CTX, shared by the TLS destinations
  std::string encoded_;                // reused for every message
  bool closed_ = false;
};

}  // namespace tapflow
