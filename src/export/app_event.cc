#include "export/app_event.h"

#include <algorithm>
#include <charconv>

#include "export/event_common.h"
#include "export/json_writer.h"

namespace tapflow {
namespace {

// The network object and both ends, for events that belong to a flow.
// The envelope and, when the event has a flow, its network identity and
// both ends; `from_client` says whether the event's source is the client.
void beginAnalyzerEvent(JsonWriter& w, const char* type, Timestamp start, Timestamp end, const EventFlow* f,
                        bool from_client) {
  beginEvent(w, type, start, end);
  w.endObject();
  if (!f) return;
  w.beginObject("network");
  writeNetworkIdentity(w, f->flow);
  writeVlans(w, f->flow);
  w.endObject();
  writeEndpoints(w, f->flow, from_client, f->cluster);
}

int64_t micros(Timestamp from, Timestamp to) { return int64_t((to - from) / 1000); }

// HTTP/1.1 and friends: the version text after "HTTP/".
std::string_view httpVersionNumber(std::string_view version) {
  constexpr std::string_view kPrefix = "HTTP/";
  if (version.substr(0, kPrefix.size()) == kPrefix) version.remove_prefix(kPrefix.size());
  return version;
}

void writeHeaders(JsonWriter& w, const HttpHeader* headers, size_t begin, size_t end) {
  if (begin >= end) return;
  w.beginObject("headers");
  for (size_t i = begin; i < end; ++i) {
    // Header names become keys: lowercase ASCII letters, digits and '-' only,
    // anything else is dropped so a hostile name cannot break the object.
    char name[64];
    size_t n = 0;
    for (char ch : headers[i].name) {
      if (n == sizeof(name)) break;
      char lower = (ch >= 'A' && ch <= 'Z') ? char(ch - 'A' + 'a') : ch;
      if ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') || lower == '-' || lower == '_') {
        name[n++] = lower;
      }
    }
    if (n == 0) continue;
    w.textField(std::string_view(name, n), headers[i].value);
  }
  w.endObject();
}

}  // namespace

void encodeHttpEvent(const EventFlow& flow, const HttpTransaction& t, std::string& out) {
  const Timestamp start = t.has_request ? t.request_ts : t.response_ts;
  const Timestamp end = t.has_response ? std::max(t.response_end_ts, t.response_ts) : start;
  JsonWriter w(out);
  beginAnalyzerEvent(w, "http", start, end, &flow, true);

  w.beginObject("http");
  std::string_view version = httpVersionNumber(t.has_request ? t.request_version : t.response_version);
  if (!version.empty()) w.textField("version", version);
  if (t.has_request) {
    w.beginObject("request");
    w.textField("method", t.method);
    w.beginObject("body").field("bytes", t.request_body_bytes).endObject();
    if (t.request_incomplete) w.field("incomplete", true);
    w.endObject();
  }
  if (t.has_response) {
    w.beginObject("response");
    w.field("status_code", unsigned(t.status_code));
    if (!t.reason.empty()) w.textField("reason", t.reason);
    w.beginObject("body").field("bytes", t.response_body_bytes).endObject();
    if (t.informational_status != 0) w.field("informational_status_code", unsigned(t.informational_status));
    if (t.response_incomplete) w.field("incomplete", true);
    w.endObject();
    if (t.has_request) w.field("latency_us", micros(t.request_ts, t.response_ts));
  }
  if (!t.upgrade.empty()) w.textField("upgrade", t.upgrade);
  if (t.header_count > 0) writeHeaders(w, t.headers, 0, t.header_count);
  w.endObject();

  if (t.has_request && (!t.url.empty() || !t.host.empty())) {
    w.beginObject("url");
    if (!t.url.empty()) w.textField("original", t.url);
    if (!t.host.empty()) w.textField("domain", t.host);
    w.endObject();
  }
  if (!t.user_agent.empty()) w.beginObject("user_agent").textField("original", t.user_agent).endObject();
  writeTunnel(w, flow.flow);
  w.endObject();
}

void encodeSipMessageEvent(const EventFlow& flow, const SipMessage& m, std::string& out) {
  JsonWriter w(out);
  beginAnalyzerEvent(w, "sip", m.ts, m.ts, &flow, m.dir == StreamDir::kToServer);

  w.beginObject("sip");
  if (m.is_request) {
    w.textField("method", m.method);
    if (!m.request_uri.empty()) w.textField("request_uri", m.request_uri);
  } else {
    w.field("status_code", unsigned(m.status_code));
    if (!m.reason.empty()) w.textField("reason", m.reason);
  }
  w.textField("call_id", m.call_id);
  w.beginObject("cseq").field("number", uint64_t(m.cseq_number)).textField("method", m.cseq_method).endObject();
  w.beginObject("from").textField("uri", m.from_uri);
  if (!m.from_tag.empty()) w.textField("tag", m.from_tag);
  w.endObject();
  w.beginObject("to").textField("uri", m.to_uri);
  if (!m.to_tag.empty()) w.textField("tag", m.to_tag);
  w.endObject();
  if (!m.via_branch.empty()) w.beginObject("via").textField("branch", m.via_branch).endObject();
  if (!m.user_agent.empty()) w.textField("user_agent", m.user_agent);
  if (!m.pai_uri.empty()) w.textField("pai", m.pai_uri);
  if (m.media_count > 0) {
    w.beginArray("media");
    for (size_t i = 0; i < m.media_count; ++i) {
      const SipMedia& media = m.media[i];
      w.beginObjectElement();
      w.textField("type", media.type).textField("address", media.address).field("port", unsigned(media.port));
      w.textField("protocol", media.protocol);
      w.beginArray("codecs");
      for (size_t c = 0; c < media.codec_count; ++c) w.textElement(media.codecs[c]);
      w.endArray();
      w.endObject();
    }
    w.endArray();
  }
  w.endObject();
  writeTunnel(w, flow.flow);
  w.endObject();
}

void encodeSipCallEvent(const EventFlow* flow, const SipCall& c, std::string& out) {
  JsonWriter w(out);
  beginAnalyzerEvent(w, "sip_call", c.invite_ts, std::max(c.end_ts, c.invite_ts), flow, true);

  w.beginObject("sip");
  w.textField("call_id", c.call_id);
  w.beginObject("from").textField("uri", c.from_uri).endObject();
  w.beginObject("to").textField("uri", c.to_uri).endObject();
  w.beginObject("call");
  if (c.final_status != 0) w.field("status", unsigned(c.final_status));
  w.field("end_reason", sipEndReasonName(c.end_reason));
  w.field("hangup", sipHangupName(c.hangup));
  // Setup: INVITE to the final response; ring: INVITE to the first 180/183;
  // duration: answer to the end of the call.
  if (c.answer_ts != 0) {
    w.field("setup_us", micros(c.invite_ts, c.answer_ts));
  }
  if (c.ringing_ts != 0) w.field("ring_us", micros(c.invite_ts, c.ringing_ts));
  if (c.answer_ts != 0 && c.end_ts >= c.answer_ts) w.field("duration_us", micros(c.answer_ts, c.end_ts));
  w.endObject();
  w.endObject();
  if (flow) writeTunnel(w, flow->flow);
  w.endObject();
}

namespace {

void writeDnsType(JsonWriter& w, const char* key, uint16_t type) {
  if (const char* name = dnsTypeName(type)) {
    w.field(key, name);
  } else {
    char buf[16] = "TYPE";
    *std::to_chars(buf + 4, buf + sizeof(buf) - 1, unsigned(type)).ptr = '\0';
    w.field(key, std::string_view(buf));
  }
}

}  // namespace

void encodeDnsEvent(const EventFlow& flow, const DnsTransaction& t, std::string& out) {
  const Timestamp start = t.has_query ? t.query_ts : t.response_ts;
  const Timestamp end = t.has_response ? t.response_ts : start;
  JsonWriter w(out);
  beginAnalyzerEvent(w, "dns", start, end, &flow, true);

  w.beginObject("dns");
  w.field("id", unsigned(t.id));
  if (t.opcode != 0) w.field("op_code", unsigned(t.opcode));
  w.beginObject("question").textField("name", t.name);
  writeDnsType(w, "type", t.qtype);
  w.field("class", t.qclass == 1 ? "IN" : (t.qclass == 3 ? "CH" : (t.qclass == 4 ? "HS" : "OTHER")));
  w.endObject();
  if (t.has_response) {
    if (const char* rcode = dnsRcodeName(t.rcode)) {
      w.field("response_code", rcode);
    } else {
      w.field("response_code", unsigned(t.rcode));
    }
    w.beginArray("header_flags");
    if (t.authoritative) w.textElement("AA");
    if (t.truncated) w.textElement("TC");
    if (t.recursion_desired) w.textElement("RD");
    if (t.recursion_available) w.textElement("RA");
    w.endArray();
    w.field("answer_count", unsigned(t.answer_count));
    if (t.answers_reported > 0) {
      w.beginArray("answers");
      for (size_t i = 0; i < t.answers_reported; ++i) {
        const DnsAnswer& a = t.answers[i];
        w.beginObjectElement().textField("name", a.name);
        writeDnsType(w, "type", a.type);
        w.field("ttl", uint64_t(a.ttl));
        if (!a.data.empty()) w.textField("data", a.data);
        w.endObject();
      }
      w.endArray();
      // Addresses only: a malformed A or AAAA record has no data.
      const auto isAddress = [&](size_t i) {
        return (t.answers[i].type == 1 || t.answers[i].type == 28) && !t.answers[i].data.empty();
      };
      bool any_ip = false;
      for (size_t i = 0; i < t.answers_reported; ++i) any_ip |= isAddress(i);
      if (any_ip) {
        w.beginArray("resolved_ip");
        for (size_t i = 0; i < t.answers_reported; ++i) {
          if (isAddress(i)) w.textElement(t.answers[i].data);
        }
        w.endArray();
      }
    }
    if (t.malformed) w.field("malformed", true);
    if (t.has_query) w.field("latency_us", micros(t.query_ts, t.response_ts));
  } else if (t.recursion_desired) {
    w.beginArray("header_flags").textElement("RD").endArray();
  }
  w.endObject();
  writeTunnel(w, flow.flow);
  w.endObject();
}

namespace {

// A registry name when there is one, else the number as 0xhhhh.
void writeNameOrHex(JsonWriter& w, const char* key, const char* name, uint16_t value) {
  if (name) {
    w.field(key, name);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[6] = {'0', 'x'};
  for (int i = 0; i < 4; ++i) buf[2 + i] = kHex[(value >> (12 - 4 * i)) & 15];
  w.field(key, std::string_view(buf, 6));
}

}  // namespace

void encodeTlsEvent(const EventFlow& flow, const TlsHello& h, std::string& out) {
  const Timestamp start = h.has_client_hello ? h.client_hello_ts : h.server_hello_ts;
  const Timestamp end = h.has_server_hello ? h.server_hello_ts : start;
  JsonWriter w(out);
  beginAnalyzerEvent(w, "tls", start, end, &flow, true);

  w.beginObject("tls");
  if (h.has_client_hello) {
    w.beginObject("client");
    if (!h.sni.empty()) w.textField("server_name", h.sni);
    if (h.alpn_count > 0) {
      w.beginArray("alpn");
      for (size_t i = 0; i < h.alpn_count; ++i) w.textElement(h.alpn[i]);
      w.endArray();
    }
    if (h.supported_version_count > 0) {
      w.beginArray("supported_versions");
      for (size_t i = 0; i < h.supported_version_count; ++i) {
        if (const char* name = tlsVersionName(h.supported_versions[i])) w.textElement(name);
      }
      w.endArray();
    }
    if (!h.ja3_hash.empty()) w.field("ja3", h.ja3_hash);
    if (!h.ja3.empty()) w.field("ja3_string", h.ja3);
    if (!h.ja4.empty()) w.field("ja4", h.ja4);
    w.endObject();
  }
  if (h.has_server_hello) {
    writeNameOrHex(w, "version", tlsVersionName(h.server_version), h.server_version);
    w.field("version_protocol", "tls");
    writeNameOrHex(w, "cipher", tlsCipherName(h.cipher), h.cipher);
    if (!h.ja3s_hash.empty()) w.beginObject("server").field("ja3s", h.ja3s_hash).endObject();
  }
  w.endObject();
  writeTunnel(w, flow.flow);
  w.endObject();
}

}  // namespace tapflow
