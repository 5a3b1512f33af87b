// DNS analyzer: message parsing, query/response pairing and TCP framing.
// Input is hostile: every read is checked against the message length, names
// go through readDnsName, and all text lands in fixed buffers (the session's
// and its worker's DnsScratch).
#include "proto/dns/dns_session.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "packet/ip_text.h"

namespace tapflow {
namespace {

constexpr uint32_t kMinTcpMessageCap = 512;  // a whole classic UDP-sized message always fits
constexpr uint32_t kMinAnswerText = 1024;    // the longest answer (name and data) always fits

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Resolvers may change letter case (0x20 randomisation, or servers that do
// not preserve it), so names pair case-insensitively.
bool sameName(const char* a, size_t a_len, const char* b, size_t b_len) {
  if (a_len != b_len) return false;
  for (size_t i = 0; i < a_len; ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

// Writes the unsigned decimal of v at out, returns the end.
char* putNumber(char* out, uint32_t v) { return std::to_chars(out, out + 10, v).ptr; }

}  // namespace

const char* dnsTypeName(uint16_t type) {
  switch (type) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 13: return "HINFO";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 35: return "NAPTR";
    case 39: return "DNAME";
    case 41: return "OPT";
    case 43: return "DS";
    case 46: return "RRSIG";
    case 47: return "NSEC";
    case 48: return "DNSKEY";
    case 50: return "NSEC3";
    case 52: return "TLSA";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 99: return "SPF";
    case 251: return "IXFR";
    case 252: return "AXFR";
    case 255: return "ANY";
    case 257: return "CAA";
    default: return nullptr;
  }
}

const char* dnsRcodeName(uint8_t rcode) {
  switch (rcode) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    case 6: return "YXDOMAIN";
    case 7: return "YXRRSET";
    case 8: return "NXRRSET";
    case 9: return "NOTAUTH";
    case 10: return "NOTZONE";
    case 11: return "DSOTYPENI";
    default: return nullptr;
  }
}

DnsScratch::DnsScratch(const DnsConfig& config)
    : answers(config.max_answers), answer_text(std::max(config.max_answer_text, kMinAnswerText)) {}

DnsSession::DnsSession(const DnsConfig& config, DnsStats& stats, DnsScratch& scratch)
    : config_(config),
      stats_(stats),
      max_pending_(std::max<uint32_t>(config.max_pending_queries, 1)),
      max_tcp_message_(std::max(config.max_tcp_message, kMinTcpMessageCap)),
      scratch_(scratch) {
  // Room for a resolver's usual pair (A and AAAA); more grows the vector up
  // to max_pending_ once, and the pooled session keeps it. Reserving 16 up
  // front cost every session a page.
  pending_.reserve(std::min<uint32_t>(max_pending_, 2));
}

void DnsSession::reset() {
  pending_.clear();
  for (TcpDirection& d : tcp_) {
    d.prefix_have = 0;
    d.message_len = d.message_have = 0;
    d.lost = d.stopped = false;
    d.last_ts = 0;
  }
}

void DnsSession::countNameError(DnsNameError error, bool complete) {
  switch (error) {
    case DnsNameError::kNone: break;
    case DnsNameError::kTruncated:
      // A capped TCP message ends early by our choice, not the sender's.
      if (complete) stats_.malformed_truncated.add();
      break;
    case DnsNameError::kPointerLoop: stats_.malformed_pointer_loop.add(); break;
    case DnsNameError::kTooLong: stats_.malformed_name_too_long.add(); break;
    case DnsNameError::kBadLabel: stats_.malformed_bad_label.add(); break;
  }
}

void DnsSession::onDatagram(StreamDir, const uint8_t* data, size_t len, Timestamp ts, DnsEventSink& sink) {
  onMessage(data, len, true, false, ts, sink);
}

void DnsSession::onMessage(const uint8_t* msg, size_t len, bool complete, bool over_tcp, Timestamp ts,
                           DnsEventSink& sink) {
  if (len < kDnsHeaderLength) {
    stats_.malformed_truncated.add();
    return;
  }
  const Header h{be16(msg), be16(msg + 2), be16(msg + 4), be16(msg + 6)};
  if (h.qdcount != 1) stats_.bad_qdcount.add();
  size_t pos = kDnsHeaderLength;
  size_t qname_len = 0;
  uint16_t qtype = 0, qclass = 0;
  if (h.qdcount >= 1) {
    const DnsNameError error = readDnsName(msg, len, pos, scratch_.qname, qname_len);
    if (error != DnsNameError::kNone) {
      // The question fits in any capped message: a short one is malformed.
      countNameError(error, true);
      return;
    }
    if (len - pos < 4) {
      stats_.malformed_truncated.add();
      return;
    }
    qtype = be16(msg + pos);
    qclass = be16(msg + pos + 2);
    pos += 4;
  }
  if ((h.flags & 0x8000) == 0) {
    onQuery(h, qname_len, qtype, qclass, over_tcp, ts, sink);
  } else {
    onResponse(h, msg, len, pos, complete, qname_len, qtype, qclass, over_tcp, ts, sink);
  }
}

void DnsSession::reportUnanswered(const PendingQuery& q, DnsEventSink& sink) {
  stats_.unanswered.add();
  DnsTransaction t;
  t.has_query = true;
  t.over_tcp = q.over_tcp;
  t.id = q.id;
  t.name = std::string_view(q.name, q.name_len);
  t.qtype = q.qtype;
  t.qclass = q.qclass;
  t.opcode = q.opcode;
  t.recursion_desired = q.recursion_desired;
  t.query_ts = q.ts;
  sink.onDnsTransaction(t);
}

void DnsSession::onQuery(const Header& h, size_t qname_len, uint16_t qtype, uint16_t qclass, bool over_tcp,
                         Timestamp ts, DnsEventSink& sink) {
  stats_.queries.add();
  for (const PendingQuery& q : pending_) {
    if (q.id == h.id && q.qtype == qtype && sameName(q.name, q.name_len, scratch_.qname, qname_len)) {
      stats_.queries_retransmitted.add();  // the first copy keeps its time
      return;
    }
  }
  if (pending_.size() >= max_pending_) {
    stats_.pending_overflow.add();
    reportUnanswered(pending_.front(), sink);
    pending_.erase(pending_.begin());
  }
  PendingQuery& q = pending_.emplace_back();
  q.ts = ts;
  q.id = h.id;
  q.qtype = qtype;
  q.qclass = qclass;
  q.opcode = static_cast<uint8_t>((h.flags >> 11) & 0xF);
  q.recursion_desired = h.flags & 0x0100;
  q.over_tcp = over_tcp;
  q.name_len = static_cast<uint16_t>(qname_len);
  std::memcpy(q.name, scratch_.qname, qname_len);
}

std::string_view DnsSession::formatData(const uint8_t* msg, size_t len, size_t pos, uint16_t rdlength,
                                        uint16_t type, char* out) {
  const size_t end = pos + rdlength;  // caller checked end <= len
  // A name that must fill the record data exactly, after `skip` fixed bytes
  // already written as text (`prefix_len` chars at out).
  const auto nameData = [&](size_t skip, size_t prefix_len) -> std::string_view {
    if (rdlength < skip + 1) {
      stats_.malformed_bad_rdata.add();
      return {};
    }
    size_t name_pos = pos + skip;
    size_t name_len = 0;
    const DnsNameError error = readDnsName(msg, len, name_pos, out + prefix_len, name_len);
    if (error != DnsNameError::kNone && error != DnsNameError::kTruncated) {
      countNameError(error, true);
      return {};
    }
    if (error == DnsNameError::kTruncated || name_pos != end) {
      stats_.malformed_bad_rdata.add();
      return {};
    }
    return std::string_view(out, prefix_len + name_len);
  };
  switch (type) {
    case 1:  // A
    case 28: {  // AAAA
      if (rdlength != (type == 1 ? 4 : 16)) break;
      IpAddress ip{};
      std::memcpy(ip.bytes, msg + pos, rdlength);
      return std::string_view(out, formatIp(ip, type == 1 ? 4 : 6, out));
    }
    case 2:   // NS
    case 5:   // CNAME
    case 12:  // PTR
    case 39:  // DNAME
      return nameData(0, 0);
    case 15: {  // MX: preference, exchange
      if (rdlength < 3) break;
      char* p = putNumber(out, be16(msg + pos));
      *p++ = ' ';
      return nameData(2, static_cast<size_t>(p - out));
    }
    case 33: {  // SRV: priority, weight, port, target
      if (rdlength < 7) break;
      char* p = out;
      for (size_t i = 0; i < 3; ++i) {
        p = putNumber(p, be16(msg + pos + 2 * i));
        *p++ = ' ';
      }
      return nameData(6, static_cast<size_t>(p - out));
    }
    case 16:    // TXT
    case 99: {  // SPF
      size_t text_len = 0;
      bool cut = false;
      size_t at = pos;
      while (at < end) {
        const size_t n = msg[at];
        if (n > end - at - 1) {
          stats_.malformed_bad_rdata.add();
          return {};
        }
        const size_t room = kDnsMaxDataText - text_len;
        if (n > room) cut = true;
        std::memcpy(out + text_len, msg + at + 1, std::min(n, room));
        text_len += std::min(n, room);
        at += 1 + n;
      }
      if (cut) stats_.txt_truncated.add();
      return std::string_view(out, text_len);
    }
    default:
      return {};  // SOA and the rest: reported without data
  }
  stats_.malformed_bad_rdata.add();
  return {};
}

// Copies up to max_answers answer records; false when the section stops on a
// malformed record (counted). Records past the copied ones are not read.
bool DnsSession::readAnswers(const Header& h, const uint8_t* msg, size_t len, size_t pos, bool complete) {
  scratch_.answers_reported = 0;
  // The other questions sit between the first one and the answers.
  for (uint32_t i = 1; i < h.qdcount; ++i) {
    size_t name_len = 0;
    const DnsNameError error = readDnsName(msg, len, pos, nullptr, name_len);
    if (error != DnsNameError::kNone) {
      countNameError(error, complete);
      return error == DnsNameError::kTruncated && !complete;
    }
    if (len - pos < 4) {
      if (complete) stats_.malformed_truncated.add();
      return !complete;
    }
    pos += 4;
  }
  const size_t wanted = std::min<size_t>(h.ancount, scratch_.answers.size());
  if (h.ancount > wanted) stats_.answers_not_copied.add(h.ancount - wanted);
  size_t text_used = 0;
  for (size_t i = 0; i < wanted; ++i) {
    size_t name_len = 0;
    const DnsNameError error = readDnsName(msg, len, pos, scratch_.name, name_len);
    if (error != DnsNameError::kNone) {
      countNameError(error, complete);
      return error == DnsNameError::kTruncated && !complete;
    }
    if (len - pos < 10 || len - pos - 10 < be16(msg + pos + 8)) {
      if (complete) stats_.malformed_truncated.add();
      return !complete;
    }
    const uint16_t type = be16(msg + pos);
    const uint16_t dns_class = be16(msg + pos + 2);
    const uint32_t ttl = be32(msg + pos + 4);
    const uint16_t rdlength = be16(msg + pos + 8);
    pos += 10;
    const std::string_view data = formatData(msg, len, pos, rdlength, type, scratch_.data);
    pos += rdlength;
    // Names rarely come near 253 bytes: the text is packed, and a response
    // whose answers would not fit stops copying them.
    if (scratch_.answer_text.size() - text_used < name_len + data.size()) {
      stats_.answer_text_full.add();
      stats_.answers_not_copied.add(wanted - i);
      return true;
    }
    char* text = scratch_.answer_text.data() + text_used;
    std::memcpy(text, scratch_.name, name_len);
    // An empty record data view may have no pointer: memcpy wants one even for 0 bytes.
    if (!data.empty()) std::memcpy(text + name_len, data.data(), data.size());
    text_used += name_len + data.size();
    DnsAnswer& a = scratch_.answers[i];
    a.name = std::string_view(text, name_len);
    a.type = type;
    a.dns_class = dns_class;
    a.ttl = ttl;
    a.data = std::string_view(text + name_len, data.size());
    ++scratch_.answers_reported;
  }
  return true;
}

void DnsSession::onResponse(const Header& h, const uint8_t* msg, size_t len, size_t pos, bool complete,
                            size_t qname_len, uint16_t qtype, uint16_t qclass, bool over_tcp, Timestamp ts,
                            DnsEventSink& sink) {
  stats_.responses.add();
  const bool answers_ok = readAnswers(h, msg, len, pos, complete);

  DnsTransaction t;
  t.has_response = true;
  t.over_tcp = over_tcp;
  t.id = h.id;
  t.opcode = static_cast<uint8_t>((h.flags >> 11) & 0xF);
  t.rcode = static_cast<uint8_t>(h.flags & 0xF);
  t.authoritative = h.flags & 0x0400;
  t.truncated = h.flags & 0x0200;
  t.recursion_desired = h.flags & 0x0100;
  t.recursion_available = h.flags & 0x0080;
  t.malformed = !answers_ok;
  t.answers = scratch_.answers_reported > 0 ? scratch_.answers.data() : nullptr;
  t.answers_reported = scratch_.answers_reported;
  t.answer_count = h.ancount;
  t.response_ts = ts;

  // A response without a question (FORMERR, NOTIMP...) can only pair by id.
  auto match = std::find_if(pending_.begin(), pending_.end(), [&](const PendingQuery& q) {
    return q.id == h.id && (h.qdcount == 0 || (q.qtype == qtype && sameName(q.name, q.name_len, scratch_.qname, qname_len)));
  });
  if (match != pending_.end()) {
    stats_.transactions.add();
    t.has_query = true;
    t.over_tcp = over_tcp || match->over_tcp;
    t.name = std::string_view(match->name, match->name_len);
    t.qtype = match->qtype;
    t.qclass = match->qclass;
    t.recursion_desired = match->recursion_desired;
    t.query_ts = match->ts;
    sink.onDnsTransaction(t);
    pending_.erase(match);
  } else {
    stats_.responses_without_query.add();
    t.name = std::string_view(scratch_.qname, qname_len);
    t.qtype = qtype;
    t.qclass = qclass;
    sink.onDnsTransaction(t);
  }
}

void DnsSession::expire(Timestamp now, DnsEventSink& sink) {
  size_t kept = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (now - pending_[i].ts > config_.query_timeout) {
      reportUnanswered(pending_[i], sink);
    } else {
      if (kept != i) pending_[kept] = pending_[i];
      ++kept;
    }
  }
  pending_.resize(kept);  // shrinks: never allocates
}

void DnsSession::finish(Timestamp, DnsEventSink& sink) {
  for (const PendingQuery& q : pending_) reportUnanswered(q, sink);
  pending_.clear();
}

void DnsSession::endMessage(TcpDirection& d) {
  d.prefix_have = 0;
  d.message_len = d.message_have = 0;
  d.lost = false;
}

void DnsSession::onData(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, DnsEventSink& sink) {
  TcpDirection& d = tcp_[static_cast<size_t>(dir) & 1];
  d.last_ts = ts;
  while (len > 0 && !d.stopped) {
    if (d.prefix_have < 2) {
      // The common case, a whole message in one piece, is parsed in place.
      if (d.prefix_have == 0 && len >= 2) {
        const uint32_t message_len = be16(data);
        if (message_len >= kDnsHeaderLength && len - 2 >= message_len && message_len <= max_tcp_message_) {
          onMessage(data + 2, message_len, true, true, ts, sink);
          data += 2 + message_len;
          len -= 2 + message_len;
          continue;
        }
      }
      d.prefix[d.prefix_have++] = *data++;
      --len;
      if (d.prefix_have < 2) continue;
      d.message_len = be16(d.prefix);
      if (d.message_len < kDnsHeaderLength) {
        stats_.malformed_tcp_framing.add();
        d.stopped = true;
        return;
      }
      if (d.message_len > max_tcp_message_) stats_.tcp_messages_capped.add();
      if (d.buffer.size() < max_tcp_message_) d.buffer.resize(max_tcp_message_);  // once per session object
      continue;
    }
    const size_t take = std::min<size_t>(len, d.message_len - d.message_have);
    if (!d.lost && d.message_have < max_tcp_message_) {
      const size_t store = std::min<size_t>(take, max_tcp_message_ - d.message_have);
      std::memcpy(d.buffer.data() + d.message_have, data, store);
    }
    d.message_have += static_cast<uint32_t>(take);
    data += take;
    len -= take;
    if (d.message_have == d.message_len) {
      if (!d.lost) {
        const uint32_t stored = std::min(d.message_len, max_tcp_message_);
        onMessage(d.buffer.data(), stored, stored == d.message_len, true, ts, sink);
      }
      endMessage(d);
    }
  }
}

void DnsSession::onGap(StreamDir dir, uint64_t len, DnsEventSink& sink) {
  if (len == 0) return;
  stats_.gaps.add();
  TcpDirection& d = tcp_[static_cast<size_t>(dir) & 1];
  if (d.stopped) return;
  if (d.prefix_have < 2 || len > d.message_len - d.message_have) {
    // The gap hides where the next message starts.
    stats_.gap_streams_stopped.add();
    d.stopped = true;
    return;
  }
  // Bytes past the cap are skipped anyway: only a hole in the kept prefix loses the message.
  if (!d.lost && d.message_have < max_tcp_message_) {
    d.lost = true;
    stats_.gap_messages_lost.add();
  }
  d.message_have += static_cast<uint32_t>(len);
  if (d.message_have == d.message_len) {
    // A message ending in the gap is parsed only if it was capped before it.
    if (!d.lost) onMessage(d.buffer.data(), max_tcp_message_, false, true, d.last_ts, sink);
    endMessage(d);
  }
}

void DnsSession::onEnd(StreamDir dir, StreamEnd, Timestamp, DnsEventSink&) {
  TcpDirection& d = tcp_[static_cast<size_t>(dir) & 1];
  if (!d.stopped && (d.prefix_have > 0 || d.message_have > 0)) stats_.tcp_incomplete_at_end.add();
  d.stopped = true;
}

}  // namespace tapflow
