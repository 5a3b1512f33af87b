#include "worker/app_layer.h"

#include <algorithm>
#include <cstring>

#include "export/app_event.h"
#include "export/event_common.h"
#include "export/kube_fields.h"

namespace tapflow {
namespace {

constexpr uint32_t kNoIndex = 0xFFFFFFFF;

// Flow::app_state values.
constexpr uint8_t kUndecidedFlow = 0;  // no packet with something to analyze yet
constexpr uint8_t kAnalyzedFlow = 1;   // flow.app_session is ours
constexpr uint8_t kSkippedFlow = 2;    // nothing to analyze, or no session was free
// A UDP flow between datagrams: DNS with no query awaiting its answer, or
// SIP (whose calls the worker's SipAnalyzer keeps). It holds no session, so
// the flows a resolver opens per query, idle until their timeout, do not
// take every session; its next datagram takes one again.
constexpr uint8_t kParkedDnsFlow = 3;
constexpr uint8_t kParkedSipFlow = 4;

// Bytes a TCP flow must show before content detection decides (the longest
// signature checked: an HTTP method, a SIP start line, a TLS record header).
constexpr size_t kProbeBytes = 16;

StreamDir streamDirOf(const Flow& flow, bool forward) {
  const uint8_t d = forward ? 0 : 1;
  return d == flow.client ? StreamDir::kToServer : StreamDir::kToClient;
}

}  // namespace

// Per-flow state: the two TCP streams, the chosen analyzer, and the first
// bytes while the analyzer is not chosen yet.
struct AppLayer::Session {
  Kind kind = Kind::kUndecided;
  bool tcp = false;
  uint8_t probe_len = 0;
  StreamDir probe_dir = StreamDir::kToServer;
  uint32_t analyzer = kNoIndex;  // index in the pool of `kind`
  Timestamp probe_ts = 0;
  uint8_t probe[kProbeBytes];
  TcpStream stream[2];  // by StreamDir
};

// Analyzer objects, created on first need (up to max_sessions) and recycled
// with reset(): their buffers are allocated once.
template <typename T>
class AppLayer::Pool {
 public:
  explicit Pool(uint32_t capacity) : capacity_(capacity) { free_.reserve(capacity); }

  template <typename... Args>
  uint32_t acquire(Args&&... args) {
    if (!free_.empty()) {
      uint32_t i = free_.back();
      free_.pop_back();
      objects_[i]->reset();
      return i;
    }
    if (objects_.size() >= capacity_) return kNoIndex;
    objects_.push_back(std::make_unique<T>(std::forward<Args>(args)...));
    return uint32_t(objects_.size() - 1);
  }
  void release(uint32_t i) { free_.push_back(i); }
  T& operator[](uint32_t i) { return *objects_[i]; }

 private:
  uint32_t capacity_;
  std::vector<std::unique_ptr<T>> objects_;
  std::vector<uint32_t> free_;
};

// The reassembler's view of one direction of a session.
class AppLayer::StreamFeed : public TcpStreamConsumer {
 public:
  StreamFeed(AppLayer& app, Session& session, StreamDir dir) : app_(app), session_(session), dir_(dir) {}
  void onStreamData(const uint8_t* data, size_t len, Timestamp ts) override {
    app_.deliver(session_, dir_, data, len, ts);
  }
  void onStreamGap(uint64_t len) override { app_.gap(session_, dir_, len); }
  void onStreamEnd(StreamEnd reason) override { app_.streamEnd(session_, dir_, reason); }

 private:
  AppLayer& app_;
  Session& session_;
  StreamDir dir_;
};

// For streams given back without analysis (nobody wants their bytes).
class AppLayer::DiscardFeed : public TcpStreamConsumer {
 public:
  void onStreamData(const uint8_t*, size_t, Timestamp) override {}
  void onStreamGap(uint64_t) override {}
  void onStreamEnd(StreamEnd) override {}
};

AppLayer::AppLayer(const AppLayerConfig& config, EventPublisher& publisher)
    : config_(config),
      publisher_(publisher),
      tcp_(config.tcp),
      dns_scratch_(config.dns),
      sip_(config.sip),
      http_(std::make_unique<Pool<HttpSession>>(config.max_sessions)),
      tls_(std::make_unique<Pool<TlsSession>>(config.max_sessions)),
      dns_(std::make_unique<Pool<DnsSession>>(config.max_sessions)),
      sip_streams_(std::make_unique<Pool<SipStreamSession>>(config.max_sessions)) {
  const auto mark = [](std::bitset<65536>& set, const AnalyzerPorts& p) {
    if (!p.enabled) return;
    for (uint16_t port : p.ports) set.set(port);
  };
  mark(http_port_, config_.http_ports);
  mark(sip_port_, config_.sip_ports);
  mark(dns_port_, config_.dns_ports);
  mark(tls_port_, config_.tls_ports);
  // Reserved, not touched: pages are only paid for as sessions are created.
  sessions_.reserve(config_.max_sessions);
  free_sessions_.reserve(config_.max_sessions);
  event_.reserve(2048);
}

AppLayer::~AppLayer() = default;

AppLayer::Session* AppLayer::acquireSession(Flow& flow, bool tcp) {
  uint32_t index;
  if (!free_sessions_.empty()) {
    index = free_sessions_.back();
    free_sessions_.pop_back();
    sessions_[index] = Session{};
  } else if (sessions_.size() < config_.max_sessions) {
    index = uint32_t(sessions_.size());
    sessions_.emplace_back();
  } else {
    stats_.sessions_dropped_full.add();
    flow.app_state = kSkippedFlow;
    return nullptr;
  }
  Session& s = sessions_[index];
  s.tcp = tcp;
  flow.app_state = kAnalyzedFlow;
  flow.app_session = index;
  return &s;
}

void AppLayer::releaseSession(Flow& flow, bool close_streams) {
  Session& s = sessions_[flow.app_session];
  if (s.tcp && close_streams) {
    DiscardFeed discard;
    tcp_.close(s.stream[0], StreamEnd::kFlowEnd, discard);
    tcp_.close(s.stream[1], StreamEnd::kFlowEnd, discard);
  }
  if (s.analyzer != kNoIndex) {
    switch (s.kind) {
      case Kind::kHttp: http_->release(s.analyzer); break;
      case Kind::kTls: tls_->release(s.analyzer); break;
      case Kind::kDns: dns_->release(s.analyzer); break;
      case Kind::kSip: sip_streams_->release(s.analyzer); break;
      default: break;
    }
  }
  free_sessions_.push_back(flow.app_session);
  flow.app_session = kNoIndex;
  flow.app_state = kSkippedFlow;
}

// Gives a new flow's session its analyzer and counts the flow; false (and
// kind kNone) when none is wanted or its pool is empty.
bool AppLayer::choose(Session& s, Kind kind) {
  if (kind == Kind::kUndecided || kind == Kind::kNone) {
    s.kind = Kind::kNone;
    if (s.tcp) stats_.flows_unrecognized.add();
    return false;
  }
  if (!attach(s, kind)) return false;
  switch (kind) {
    case Kind::kHttp: stats_.flows_http.add(); break;
    case Kind::kTls: stats_.flows_tls.add(); break;
    case Kind::kDns: stats_.flows_dns.add(); break;
    case Kind::kSip: stats_.flows_sip.add(); break;
    default: break;
  }
  return true;
}

// Gives the session the analyzer object of `kind` (none for SIP over UDP:
// the worker's SipAnalyzer parses datagrams and keeps the calls); false, and
// kind kNone, when that pool is empty (counted).
bool AppLayer::attach(Session& s, Kind kind) {
  uint32_t index = kNoIndex;
  switch (kind) {
    case Kind::kHttp: index = http_->acquire(config_.http, http_stats_); break;
    case Kind::kTls: index = tls_->acquire(config_.tls, tls_stats_); break;
    case Kind::kDns: index = dns_->acquire(config_.dns, dns_stats_, dns_scratch_); break;
    case Kind::kSip:
      if (!s.tcp) {
        s.kind = kind;
        return true;
      }
      index = sip_streams_->acquire(sip_);
      break;
    case Kind::kUndecided:
    case Kind::kNone: break;
  }
  if (index == kNoIndex) {
    stats_.sessions_dropped_full.add();
    s.kind = Kind::kNone;
    return false;
  }
  s.kind = kind;
  s.analyzer = index;
  return true;
}

// A UDP flow has nothing to keep until its next datagram: its session and
// analyzer go back to their pools.
void AppLayer::park(Flow& flow, Kind kind) {
  releaseSession(flow, false);
  flow.app_state = kind == Kind::kDns ? kParkedDnsFlow : kParkedSipFlow;
}

// A parked flow's next datagram: a session and analyzer again, the flow not
// counted twice. false when none is free (counted); the flow stays parked.
bool AppLayer::unpark(Flow& flow) {
  const uint8_t parked = flow.app_state;
  Session* s = acquireSession(flow, false);
  if (s != nullptr && attach(*s, parked == kParkedDnsFlow ? Kind::kDns : Kind::kSip)) return true;
  if (s != nullptr) releaseSession(flow, false);
  flow.app_state = parked;
  return false;
}

AppLayer::Kind AppLayer::chooseByPort(const Flow& flow, bool tcp) const {
  const FlowEnds ends = flowEnds(flow);
  // The server's port decides; the client's only when the server's selects nothing.
  for (uint16_t port : {ends.server_port, ends.client_port}) {
    if (dns_port_.test(port)) return Kind::kDns;
    if (sip_port_.test(port)) return Kind::kSip;
    if (tcp && http_port_.test(port)) return Kind::kHttp;
    if (tcp && tls_port_.test(port)) return Kind::kTls;
  }
  return Kind::kUndecided;
}

AppLayer::Kind AppLayer::chooseByContent(const uint8_t* data, size_t len, StreamDir dir) const {
  // SIP first: its OPTIONS and REGISTER start lines also look like HTTP requests.
  if (config_.sip_ports.enabled && SipAnalyzer::looksLikeSip(data, len)) return Kind::kSip;
  if (config_.http_ports.enabled &&
      (HttpSession::looksLikeRequest(data, len) || HttpSession::looksLikeResponse(data, len))) {
    return Kind::kHttp;
  }
  if (config_.tls_ports.enabled && dir == StreamDir::kToServer && TlsSession::looksLikeClientHello(data, len)) {
    return Kind::kTls;
  }
  return Kind::kNone;
}

void AppLayer::onPacket(Flow& flow, const DecodedPacket& pkt, bool forward) {
  if (flow.app_state == kSkippedFlow) return;
  const StreamDir dir = streamDirOf(flow, forward);
  if (pkt.ip_proto == 6) {
    Session* s = nullptr;
    if (flow.app_state == kUndecidedFlow) {
      s = acquireSession(flow, true);
      if (!s) return;
      stats_.sessions.add();
      Kind by_port = chooseByPort(flow, true);
      if (by_port != Kind::kUndecided) choose(*s, by_port);
    } else {
      s = &sessions_[flow.app_session];
    }
    current_flow_ = &flow;
    current_session_ = s;
    onTcp(flow, *s, pkt, dir);
    current_flow_ = nullptr;
    current_session_ = nullptr;
  } else if (pkt.ip_proto == 17) {
    current_flow_ = &flow;
    onUdp(flow, pkt, dir);
    current_flow_ = nullptr;
    current_session_ = nullptr;
  } else {
    flow.app_state = kSkippedFlow;
  }
}

void AppLayer::onTcp(Flow& flow, Session& s, const DecodedPacket& pkt, StreamDir dir) {
  const uint8_t* payload = pkt.data + pkt.payload_offset;
  StreamFeed feed(*this, s, dir);
  tcp_.onSegment(s.stream[int(dir)], pkt.tcp, payload, pkt.payload_len, pkt.ts, feed);
  if (pkt.tcp.flags & tcp_flags::kRst) {
    // A reset ends the connection: the other direction will not go on either.
    const StreamDir other = opposite(dir);
    StreamFeed back(*this, s, other);
    tcp_.close(s.stream[int(other)], StreamEnd::kRst, back);
  } else if (pkt.tcp.flags & tcp_flags::kAck) {
    const StreamDir other = opposite(dir);
    StreamFeed back(*this, s, other);
    tcp_.onPeerAck(s.stream[int(other)], pkt.tcp.ack, back);
  }
  // Nothing more to learn: no analyzer wanted the bytes, or TLS has both hellos.
  if (s.kind == Kind::kNone || (s.kind == Kind::kTls && (*tls_)[s.analyzer].done())) releaseSession(flow);
}

void AppLayer::onUdp(Flow& flow, const DecodedPacket& pkt, StreamDir dir) {
  if (pkt.payload_len == 0) return;
  const uint8_t* payload = pkt.data + pkt.payload_offset;
  if (flow.app_state == kUndecidedFlow) {
    Kind kind = chooseByPort(flow, false);
    if (kind == Kind::kUndecided && config_.sip_ports.enabled && SipAnalyzer::looksLikeSip(payload, pkt.payload_len)) {
      kind = Kind::kSip;
    }
    if (kind == Kind::kUndecided) {
      flow.app_state = kSkippedFlow;
      return;
    }
    Session* s = acquireSession(flow, false);
    if (!s) return;
    stats_.sessions.add();
    if (!choose(*s, kind)) {
      releaseSession(flow);
      return;
    }
  } else if (flow.app_state == kParkedDnsFlow || flow.app_state == kParkedSipFlow) {
    if (!unpark(flow)) return;
  }
  Session& s = sessions_[flow.app_session];
  current_session_ = &s;
  if (s.kind == Kind::kDns) {
    DnsSession& dns = (*dns_)[s.analyzer];
    dns.expire(pkt.ts, *this);
    dns.onDatagram(dir, payload, pkt.payload_len, pkt.ts, *this);
    if (dns.pendingQueries() == 0) park(flow, Kind::kDns);
  } else if (s.kind == Kind::kSip) {
    sip_.onDatagram(dir, payload, pkt.payload_len, pkt.ts, *this);
    park(flow, Kind::kSip);
  }
}

// Calls fn with the session's per-flow analyzer object, if it has one (SIP
// over UDP has none).
template <typename Fn>
void AppLayer::withStreamAnalyzer(Session& s, Fn&& fn) {
  if (s.analyzer == kNoIndex) return;
  switch (s.kind) {
    case Kind::kHttp: fn((*http_)[s.analyzer]); break;
    case Kind::kTls: fn((*tls_)[s.analyzer]); break;
    case Kind::kDns: fn((*dns_)[s.analyzer]); break;
    case Kind::kSip: fn((*sip_streams_)[s.analyzer]); break;
    case Kind::kUndecided:
    case Kind::kNone: break;
  }
}

// In-order stream bytes of one direction.
void AppLayer::deliver(Session& s, StreamDir dir, const uint8_t* data, size_t len, Timestamp ts) {
  if (s.kind == Kind::kUndecided) {
    if (s.probe_len > 0 && dir != s.probe_dir) {
      flushProbe(s);  // the other side spoke: decide with what the first one said
    } else {
      if (s.probe_len == 0) {
        s.probe_dir = dir;
        s.probe_ts = ts;
      }
      const size_t take = std::min(len, kProbeBytes - s.probe_len);
      std::memcpy(s.probe + s.probe_len, data, take);
      s.probe_len = uint8_t(s.probe_len + take);
      if (s.probe_len < kProbeBytes) return;
      flushProbe(s);
      data += take;
      len -= take;
      if (len == 0) return;
    }
  }
  withStreamAnalyzer(s, [&](auto& analyzer) { analyzer.onData(dir, data, len, ts, *this); });
}

// Chooses the analyzer from the probe bytes and replays them to it.
void AppLayer::flushProbe(Session& s) {
  if (s.kind != Kind::kUndecided) return;
  if (s.probe_len == 0) return;
  choose(s, chooseByContent(s.probe, s.probe_len, s.probe_dir));
  const uint8_t len = s.probe_len;
  s.probe_len = 0;
  if (s.kind != Kind::kNone) deliver(s, s.probe_dir, s.probe, len, s.probe_ts);
}

void AppLayer::gap(Session& s, StreamDir dir, uint64_t len) {
  flushProbe(s);
  withStreamAnalyzer(s, [&](auto& analyzer) { analyzer.onGap(dir, len, *this); });
}

void AppLayer::streamEnd(Session& s, StreamDir dir, StreamEnd reason) {
  flushProbe(s);
  const Timestamp ts = current_flow_ ? current_flow_->last_ts : 0;
  withStreamAnalyzer(s, [&](auto& analyzer) { analyzer.onEnd(dir, reason, ts, *this); });
}

void AppLayer::onFlowEnd(Flow& flow) {
  if (flow.app_state != kAnalyzedFlow) return;
  Session& s = sessions_[flow.app_session];
  current_flow_ = &flow;
  current_session_ = &s;
  if (s.tcp) {
    // Whatever is still buffered is delivered across its holes, then each
    // direction that has not ended ends with the flow.
    StreamFeed to_server(*this, s, StreamDir::kToServer);
    tcp_.close(s.stream[0], StreamEnd::kFlowEnd, to_server);
    StreamFeed to_client(*this, s, StreamDir::kToClient);
    tcp_.close(s.stream[1], StreamEnd::kFlowEnd, to_client);
    flushProbe(s);
  }
  withStreamAnalyzer(s, [&](auto& analyzer) {
    // SIP has nothing per connection to flush: its calls live in the worker's table.
    if constexpr (requires { analyzer.finish(flow.last_ts, *this); }) analyzer.finish(flow.last_ts, *this);
  });
  current_flow_ = nullptr;
  current_session_ = nullptr;
  releaseSession(flow, !s.tcp);
}

void AppLayer::advanceTime(Timestamp now) {
  // Call timeouts are minutes long: looking once a second of packet time is plenty.
  if (now < next_sip_expiry_) return;
  next_sip_expiry_ = now + kNanosPerSecond;
  sip_.expire(now, *this);
}

void AppLayer::finish(Timestamp now) { sip_.finish(now, *this); }

void AppLayer::emit(EventType type, std::unique_ptr<HepMessage> hep) {
  stats_.events.add();
  const std::string_view key = current_flow_ ? communityIdOf(*current_flow_) : std::string_view();
  publisher_.publish(type, key, event_, std::move(hep));
}

// The SIP message as HEP carries it: sender and receiver from the flow's
// orientation, the whole message as payload, the Call-ID to correlate, and
// with Kubernetes on, the pods of both ends from the snapshot the worker
// pinned for this batch (two lookups per SIP message, none per packet).
std::unique_ptr<HepMessage> AppLayer::hepMessage(const SipMessage& m) const {
  if (!publisher_.wantsHep() || m.raw.empty()) return nullptr;
  const Flow& flow = *current_flow_;
  const FlowEnds ends = flowEnds(flow);
  const bool from_client = m.dir == StreamDir::kToServer;
  auto hep = std::make_unique<HepMessage>();
  hep->proto_type = 1;
  hep->ip_version = flow.key.ip_version;
  hep->ip_proto = flow.key.proto;
  hep->src_ip = from_client ? *ends.client_ip : *ends.server_ip;
  hep->dst_ip = from_client ? *ends.server_ip : *ends.client_ip;
  hep->src_port = from_client ? ends.client_port : ends.server_port;
  hep->dst_port = from_client ? ends.server_port : ends.client_port;
  hep->vlan = flow.vlan_count > 0 ? flow.vlan_ids[0] : 0;
  hep->ts = m.ts;
  hep->correlation_id = m.call_id;
  if (const ClusterSnapshot* cluster = publisher_.cluster()) {
    hep->src_pod = podReference(cluster->lookup(hep->src_ip, hep->ip_version));
    hep->dst_pod = podReference(cluster->lookup(hep->dst_ip, hep->ip_version));
  }
  hep->payload = m.raw;
  return hep;
}

// The running analyzer's flow, with its community id (computed once per flow,
// however many events and records it has).
EventFlow AppLayer::eventFlow() const {
  return EventFlow{*current_flow_, publisher_.cluster()};
}

void AppLayer::onHttpTransaction(const HttpTransaction& t) {
  if (!current_flow_) return;
  event_.clear();
  encodeHttpEvent(eventFlow(), t, event_);
  emit(EventType::kHttp);
}

void AppLayer::onSipMessage(const SipMessage& m) {
  if (!current_flow_) return;
  event_.clear();
  encodeSipMessageEvent(eventFlow(), m, event_);
  emit(EventType::kSip, hepMessage(m));
}

void AppLayer::onSipCall(const SipCall& c) {
  event_.clear();
  if (current_flow_) {
    const EventFlow flow = eventFlow();
    encodeSipCallEvent(&flow, c, event_);
  } else {
    encodeSipCallEvent(nullptr, c, event_);  // a timeout or the end of input ended it
  }
  emit(EventType::kSipCall);
}

void AppLayer::onDnsTransaction(const DnsTransaction& t) {
  if (!current_flow_) return;
  event_.clear();
  encodeDnsEvent(eventFlow(), t, event_);
  emit(EventType::kDns);
}

void AppLayer::onTlsHello(const TlsHello& h) {
  if (!current_flow_) return;
  event_.clear();
  encodeTlsEvent(eventFlow(), h, event_);
  emit(EventType::kTls);
}

}  // namespace tapflow
