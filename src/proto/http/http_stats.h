// Counters of the HTTP/1.x analyzer, one set per worker shared by its sessions.
// Every message the analyzer drops or cuts is counted under one reason.
#pragma once

#include "ops/counter.h"

namespace tapflow {

#define TF_HTTP_STATS(C)                                                                                  \
  C(requests, "Request heads parsed (start line and headers valid)")                                      \
  C(responses, "Final response heads parsed (not 1xx, except 101 which ends HTTP on the connection)")     \
  C(informational_responses, "1xx responses other than 101 (e.g. 100 Continue) before a final response") \
  C(transactions, "HTTP transaction events emitted (request, response or both)")                          \
  C(upgrades, "Connections that left HTTP: 101 Switching Protocols or a 2xx answer to CONNECT")          \
  C(unanswered_requests, "Requests emitted without a response: the connection ended first")               \
  C(responses_without_request, "Responses emitted without a request (never seen, dropped or not kept)")   \
  C(pending_overflow, "Requests not kept for pairing: http.max_pending_requests await their response")    \
  C(pending_bytes_overflow, "Requests not kept for pairing: their fields did not fit in http.max_pending_bytes") \
  C(gaps, "Gaps (bytes the reassembler never got) in HTTP streams")                                       \
  C(gap_bytes, "Bytes missing in those gaps")                                                             \
  C(messages_lost_in_gap, "Messages dropped: a gap covered their start line or headers")                 \
  C(messages_truncated, "Messages dropped: the stream ended inside their start line or headers")         \
  C(bodies_with_gap, "Messages whose body had a gap: bytes skipped, message marked incomplete")          \
  C(bodies_cut_by_end, "Messages whose body the end of the stream cut: marked incomplete")               \
  C(bad_start_line, "Messages dropped: the first line is not a request line or status line")             \
  C(bad_header_line, "Messages dropped: a header line without colon, or with an empty or non-token name") \
  C(head_too_long, "Messages dropped: start line and headers longer than http.max_header_bytes")         \
  C(bad_content_length, "Messages dropped: Content-Length not a number, or several different values")    \
  C(bad_transfer_encoding, "Requests dropped: Transfer-Encoding whose last coding is not chunked")        \
  C(bad_chunk_size, "Messages cut: chunk-size line not hexadecimal, over 16 digits or too long")         \
  C(bad_chunk_end, "Messages cut: chunk data not followed by CRLF")                                       \
  C(trailers_too_long, "Messages cut: trailer section longer than http.max_header_bytes")                 \
  C(length_and_transfer_encoding, "Messages with both Transfer-Encoding and Content-Length (length ignored; a smuggling sign)") \
  C(folded_header_lines, "Obsolete folded header lines (continuations), ignored")                        \
  C(headers_not_copied, "Allow-listed headers left out of events: over http.max_copied_headers in a message") \
  C(resync_bytes, "Bytes of dropped heads and bytes skipped looking for the next start line")

struct HttpStats {
  TF_HTTP_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_HTTP_STATS(TF_VISIT_COUNTER)
  }
};

}  // namespace tapflow
