// Counters of the SIP analyzer: messages, calls, and every malformed input,
// drop and cap hit by its own name. One set per worker (per SipAnalyzer).
#pragma once

#include "ops/counter.h"

namespace tapflow {

#define TF_SIP_STATS(C)                                                                                   \
  C(requests, "SIP requests parsed and reported")                                                         \
  C(responses, "SIP responses parsed and reported")                                                       \
  C(keepalives, "Keep-alive CRLF datagrams or CRLF runs between messages on TCP (RFC 5626), ignored")     \
  C(calls_started, "Calls started by an initial INVITE (no To tag, Call-ID not tracked)")                 \
  C(calls_ended, "Call summaries emitted, whatever the end reason (BYE, CANCEL, failure, timeout, flush)") \
  C(calls_timed_out, "Calls ended by sip.setup_timeout or sip.call_timeout")                              \
  C(calls_flushed, "Calls still open at end of input or shutdown")                                        \
  C(calls_table_full, "Initial INVITEs not tracked: the call table was full (sip.max_calls)")             \
  C(untracked_reinvites, "INVITEs with a To tag for a Call-ID not tracked: mid-call, not started as calls") \
  C(orphan_byes, "BYEs for a Call-ID not tracked")                                                         \
  C(truncated_fields, "Call-ID, URI or tag longer than the call table keeps: stored truncated")           \
  C(malformed_start_line, "Messages dropped: request or status line is not SIP/2.0")                      \
  C(malformed_missing_call_id, "Messages dropped: no Call-ID header")                                     \
  C(malformed_missing_cseq, "Messages dropped: no CSeq header")                                           \
  C(malformed_bad_cseq, "Messages dropped: CSeq is not a 32-bit number and a method")                     \
  C(malformed_missing_from, "Messages dropped: no From header")                                           \
  C(malformed_missing_to, "Messages dropped: no To header")                                               \
  C(malformed_bad_address, "Messages dropped: From or To is not a valid name-addr or addr-spec")          \
  C(malformed_bad_content_length, "Messages dropped: Content-Length not a number or given twice unequal") \
  C(malformed_truncated_datagram, "Datagrams dropped: Content-Length beyond the end of the datagram")      \
  C(malformed_too_long, "Messages dropped: longer than sip.max_message_bytes")                            \
  C(bad_header_lines, "Header lines without a colon or a valid name, skipped")                            \
  C(sdp_bad_lines, "SDP m= or c= lines that could not be parsed, skipped")                                \
  C(sdp_media_truncated, "SDP m= lines past the 4 reported per message")                                  \
  C(sdp_codecs_truncated, "SDP payload formats past the 8 reported per m= line")                          \
  C(gaps, "Gaps (lost bytes) in TCP streams carrying SIP")                                                \
  C(gap_messages_lost, "Partial TCP messages dropped because a gap fell inside them")                     \
  C(stream_messages_truncated, "Partial TCP messages dropped because the stream ended")                   \
  C(resyncs, "TCP resynchronisations: bytes dropped until a line that looks like a SIP start line")       \
  C(bytes_skipped, "TCP bytes dropped while resynchronising or skipping an over-long message")

struct SipStats {
  TF_SIP_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_SIP_STATS(TF_VISIT_COUNTER)
  }
};

}  // namespace tapflow
