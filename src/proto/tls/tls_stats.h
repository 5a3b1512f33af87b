// Counters of the TLS hello analyzer, one set per worker shared by its
// sessions. Every hello that is not parsed is counted under one reason.
#pragma once

#include "ops/counter.h"

namespace tapflow {

#define TF_TLS_STATS(C)                                                                                        \
  C(client_hellos, "ClientHello messages parsed")                                                             \
  C(server_hellos, "ServerHello messages parsed (HelloRetryRequest included)")                                \
  C(hello_retry_requests, "ServerHellos that were a TLS 1.3 HelloRetryRequest (reported as the server hello)") \
  C(events, "TLS hello events emitted (one per connection at most)")                                          \
  C(sslv2_hellos, "SSLv2-compatible ClientHellos: not parsed")                                                \
  C(hello_too_long, "Hellos not parsed: record header, handshake header and body over tls.max_hello_bytes")   \
  C(gaps, "Gaps in a direction before its hello was complete: that direction is not parsed further")          \
  C(truncated_hellos, "Directions that ended (FIN, RST, depth limit, flow end) in the middle of their hello")  \
  C(not_handshake, "Directions whose first record was change_cipher_spec, application data or heartbeat "     \
                   "(picked up mid-stream): not parsed")                                                       \
  C(alerts_before_hello, "Directions whose first record was an alert (e.g. a server refusing the ClientHello)") \
  C(malformed_record_header, "Directions dropped: a record header with an unknown content type or a version " \
                             "other than 3.0-3.4 (not TLS)")                                                   \
  C(malformed_record_length, "Directions dropped: a handshake record of length 0 or over 2^14+2048")          \
  C(malformed_record_sequence, "Directions dropped: a non-handshake record inside a hello split over records") \
  C(malformed_unexpected_message, "Directions dropped: the first handshake message was not the expected "     \
                                  "hello (ClientHello to the server, ServerHello to the client)")              \
  C(malformed_client_hello, "ClientHellos dropped: a field overruns the message or a list length is invalid") \
  C(malformed_server_hello, "ServerHellos dropped: a field overruns the message or a list length is invalid") \
  C(malformed_extension, "Hello extensions (server_name, ALPN, supported_versions, supported_groups, "        \
                         "ec_point_formats, signature_algorithms) whose contents do not parse: ignored")      \
  C(alpn_over_limit, "ClientHellos offering more ALPN protocols than the 8 an event keeps")                  \
  C(versions_over_limit, "ClientHellos offering more supported_versions than the 16 an event keeps")         \
  C(ja3_too_long, "JA3/JA3S strings over tls.max_ja3_bytes: the string is left empty, its hash is kept")     \
  C(ja4_list_too_long, "ClientHellos with over 512 cipher suites, extensions or signature algorithms: JA4 left empty")

struct TlsStats {
  TF_TLS_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_TLS_STATS(TF_VISIT_COUNTER)
  }
};

}  // namespace tapflow
