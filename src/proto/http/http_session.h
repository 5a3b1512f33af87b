// HTTP/1.0 and 1.1 analyzer for one TCP connection: reads both directions'
// in-order stream bytes (with gaps), pairs requests with responses in order
// (pipelining, keep-alive) and emits one transaction event per exchange.
//
// Memory is fixed per session: two head buffers of max_header_bytes and an
// arena of max_pending_bytes for the fields of requests awaiting their
// response, all sized at construction and kept across reset().
//
// Body bytes: the payload only. For chunked bodies the chunk data (after
// de-chunking, without sizes, extensions and trailers); bytes a gap skipped
// inside a body are counted as body bytes (the message is then incomplete).
//
// Errors: a message whose head is lost (gap, malformed, too long, cut) is
// dropped and counted; the direction then scans for a known method or
// "HTTP/1.x " anywhere in the bytes. Pairing stays in step: a dropped request
// leaves a placeholder, so its response is reported without request; a
// dropped response takes its request along (response_incomplete, no response).
// A request not kept (pending limits) leaves a placeholder too; its method is
// then unknown, so a HEAD response to it is read as if it had a body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "packet/timestamp.h"
#include "proto/http/http_parse.h"
#include "proto/http/http_stats.h"
#include "proto/stream.h"

namespace tapflow {

struct HttpConfig {
  enum class UrlMode : uint8_t {
    kFull,     // the request target as sent
    kNoQuery,  // cut at the first '?' or '#'
    kDrop,     // empty
  } url_mode = UrlMode::kFull;
  std::vector<std::string> headers;    // allow-list of header names copied into events (case-insensitive)
  uint32_t max_header_bytes = 16384;   // longest request/response head (start line + headers) kept
  uint32_t max_pending_requests = 32;  // pipelined requests waiting for their response
  // Bytes of request fields (method, URL, Host, User-Agent, allow-listed
  // headers) kept while their requests await a response; at least
  // max_header_bytes is used, so a lone request always fits.
  uint32_t max_pending_bytes = 32768;
  uint32_t max_copied_headers = 16;  // allow-listed headers copied per message; more are counted
};

struct HttpHeader {
  std::string_view name, value;
};

// Every view points into the session's buffers and stays valid only during
// the onHttpTransaction() call.
struct HttpTransaction {
  bool has_request = false, has_response = false;
  std::string_view method, url /* after url_mode; empty when dropped */, request_version /* "1.1" */,
      host, user_agent;
  uint16_t status_code = 0;
  std::string_view reason, response_version;
  uint64_t request_body_bytes = 0, response_body_bytes = 0;
  Timestamp request_ts = 0;       // first byte of the request
  Timestamp response_ts = 0;      // first byte of the (final, non-1xx) response
  Timestamp response_end_ts = 0;  // last byte of the response
  // The connection left HTTP after this exchange: the response's Upgrade
  // value for a 101 (empty if it had none), the method ("CONNECT") for a 2xx
  // answer to CONNECT.
  std::string_view upgrade;
  // A gap or the end of the stream cut the message. response_incomplete
  // without has_response: a response began but its head was lost (gap,
  // malformed head, or end of stream), so the request is reported alone.
  bool request_incomplete = false, response_incomplete = false;
  const HttpHeader* headers = nullptr;  // allow-listed, request's then response's, in order of appearance
  size_t header_count = 0;
  uint16_t informational_status = 0;  // last 1xx seen before the final response (e.g. 100), 0 if none
};

class HttpEventSink {
 public:
  virtual ~HttpEventSink() = default;
  virtual void onHttpTransaction(const HttpTransaction& t) = 0;
};

// One per TCP connection; recycled with reset(). Events are emitted when a
// response completes, and for what remains when the connection ends (both
// directions' onEnd, or finish()).
class HttpSession {
 public:
  // `config` must outlive the session; `stats` are the worker's, shared by its sessions.
  HttpSession(const HttpConfig& config, HttpStats& stats);
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // Back to a fresh connection; keeps the buffers.
  void reset();

  void onData(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, HttpEventSink& sink);
  // `len` bytes of `dir` never arrived. In a body they are skipped (counted as
  // body bytes, message incomplete); elsewhere the message is dropped and the
  // direction looks for the next start line.
  void onGap(StreamDir dir, uint64_t len, HttpEventSink& sink);
  // `dir` delivers no more bytes. A response without length ends here (only a
  // FIN ends it complete). After both directions end, finish() runs.
  void onEnd(StreamDir dir, StreamEnd reason, Timestamp ts, HttpEventSink& sink);
  // Connection over: emits what is pending (cut messages, requests without a
  // response), once; the session then ignores everything until reset().
  void finish(Timestamp ts, HttpEventSink& sink);

  // Content detection on the first client bytes: a known method and a space.
  static bool looksLikeRequest(const uint8_t* data, size_t len);
  // "HTTP/1." at the start.
  static bool looksLikeResponse(const uint8_t* data, size_t len);

  // For tests and the fuzz target: whether `text` lies in the session's buffers.
  bool ownsText(std::string_view text) const;

 private:
  enum class Phase : uint8_t {
    kStartLine,   // reading a start line (or empty lines before one)
    kSkipLine,    // skipping the rest of a line that cannot be a start line
    kScan,        // resynchronizing: looking for a method or "HTTP/1.x " anywhere
    kHeaders,     // reading header lines up to the empty line
    kBody,        // Content-Length body: `remaining` bytes left
    kChunkSize,   // chunk-size line
    kChunkData,   // chunk data: `remaining` bytes left
    kChunkEnd,    // CRLF after chunk data
    kTrailers,    // trailer lines up to the empty line
    kUntilClose,  // response body delimited by the end of the connection
    kStopped,     // ended, or the connection left HTTP
  };
  enum class ChunkLine : uint8_t { kDigits, kSpaces, kExtension, kCr };
  enum class Framing : uint8_t { kNone, kLength, kChunked, kUntilClose, kBadLength };
  enum class Pairing : uint8_t { kNone, kPlaceholder, kRequest };

  struct Span {  // bytes in a head buffer, or in an arena entry
    uint32_t offset = 0, len = 0;
    bool operator==(const Span&) const = default;
  };
  struct HeaderSpan {
    Span name, value;
  };

  // One direction's parser and the message it is reading.
  struct Half {
    Phase phase = Phase::kStartLine;
    bool resync = false;      // after an error or gap: lines that are not start lines are skipped silently
    bool ended = false;       // onEnd seen
    bool incomplete = false;  // bytes of the current message's body are missing
    std::string head;         // start line and headers; capacity max_header_bytes, never grown
    size_t line_start = 0;    // where the line being read starts in `head`
    uint32_t headers_begin = 0;  // where the header lines start in `head`
    Timestamp first_ts = 0, last_ts = 0;  // current message's first and last byte
    uint64_t remaining = 0;   // body or chunk bytes left
    uint64_t body_bytes = 0;
    // Chunk-size line and trailer section being read.
    ChunkLine chunk_line = ChunkLine::kDigits;
    uint32_t chunk_digits = 0, chunk_line_len = 0, trailer_bytes = 0, trailer_line_len = 0;
    bool chunk_any_digit = false, chunk_end_cr = false;
    // While scanning: the last bytes, which may begin an anchor the next bytes complete.
    char carry[kMaxAnchorLen];
    Timestamp carry_ts[kMaxAnchorLen];
    uint32_t carry_len = 0;
    // The head, once parsed: start line parts and the headers events need.
    Span part1, part2, part3;  // method, target, version; or version, reason, unused
    uint16_t status_code = 0;
    Span host, user_agent, upgrade;
    bool has_host = false, has_user_agent = false;
    std::vector<HeaderSpan> copied;  // capacity max_copied_headers
  };

  // A request awaiting its response. Its fields are copied into the arena at
  // [arena_offset, arena_offset + arena_len); spans are relative to that.
  struct Pending {
    uint64_t seq = 0;
    uint32_t skipped_before = 0;  // requests dropped just before this one: placeholders for pairing
    uint32_t arena_offset = 0, arena_len = 0;
    Span method, url, version, host, user_agent;
    uint32_t header_count = 0;  // in pending_headers_ at slot * max_copied_headers
    Timestamp ts = 0;
    uint64_t body_bytes = 0;
    bool incomplete = false, is_head = false, is_connect = false;
  };

  Half& half(StreamDir dir) { return halves_[static_cast<size_t>(dir)]; }
  static bool isRequest(StreamDir dir) { return dir == StreamDir::kToServer; }

  size_t readStartLine(StreamDir dir, const char* s, size_t n, Timestamp ts, HttpEventSink& sink);
  size_t skipLine(StreamDir dir, const char* s, size_t n);
  size_t scan(StreamDir dir, const char* s, size_t n, Timestamp ts);
  size_t readHeaders(StreamDir dir, const char* s, size_t n, Timestamp ts, HttpEventSink& sink);
  size_t readBody(StreamDir dir, const char* s, size_t n, Timestamp ts, HttpEventSink& sink);
  size_t readChunkSize(StreamDir dir, const char* s, size_t n, Timestamp ts, HttpEventSink& sink);
  size_t readChunkEnd(StreamDir dir, const char* s, size_t n, Timestamp ts, HttpEventSink& sink);
  size_t readTrailers(StreamDir dir, const char* s, size_t n, Timestamp ts, HttpEventSink& sink);

  size_t chunkError(StreamDir dir, Counter& reason, bool at_line_start, size_t consumed, HttpEventSink& sink);

  bool allowListed(std::string_view name) const;
  void onHead(StreamDir dir, HttpEventSink& sink);
  void onRequestHead(Framing framing, uint64_t length, HttpEventSink& sink);
  void onResponseHead(Framing framing, uint64_t length, HttpEventSink& sink);
  void startBody(StreamDir dir, Framing framing, uint64_t length, HttpEventSink& sink);
  void startChunkSize(Half& h);
  void startResync(Half& h, bool at_line_start);
  // The head being read is not a valid message: counts `reason` (unless
  // resynchronizing), drops the message and looks for the next start line.
  void abandonHead(StreamDir dir, Counter& reason, size_t bytes, bool at_line_start, HttpEventSink& sink);
  // A message that began is lost: keeps request/response pairing in step.
  void dropMessage(StreamDir dir, Counter& reason, HttpEventSink& sink);
  // The body is cut (gap, bad chunk framing, end): the message ends incomplete.
  void cutMessage(StreamDir dir, HttpEventSink& sink);
  void completeMessage(StreamDir dir, HttpEventSink& sink);
  void addBody(StreamDir dir, uint64_t n);
  void markIncomplete(StreamDir dir);
  void endHalf(StreamDir dir, StreamEnd reason, HttpEventSink& sink);
  void stopHttp();

  // Pending requests: a ring of slots by sequence number.
  Pending* pendingBySeq(uint64_t seq);
  void pushRequest();
  void addPlaceholder();
  Pairing peekPairing(uint64_t& seq) const;
  // Takes what the current response answers; null for a placeholder or nothing.
  Pending* takePaired(Pairing pairing, uint64_t seq);
  void compactArena();

  std::string_view headText(const Half& h, Span s) const;
  std::string_view arenaText(const Pending& p, Span s) const;
  void fillRequest(const Pending& p, HttpTransaction& t, size_t& header_count);
  void emitResponse(bool incomplete, std::string_view upgrade, HttpEventSink& sink);
  void emitRequestOnly(const Pending& p, bool response_incomplete, HttpEventSink& sink);

  const HttpConfig& config_;
  HttpStats& stats_;
  const uint32_t head_cap_;
  const uint32_t max_pending_;
  const uint32_t max_copied_;

  Half halves_[2];
  bool finished_ = false;

  // Request side: the request being read, if it was kept.
  uint64_t current_request_seq_ = 0;
  bool current_request_kept_ = false;
  // Response side: what the response being read answers, fixed at its head.
  Pairing pairing_ = Pairing::kNone;
  uint64_t paired_seq_ = 0;
  uint16_t informational_status_ = 0;

  std::vector<Pending> pending_;           // max_pending_ slots
  std::vector<HeaderSpan> pending_headers_;  // max_copied_ per slot
  uint64_t head_seq_ = 0, tail_seq_ = 0;   // queued requests are [head_seq_, tail_seq_)
  uint32_t skipped_tail_ = 0;              // placeholders after the last queued request
  // max(max_pending_bytes, max_header_bytes), not zeroed: a session touches
  // the pages it uses, not the 32 KiB it may use.
  std::unique_ptr<char[]> arena_;
  uint32_t arena_size_;
  uint32_t arena_used_ = 0;
  std::vector<HttpHeader> event_headers_;  // 2 * max_copied_
};

// One line describing a transaction, every field included; for tests and debug
// logs (it allocates), not for the packet path.
std::string describeTransaction(const HttpTransaction& t);

}  // namespace tapflow
