// Analyzer results as JSON events (schema in docs/events.md): one object per
// HTTP transaction, SIP message, SIP call, DNS transaction and TLS handshake,
// each with the envelope and network identity of its flow.
#pragma once

#include <string>
#include <string_view>

#include "flow/flow.h"
#include "proto/dns/dns_session.h"
#include "proto/http/http_session.h"
#include "proto/sip/sip_analyzer.h"
#include "proto/tls/tls_session.h"

namespace tapflow {

class ClusterSnapshot;

// The flow an analyzer event came from, with its community id when the
// caller keeps it (computing one costs a SHA-1; empty: computed here).
struct EventFlow {
  const Flow& flow;  // its Community ID: communityIdOf(flow)
  const ClusterSnapshot* cluster = nullptr;  // Kubernetes metadata for both ends, when enabled
};

void encodeHttpEvent(const EventFlow& flow, const HttpTransaction& t, std::string& out);
// source is the message's sender.
void encodeSipMessageEvent(const EventFlow& flow, const SipMessage& m, std::string& out);
// `flow` is the flow whose message ended the call, or nullptr when a timeout
// or the end of input did (the event then has no network fields).
void encodeSipCallEvent(const EventFlow* flow, const SipCall& c, std::string& out);
void encodeDnsEvent(const EventFlow& flow, const DnsTransaction& t, std::string& out);
void encodeTlsEvent(const EventFlow& flow, const TlsHello& h, std::string& out);

}  // namespace tapflow
