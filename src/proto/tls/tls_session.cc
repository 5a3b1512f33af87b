// TLS record layer of the hello analyzer: per direction, record headers are
// checked and handshake payloads gathered into one buffer until the first
// handshake message (the hello) is whole; tls_hello.cc then parses it.
#include "proto/tls/tls_session.h"

#include <algorithm>
#include <cstring>

namespace tapflow {
namespace {

constexpr uint8_t kContentChangeCipherSpec = 20;
constexpr uint8_t kContentAlert = 21;
constexpr uint8_t kContentHandshake = 22;
constexpr uint8_t kContentApplicationData = 23;
constexpr uint8_t kContentHeartbeat = 24;
constexpr uint8_t kHandshakeClientHello = 1;
constexpr uint8_t kHandshakeServerHello = 2;
constexpr uint32_t kRecordHeaderBytes = 5;
constexpr uint32_t kHandshakeHeaderBytes = 4;
// RFC 8446 5.1 allows 2^14 bytes of plaintext; the extra 2048 (the ciphertext
// allowance) tolerates sloppy senders while still rejecting non-TLS bytes.
constexpr uint32_t kMaxRecordPayload = 16384 + 2048;

bool validRecordVersion(uint8_t major, uint8_t minor) { return major == 3 && minor <= 4; }

}  // namespace

TlsSession::TlsSession(const TlsConfig& config, TlsStats& stats)
    : config_(config),
      stats_(stats),
      message_capacity_(std::max<size_t>(config.max_hello_bytes, kRecordHeaderBytes + kHandshakeHeaderBytes) -
                        kRecordHeaderBytes) {}

void TlsSession::allocateBuffers(Direction& d) {
  // Left uninitialized: bytes are only read after being written.
  d.message.reset(new uint8_t[message_capacity_]);
  d.ja3.reset(new char[std::max<size_t>(config_.max_ja3_bytes, 1)]);
  d.text.ja3 = d.ja3.get();
  d.text.ja3_capacity = config_.max_ja3_bytes;
}

void TlsSession::reset() {
  for (Direction& d : directions_) {
    d.phase = Phase::kRecordHeader;
    d.started = false;
    d.any_record = false;
    d.header_len = 0;
    d.record_left = 0;
    d.message_len = 0;
    d.message_need = 0;
    d.first_ts = 0;
  }
  hello_ = TlsHello{};
  emitted_ = false;
  finished_ = false;
}

bool TlsSession::looksLikeClientHello(const uint8_t* data, size_t len) {
  if (data == nullptr || len < kRecordHeaderBytes + 1) return false;
  const uint32_t record_len = uint32_t(data[3]) << 8 | data[4];
  return data[0] == kContentHandshake && validRecordVersion(data[1], data[2]) && record_len > 0 &&
         record_len <= kMaxRecordPayload && data[5] == kHandshakeClientHello;
}

void TlsSession::stop(Direction& d, Counter& reason) {
  reason.add();
  d.phase = Phase::kStopped;
}

void TlsSession::acceptRecordHeader(StreamDir dir, Direction& d) {
  const uint8_t* h = d.header;
  // SSLv2-compatible hello: 2-byte length with the top bit set, message type 1
  // (CLIENT-HELLO), version 0x0002 or 3.x.
  if (!d.any_record && dir == StreamDir::kToServer && (h[0] & 0x80) != 0 && h[2] == 1 &&
      (h[3] == 0 || h[3] == 3)) {
    stop(d, stats_.sslv2_hellos);
    return;
  }
  if (!validRecordVersion(h[1], h[2])) {
    stop(d, stats_.malformed_record_header);
    return;
  }
  switch (h[0]) {
    case kContentHandshake:
      break;
    case kContentAlert:
      stop(d, d.any_record ? stats_.malformed_record_sequence : stats_.alerts_before_hello);
      return;
    case kContentChangeCipherSpec:
    case kContentApplicationData:
    case kContentHeartbeat:
      stop(d, d.any_record ? stats_.malformed_record_sequence : stats_.not_handshake);
      return;
    default:
      stop(d, stats_.malformed_record_header);
      return;
  }
  const uint32_t record_len = uint32_t(h[3]) << 8 | h[4];
  if (record_len == 0 || record_len > kMaxRecordPayload) {
    stop(d, stats_.malformed_record_length);
    return;
  }
  d.any_record = true;
  d.record_left = record_len;
  d.phase = Phase::kRecordBody;
}

void TlsSession::addHandshakeBytes(StreamDir dir, Direction& d, const uint8_t* data, size_t len) {
  size_t pos = 0;
  while (pos < len && d.phase == Phase::kRecordBody) {
    if (d.message_need == 0) {
      const size_t take = std::min<size_t>(kHandshakeHeaderBytes - d.message_len, len - pos);
      std::memcpy(d.message.get() + d.message_len, data + pos, take);
      d.message_len += uint32_t(take);
      pos += take;
      if (d.message_len < kHandshakeHeaderBytes) return;
      const uint8_t* m = d.message.get();
      const uint8_t expected = dir == StreamDir::kToServer ? kHandshakeClientHello : kHandshakeServerHello;
      if (m[0] != expected) {
        stop(d, stats_.malformed_unexpected_message);
        return;
      }
      const uint32_t body_len = uint32_t(m[1]) << 16 | uint32_t(m[2]) << 8 | m[3];
      const uint64_t hello_bytes = uint64_t(kRecordHeaderBytes) + kHandshakeHeaderBytes + body_len;
      if (hello_bytes > config_.max_hello_bytes) {
        stop(d, stats_.hello_too_long);
        return;
      }
      d.message_need = kHandshakeHeaderBytes + body_len;  // <= message_capacity_
    }
    const size_t take = std::min<size_t>(d.message_need - d.message_len, len - pos);
    std::memcpy(d.message.get() + d.message_len, data + pos, take);
    d.message_len += uint32_t(take);
    pos += take;
    if (d.message_len == d.message_need) parseHello(dir, d);
  }
}

void TlsSession::parseHello(StreamDir dir, Direction& d) {
  const uint8_t* body = d.message.get() + kHandshakeHeaderBytes;
  const size_t body_len = d.message_need - kHandshakeHeaderBytes;
  bool ok;
  if (dir == StreamDir::kToServer) {
    ok = parseClientHello(body, body_len, hello_, d.text, stats_);
    if (ok) hello_.client_hello_ts = d.first_ts;
  } else {
    ok = parseServerHello(body, body_len, hello_, d.text, stats_);
    if (ok) hello_.server_hello_ts = d.first_ts;
  }
  d.phase = ok ? Phase::kParsed : Phase::kStopped;  // a malformed hello was counted by the parser
}

void TlsSession::onData(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, TlsEventSink& sink) {
  Direction& d = direction(dir);
  if (finished_ || data == nullptr || len == 0 || settled(d)) return;
  if (!d.started) {
    d.started = true;
    d.first_ts = ts;
    if (!d.message) allocateBuffers(d);
  }
  size_t pos = 0;
  while (pos < len) {
    if (d.phase == Phase::kRecordHeader) {
      const size_t take = std::min<size_t>(kRecordHeaderBytes - d.header_len, len - pos);
      std::memcpy(d.header + d.header_len, data + pos, take);
      d.header_len = uint8_t(d.header_len + take);
      pos += take;
      if (d.header_len < kRecordHeaderBytes) break;
      d.header_len = 0;
      acceptRecordHeader(dir, d);
    } else if (d.phase == Phase::kRecordBody) {
      const size_t take = std::min<size_t>(d.record_left, len - pos);
      addHandshakeBytes(dir, d, data + pos, take);
      pos += take;
      if (d.phase != Phase::kRecordBody) break;
      d.record_left -= uint32_t(take);
      if (d.record_left == 0) d.phase = Phase::kRecordHeader;
    } else {
      break;
    }
  }
  maybeEmit(sink);
}

void TlsSession::onGap(StreamDir dir, uint64_t len, TlsEventSink& sink) {
  Direction& d = direction(dir);
  if (finished_ || len == 0 || settled(d)) return;
  stop(d, stats_.gaps);
  maybeEmit(sink);
}

void TlsSession::onEnd(StreamDir dir, StreamEnd /*reason*/, Timestamp /*ts*/, TlsEventSink& sink) {
  Direction& d = direction(dir);
  if (finished_ || settled(d)) return;
  if (midHello(d)) stats_.truncated_hellos.add();
  d.phase = Phase::kStopped;
  maybeEmit(sink);
}

void TlsSession::finish(Timestamp /*ts*/, TlsEventSink& sink) {
  if (finished_) return;
  for (Direction& d : directions_) {
    if (!settled(d) && midHello(d)) stats_.truncated_hellos.add();
    if (!settled(d)) d.phase = Phase::kStopped;
  }
  if (!emitted_ && (hello_.has_client_hello || hello_.has_server_hello)) emit(sink);
  finished_ = true;
}

bool TlsSession::done() const {
  return finished_ || emitted_ || (settled(directions_[0]) && settled(directions_[1]));
}

void TlsSession::maybeEmit(TlsEventSink& sink) {
  if (emitted_ || !settled(directions_[0]) || !settled(directions_[1])) return;
  if (hello_.has_client_hello || hello_.has_server_hello) emit(sink);
}

void TlsSession::emit(TlsEventSink& sink) {
  emitted_ = true;
  stats_.events.add();
  sink.onTlsHello(hello_);
}

bool TlsSession::ownsText(std::string_view text) const {
  if (text.empty()) return true;
  const auto inside = [&](const void* begin, size_t size) {
    const uintptr_t b = reinterpret_cast<uintptr_t>(begin), t = reinterpret_cast<uintptr_t>(text.data());
    return t >= b && t + text.size() <= b + size;
  };
  for (const Direction& d : directions_) {
    if (!d.message) continue;
    if (inside(d.message.get(), message_capacity_) || inside(d.ja3.get(), config_.max_ja3_bytes) ||
        inside(d.text.ja3_hash, sizeof(d.text.ja3_hash)) || inside(d.text.ja4, sizeof(d.text.ja4))) {
      return true;
    }
  }
  return false;
}

}  // namespace tapflow
