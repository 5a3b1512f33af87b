// TLS hello analyzer for one TCP connection: reassembles the ClientHello and
// the ServerHello from the handshake records of each direction (a hello may
// span several records and TCP segments) and emits one TlsHello event with
// SNI, ALPN, versions, chosen cipher and the JA3/JA3S/JA4 fingerprints.
// Nothing after the hellos is read: the rest of the connection is encrypted.
//
// Memory is fixed per session: a hello buffer of max_hello_bytes and a JA3
// buffer of max_ja3_bytes per direction, allocated when that direction's first
// bytes arrive (a flow that never sends any costs a few hundred bytes) and
// kept across reset(), so a recycled session allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "packet/timestamp.h"
#include "proto/stream.h"
#include "proto/tls/tls_hello.h"
#include "proto/tls/tls_stats.h"

namespace tapflow {

struct TlsConfig {
  // Longest hello parsed, counted as if in one record: 5-byte record header,
  // 4-byte handshake header and body. Longer ones are counted and skipped.
  uint32_t max_hello_bytes = 16384 + 5;
  // Longest JA3 or JA3S string kept (its hash is always computed). A usual
  // JA3 is 100-600 characters.
  uint32_t max_ja3_bytes = 4096;
};

class TlsEventSink {
 public:
  virtual ~TlsEventSink() = default;
  virtual void onTlsHello(const TlsHello& h) = 0;
};

// One per TCP connection; recycled with reset(). The event is emitted once:
// when the ServerHello is parsed (or later, when the client direction settles
// if its bytes came second), when both directions are settled (hello parsed,
// given up, or ended), or at finish(); never if neither hello was parsed.
class TlsSession {
 public:
  // `config` must outlive the session; `stats` are the worker's, shared by its sessions.
  TlsSession(const TlsConfig& config, TlsStats& stats);
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Back to a fresh connection; keeps the buffers.
  void reset();

  void onData(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, TlsEventSink& sink);
  // `len` bytes of `dir` never arrived: a hello not yet complete in that
  // direction is abandoned (counted). Gaps after the hello are ignored.
  void onGap(StreamDir dir, uint64_t len, TlsEventSink& sink);
  // `dir` delivers no more bytes; a hello cut short is counted.
  void onEnd(StreamDir dir, StreamEnd reason, Timestamp ts, TlsEventSink& sink);
  // Connection over: emits once if a hello was seen and nothing was emitted
  // yet; the session then ignores everything until reset().
  void finish(Timestamp ts, TlsEventSink& sink);
  // Both hellos seen (or parsing gave up, or the event went out): the caller
  // may stop feeding bytes.
  bool done() const;

  // Content detection on the first client bytes: a handshake record header
  // (type 22, version 3.x, sane length) and handshake type 1 (ClientHello).
  static bool looksLikeClientHello(const uint8_t* data, size_t len);

  // For tests and the fuzz target: whether `text` lies in the session's buffers.
  bool ownsText(std::string_view text) const;

 private:
  enum class Phase : uint8_t {
    kRecordHeader,  // collecting a 5-byte record header
    kRecordBody,    // copying `record_left` payload bytes of a handshake record
    kParsed,        // the hello was parsed; the rest of the direction is ignored
    kStopped,       // gave up (counted), or the direction ended
  };

  struct Direction {
    Phase phase = Phase::kRecordHeader;
    bool started = false;        // bytes arrived; `first_ts` is the first one's time
    bool any_record = false;     // a record header was accepted
    uint8_t header[5] = {};
    uint8_t header_len = 0;
    uint32_t record_left = 0;    // payload bytes of the current record still to come
    uint32_t message_len = 0;    // handshake bytes gathered in `message`
    uint32_t message_need = 0;   // 4 + body length once the handshake header is known, else 0
    Timestamp first_ts = 0;
    std::unique_ptr<uint8_t[]> message;  // capacity message_capacity_; allocated on first use
    std::unique_ptr<char[]> ja3;         // capacity config.max_ja3_bytes; allocated with `message`
    TlsHelloText text;
  };

  Direction& direction(StreamDir dir) { return directions_[static_cast<size_t>(dir)]; }
  static bool settled(const Direction& d) { return d.phase == Phase::kParsed || d.phase == Phase::kStopped; }
  // Direction `d` has bytes of a hello that did not complete.
  static bool midHello(const Direction& d) {
    return d.header_len > 0 || d.message_len > 0 || d.phase == Phase::kRecordBody;
  }

  void allocateBuffers(Direction& d);
  void acceptRecordHeader(StreamDir dir, Direction& d);
  void addHandshakeBytes(StreamDir dir, Direction& d, const uint8_t* data, size_t len);
  void parseHello(StreamDir dir, Direction& d);
  void stop(Direction& d, Counter& reason);
  void maybeEmit(TlsEventSink& sink);
  void emit(TlsEventSink& sink);

  const TlsConfig& config_;
  TlsStats& stats_;
  const size_t message_capacity_;  // handshake header and body: max_hello_bytes less the record header
  Direction directions_[2];
  TlsHello hello_;
  bool emitted_ = false;
  bool finished_ = false;
};

}  // namespace tapflow
