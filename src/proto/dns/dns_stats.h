// Counters of the DNS analyzer (UDP and TCP), one set per worker.
// Every malformed message, refused name and cap hit has its own counter.
#pragma once

#include "ops/counter.h"

namespace tapflow {

#define TF_DNS_STATS(C)                                                                                       \
  C(queries, "DNS queries parsed (QR=0), over UDP or TCP")                                                    \
  C(responses, "DNS responses parsed (QR=1), over UDP or TCP")                                                \
  C(transactions, "Responses paired with a pending query of the flow by (id, name, type)")                    \
  C(unanswered, "Queries reported without a response: timed out (dns.query_timeout), flow over, or pushed "  \
                "out by pending_overflow")                                                                    \
  C(responses_without_query, "Responses reported alone: no pending query of the flow had their (id, name, type)") \
  C(queries_retransmitted, "Queries ignored: same (id, name, type) as a query of the flow still waiting")     \
  C(pending_overflow, "Oldest pending query reported unanswered to make room: dns.max_pending_queries reached") \
  C(answers_not_copied, "Answer records past dns.max_answers or dns.max_answer_text: in answer_count, not copied") \
  C(answer_text_full, "DNS responses whose answers' text outgrew dns.max_answer_text: the rest not copied")    \
  C(txt_truncated, "TXT answers whose joined strings were cut to 512 bytes")                                  \
  C(malformed_truncated, "DNS messages or records cut short: a field runs past the end of the message")      \
  C(malformed_pointer_loop, "DNS names refused: compression pointer not strictly backwards (a loop), "        \
                            "into the header, or over 128 hops")                                              \
  C(malformed_name_too_long, "DNS names refused: longer than 255 bytes uncompressed")                         \
  C(malformed_bad_label, "DNS names refused: label type 0x40 or 0x80 (extended label) instead of a length")  \
  C(malformed_bad_rdata, "DNS answers whose record data does not fit their type (A not 4 bytes, name not "    \
                         "ending at RDLENGTH...); reported with empty data")                                  \
  C(bad_qdcount, "DNS messages with a question count other than 1 (0: paired by id alone; >1: first used)")  \
  C(malformed_tcp_framing, "TCP DNS directions no longer parsed: a length prefix under 12 bytes (not DNS)")  \
  C(gaps, "TCP gaps seen by the DNS analyzer")                                                                \
  C(gap_messages_lost, "TCP DNS messages skipped: some of their bytes were lost in a gap (framing kept)")     \
  C(gap_streams_stopped, "TCP DNS directions no longer parsed: a gap covered a length prefix, framing lost")   \
  C(tcp_messages_capped, "TCP DNS messages longer than dns.max_tcp_message: only their first bytes parsed")  \
  C(tcp_incomplete_at_end, "TCP DNS messages cut off by the end of their stream (FIN, RST, depth, flow end)")

struct DnsStats {
  TF_DNS_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_DNS_STATS(TF_VISIT_COUNTER)
  }
};

}  // namespace tapflow
