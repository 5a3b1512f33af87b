// DNS analyzer: pairs queries with responses in one flow (a UDP 5-tuple or a
// TCP connection) and reports each transaction, answered or not, to a sink.
// Bounded per flow: pending queries and TCP message buffers are sized from
// DnsConfig and reused when the session is reset(); what parsing one message
// needs (the copied answers) is a DnsScratch that a worker's sessions share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "packet/timestamp.h"
#include "proto/dns/dns_name.h"
#include "proto/dns/dns_stats.h"
#include "proto/stream.h"

namespace tapflow {

struct DnsConfig {
  uint32_t max_pending_queries = 16;               // queries awaiting a response, per flow (at least 1)
  uint32_t max_answers = 16;                       // answers copied into an event (the rest counted in answer_count)
  Duration query_timeout = 10 * kNanosPerSecond;   // unanswered query reported after this
  uint32_t max_tcp_message = 16 * 1024;            // TCP message bytes kept and parsed (at least 512); the rest skipped
  uint32_t max_answer_text = 4096;                 // bytes of answer names and data per event (at least 1024)
};

// Longest answer data text; longer TXT is cut (counted in txt_truncated).
constexpr size_t kDnsMaxDataText = 512;

struct DnsAnswer {
  std::string_view name;  // owner name, as readDnsName writes it
  uint16_t type = 0, dns_class = 0;
  uint32_t ttl = 0;
  // A/AAAA as text IP, CNAME/NS/PTR/DNAME as a name, MX "pref name",
  // SRV "priority weight port target", TXT/SPF strings joined with nothing
  // between them, others (SOA included) empty; empty too when the record
  // data is malformed (counted).
  std::string_view data;
};

struct DnsTransaction {
  bool has_query = false, has_response = false, over_tcp = false;
  uint16_t id = 0;
  // The query's name when there is a query, else the response's: no trailing
  // dot, case as sent, bytes as sent (not escaped); "." is the root; empty
  // when the message had no question.
  std::string_view name;
  uint16_t qtype = 0, qclass = 0;
  uint8_t opcode = 0;  // 0 QUERY, 4 NOTIFY, 5 UPDATE...
  uint8_t rcode = 0;   // response code (0 NOERROR, 3 NXDOMAIN...), 4-bit header field
  bool truncated = false, authoritative = false, recursion_desired = false, recursion_available = false;
  // The response's answer section stopped early on a malformed record
  // (counted by reason): `answers` holds the records read before it.
  bool malformed = false;
  const DnsAnswer* answers = nullptr;
  size_t answers_reported = 0;  // <= max_answers, <= answer_count
  uint16_t answer_count = 0;    // ANCOUNT
  Timestamp query_ts = 0, response_ts = 0;  // TCP: time of the segment that completed the message
};

const char* dnsTypeName(uint16_t type);   // "A", "AAAA", "CNAME", ... or nullptr when unknown
const char* dnsRcodeName(uint8_t rcode);  // "NOERROR", "NXDOMAIN", ... or nullptr when unassigned

class DnsEventSink {
 public:
  virtual ~DnsEventSink() = default;
  // Strings and answers stay valid during the call only. The sink must not
  // call back into the session that reports.
  virtual void onDnsTransaction(const DnsTransaction& t) = 0;
};

// What parsing one message needs and no flow keeps: the question name, the
// answers copied for its event and their text. Sessions parse one message at a
// time and report it before they return, so one scratch serves every session
// of a worker, and a session costs only what it keeps between messages.
struct DnsScratch {
  explicit DnsScratch(const DnsConfig& config);

  std::vector<DnsAnswer> answers;  // max_answers entries
  std::vector<char> answer_text;   // max_answer_text bytes: the answers' names and data, packed
  size_t answers_reported = 0;
  char qname[kDnsMaxNameText];     // question name of the message being parsed
  char name[kDnsMaxNameText];      // one answer's name and data, before they are packed
  char data[kDnsMaxDataText];
};

class DnsSession {
 public:
  // `scratch` must outlive the session; sessions sharing it must not run
  // concurrently (one worker's).
  DnsSession(const DnsConfig& config, DnsStats& stats, DnsScratch& scratch);
  DnsSession(const DnsSession&) = delete;
  DnsSession& operator=(const DnsSession&) = delete;
  DnsSession(DnsSession&&) = default;

  // Forgets the flow (pending queries unreported), keeps the buffers.
  void reset();

  // One UDP datagram (IP fragments already joined): one DNS message.
  // Queries and responses are told apart by the QR bit, not by `dir`.
  void onDatagram(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, DnsEventSink& sink);
  // TCP stream bytes in order: messages behind a 2-byte length (RFC 7766),
  // split across calls or several per call.
  void onData(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, DnsEventSink& sink);
  // Bytes missing from a TCP direction. Inside a message: that message is
  // skipped, framing kept. Over a length prefix: the direction stops.
  void onGap(StreamDir dir, uint64_t len, DnsEventSink& sink);
  // A TCP direction ends; a message cut off there is counted and dropped.
  void onEnd(StreamDir dir, StreamEnd reason, Timestamp ts, DnsEventSink& sink);
  // Reports queries older than query_timeout as events without response.
  void expire(Timestamp now, DnsEventSink& sink);
  // Flow over: reports all pending queries as events without response.
  void finish(Timestamp ts, DnsEventSink& sink);

  size_t pendingQueries() const { return pending_.size(); }

 private:
  struct PendingQuery {
    Timestamp ts = 0;
    uint16_t id = 0, qtype = 0, qclass = 0;
    uint8_t opcode = 0;
    bool recursion_desired = false, over_tcp = false;
    uint16_t name_len = 0;
    char name[kDnsMaxNameText];
  };

  // Framing state of one TCP direction.
  struct TcpDirection {
    std::vector<uint8_t> buffer;  // first max_tcp_message bytes of the message; sized on first use
    uint8_t prefix[2] = {0, 0};
    uint8_t prefix_have = 0;      // length bytes seen for the current message
    uint32_t message_len = 0;     // from the prefix
    uint32_t message_have = 0;    // body bytes seen (buffered: min of this and the cap)
    bool lost = false;            // some body bytes fell in a gap: skip the message
    bool stopped = false;         // framing lost or stream ended: ignore the rest
    Timestamp last_ts = 0;        // of the last bytes, for a capped message that ends in a gap
  };

  struct Header {
    uint16_t id, flags, qdcount, ancount;
  };

  void onMessage(const uint8_t* msg, size_t len, bool complete, bool over_tcp, Timestamp ts, DnsEventSink& sink);
  void onQuery(const Header& h, size_t qname_len, uint16_t qtype, uint16_t qclass, bool over_tcp, Timestamp ts,
               DnsEventSink& sink);
  void onResponse(const Header& h, const uint8_t* msg, size_t len, size_t pos, bool complete, size_t qname_len,
                  uint16_t qtype, uint16_t qclass, bool over_tcp, Timestamp ts, DnsEventSink& sink);
  bool readAnswers(const Header& h, const uint8_t* msg, size_t len, size_t pos, bool complete);
  std::string_view formatData(const uint8_t* msg, size_t len, size_t pos, uint16_t rdlength, uint16_t type,
                              char* out);
  void countNameError(DnsNameError error, bool complete);
  void reportUnanswered(const PendingQuery& q, DnsEventSink& sink);
  void endMessage(TcpDirection& d);

  DnsConfig config_;
  DnsStats& stats_;
  uint32_t max_pending_;
  uint32_t max_tcp_message_;
  DnsScratch& scratch_;
  std::vector<PendingQuery> pending_;  // oldest first; at most max_pending_
  TcpDirection tcp_[2];
};

}  // namespace tapflow
