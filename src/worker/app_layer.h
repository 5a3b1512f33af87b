// The application layer of one worker: which flows get an analyzer, their
// TCP streams, and the analyzers' events on their way out.
//
// Every TCP flow gets a session at its first packet (the reassembler needs the
// SYN); the analyzer is chosen at the first stream bytes, by configured ports
// first and then by content (HTTP, SIP and TLS are recognized on any port).
// Flows no analyzer wants give their session back at once. UDP flows are
// chosen at their first datagram. Sessions and analyzer objects come from
// pools capped by analyzers.max_sessions; a flow that finds the pool empty is
// not analyzed, and counted.
#pragma once

#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "export/app_event.h"
#include "export/event.h"
#include "flow/flow.h"
#include "ops/counter.h"
#include "proto/dns/dns_session.h"
#include "proto/http/http_session.h"
#include "proto/sip/sip_analyzer.h"
#include "proto/stream.h"
#include "proto/tls/tls_session.h"
#include "reassembly/tcp_reassembler.h"

namespace tapflow {

// An analyzer's on switch and the server ports that select it without
// looking at content.
struct AnalyzerPorts {
  bool enabled = true;
  std::vector<uint16_t> ports;
};

struct AppLayerConfig {
  uint32_t max_sessions = 16384;  // analyzed flows per worker (memory: docs/config.md)
  TcpReassemblyConfig tcp;
  AnalyzerPorts http_ports{true, {80, 8000, 8080}};
  HttpConfig http;
  AnalyzerPorts sip_ports{true, {5060}};
  SipConfig sip;
  AnalyzerPorts dns_ports{true, {53}};
  DnsConfig dns;
  AnalyzerPorts tls_ports{true, {443}};
  TlsConfig tls;
};

#define TF_APP_STATS(C)                                                                              \
  C(sessions, "Flows given an analyzer session")                                                     \
  C(sessions_dropped_full, "Flows, or datagrams of a UDP flow between its messages, not analyzed: no free session (analyzers.max_sessions)") \
  C(flows_http, "Flows handed to the HTTP analyzer")                                                 \
  C(flows_sip, "Flows handed to the SIP analyzer")                                                   \
  C(flows_dns, "Flows handed to the DNS analyzer")                                                   \
  C(flows_tls, "Flows handed to the TLS analyzer")                                                   \
  C(flows_unrecognized, "TCP flows whose first bytes no analyzer recognized")                        \
  C(events, "Analyzer events encoded (http, sip, sip_call, dns, tls)")

struct AppStats {
  TF_APP_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_APP_STATS(TF_VISIT_COUNTER)
  }
};

// Where encoded events go (the worker's outputs).
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  // `json` is taken: swapped with an empty buffer of the same use, so the
  // caller's encoding buffer keeps a capacity and nothing is copied. `key` is
  // the flow's Community ID ("" for none); `hep` is the raw message for the
  // outputs that forward it.
  virtual void publish(EventType type, std::string_view key, std::string& json,
                       std::unique_ptr<HepMessage> hep = nullptr) = 0;
  // Whether any output forwards raw messages (HEP): if not, none are copied.
  virtual bool wantsHep() const = 0;
  // The Kubernetes snapshot events are enriched from, pinned by the worker
  // for the batch being processed; nullptr: none (Kubernetes off).
  virtual const ClusterSnapshot* cluster() const { return nullptr; }
};

class AppLayer : private HttpEventSink, private SipEventSink, private DnsEventSink, private TlsEventSink {
 public:
  AppLayer(const AppLayerConfig& config, EventPublisher& publisher);
  ~AppLayer() override;
  AppLayer(const AppLayer&) = delete;
  AppLayer& operator=(const AppLayer&) = delete;

  // A packet the flow table has just accounted to `flow`; `forward` says it
  // runs lo → hi (dir[0]).
  void onPacket(Flow& flow, const DecodedPacket& pkt, bool forward);
  // The flow ends for good: streams are closed, pending transactions reported,
  // the session given back.
  void onFlowEnd(Flow& flow);
  // Packet time moved on: SIP calls past their timeouts are reported.
  void advanceTime(Timestamp now);
  // End of input or shutdown: every open SIP call is reported.
  void finish(Timestamp now);

  const AppStats& stats() const { return stats_; }
  const TcpReassembler& tcp() const { return tcp_; }
  const HttpStats& httpStats() const { return http_stats_; }
  const SipStats& sipStats() const { return sip_.stats(); }
  const DnsStats& dnsStats() const { return dns_stats_; }
  const TlsStats& tlsStats() const { return tls_stats_; }

 private:
  enum class Kind : uint8_t { kUndecided, kHttp, kSip, kDns, kTls, kNone };
  struct Session;
  template <typename T>
  class Pool;
  class StreamFeed;
  class DiscardFeed;

  Session* acquireSession(Flow& flow, bool tcp);
  // Gives the session and its analyzer back; `close_streams` releases what
  // the reassembler still holds for it, unread.
  void releaseSession(Flow& flow, bool close_streams = true);
  void onTcp(Flow& flow, Session& s, const DecodedPacket& pkt, StreamDir dir);
  void onUdp(Flow& flow, const DecodedPacket& pkt, StreamDir dir);
  bool choose(Session& s, Kind kind);
  bool attach(Session& s, Kind kind);
  void park(Flow& flow, Kind kind);
  bool unpark(Flow& flow);
  Kind chooseByPort(const Flow& flow, bool tcp) const;
  Kind chooseByContent(const uint8_t* data, size_t len, StreamDir dir) const;
  void deliver(Session& s, StreamDir dir, const uint8_t* data, size_t len, Timestamp ts);
  void gap(Session& s, StreamDir dir, uint64_t len);
  void streamEnd(Session& s, StreamDir dir, StreamEnd reason);
  void flushProbe(Session& s);
  template <typename Fn>
  void withStreamAnalyzer(Session& s, Fn&& fn);

  void onHttpTransaction(const HttpTransaction& t) override;
  void onSipMessage(const SipMessage& m) override;
  void onSipCall(const SipCall& c) override;
  void onDnsTransaction(const DnsTransaction& t) override;
  void onTlsHello(const TlsHello& h) override;
  // Publishes event_; the key is the current session's Community ID, if any.
  void emit(EventType type, std::unique_ptr<HepMessage> hep = nullptr);
  std::unique_ptr<HepMessage> hepMessage(const SipMessage& m) const;
  EventFlow eventFlow() const;

  AppLayerConfig config_;
  EventPublisher& publisher_;
  std::bitset<65536> http_port_, sip_port_, dns_port_, tls_port_;
  TcpReassembler tcp_;
  HttpStats http_stats_;
  DnsStats dns_stats_;
  DnsScratch dns_scratch_;  // the DNS sessions parse one message at a time
  TlsStats tls_stats_;
  SipAnalyzer sip_;
  std::vector<Session> sessions_;  // reserved to max_sessions, constructed as needed
  std::vector<uint32_t> free_sessions_;
  std::unique_ptr<Pool<HttpSession>> http_;
  std::unique_ptr<Pool<TlsSession>> tls_;
  std::unique_ptr<Pool<DnsSession>> dns_;
  std::unique_ptr<Pool<SipStreamSession>> sip_streams_;
  const Flow* current_flow_ = nullptr;   // the flow whose analyzer is running (events' network fields)
  Session* current_session_ = nullptr;  // and its session (set whenever current_flow_ is)
  Timestamp next_sip_expiry_ = 0;
  std::string event_;  // reused encoding buffer
  AppStats stats_;
};

}  // namespace tapflow
