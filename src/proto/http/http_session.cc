// HTTP/1.x session: a byte-driven parser per direction (start line, headers,
// body framing) and a queue of requests awaiting their response.
//
// Each direction's decisions depend only on its bytes, never on how they were
// cut into onData() calls, so split and whole deliveries give the same events.
// Pairing stays in step when messages are lost: a request that began but was
// dropped leaves a placeholder its response will consume (emitted as a
// response without request), and a lost response takes the request it answered
// with it (emitted with response_incomplete).
#include "proto/http/http_session.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace tapflow {
namespace {

// Below this a head could not hold the start-line checks' prefix.
constexpr uint32_t kMinHeadBytes = 64;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* findNewline(const char* s, size_t n) { return static_cast<const char*>(std::memchr(s, '\n', n)); }

}  // namespace

HttpSession::HttpSession(const HttpConfig& config, HttpStats& stats)
    : config_(config),
      stats_(stats),
      head_cap_(std::max(config.max_header_bytes, kMinHeadBytes)),
      max_pending_(std::max(config.max_pending_requests, 1u)),
      max_copied_(config.max_copied_headers),
      arena_(std::make_unique_for_overwrite<char[]>(std::max(config.max_pending_bytes, head_cap_))),
      arena_size_(std::max(config.max_pending_bytes, head_cap_)) {
  for (Half& h : halves_) {
    h.head.reserve(head_cap_);
    h.copied.reserve(max_copied_);
  }
  pending_.resize(max_pending_);
  pending_headers_.resize(static_cast<size_t>(max_pending_) * max_copied_);
  event_headers_.resize(2 * static_cast<size_t>(max_copied_));
}

void HttpSession::reset() {
  for (Half& h : halves_) {
    // Keep the buffers: move them out, reset the rest, move them back.
    std::string head = std::move(h.head);
    std::vector<HeaderSpan> copied = std::move(h.copied);
    h = Half{};
    h.head = std::move(head);
    h.copied = std::move(copied);
    h.head.clear();
    h.copied.clear();
  }
  finished_ = false;
  current_request_seq_ = 0;
  current_request_kept_ = false;
  pairing_ = Pairing::kNone;
  paired_seq_ = 0;
  informational_status_ = 0;
  head_seq_ = tail_seq_ = 0;
  skipped_tail_ = 0;
  arena_used_ = 0;
}

bool HttpSession::looksLikeRequest(const uint8_t* data, size_t len) {
  return data != nullptr && startsWithKnownMethod(asText(data, len));
}

bool HttpSession::looksLikeResponse(const uint8_t* data, size_t len) {
  return data != nullptr && len >= 7 && std::memcmp(data, "HTTP/1.", 7) == 0;
}

bool HttpSession::ownsText(std::string_view text) const {
  if (text.empty()) return true;
  const auto inside = [&](const char* base, size_t size) {
    const auto b = reinterpret_cast<uintptr_t>(base), t = reinterpret_cast<uintptr_t>(text.data());
    return t >= b && t - b <= size && text.size() <= size - (t - b);
  };
  return inside(halves_[0].head.data(), halves_[0].head.capacity()) ||
         inside(halves_[1].head.data(), halves_[1].head.capacity()) || inside(arena_.get(), arena_size_);
}

// ---- Byte input ----

void HttpSession::onData(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, HttpEventSink& sink) {
  Half& h = half(dir);
  if (finished_ || h.ended || data == nullptr) return;
  const char* s = reinterpret_cast<const char*>(data);
  size_t pos = 0;
  // Every step consumes at least one byte, but scan(), which may stop before
  // a start line it found: the phase is then kStartLine.
  while (pos < len && h.phase != Phase::kStopped) {
    const char* at = s + pos;
    const size_t n = len - pos;
    switch (h.phase) {
      case Phase::kStartLine: pos += readStartLine(dir, at, n, ts, sink); break;
      case Phase::kSkipLine: pos += skipLine(dir, at, n); break;
      case Phase::kScan: pos += scan(dir, at, n, ts); break;  // may consume nothing: then a start line begins
      case Phase::kHeaders: pos += readHeaders(dir, at, n, ts, sink); break;
      case Phase::kBody:
      case Phase::kChunkData: pos += readBody(dir, at, n, ts, sink); break;
      case Phase::kChunkSize: pos += readChunkSize(dir, at, n, ts, sink); break;
      case Phase::kChunkEnd: pos += readChunkEnd(dir, at, n, ts, sink); break;
      case Phase::kTrailers: pos += readTrailers(dir, at, n, ts, sink); break;
      case Phase::kUntilClose:
        addBody(dir, n);
        h.last_ts = ts;
        pos = len;
        break;
      case Phase::kStopped: pos = len; break;
    }
  }
}

void HttpSession::startResync(Half& h, bool at_line_start) {
  h.resync = true;
  h.head.clear();
  h.copied.clear();
  h.carry_len = 0;
  // A failed line is skipped to its end, so where scanning resumes does not
  // depend on where the failure was noticed.
  h.phase = at_line_start ? Phase::kScan : Phase::kSkipLine;
}

void HttpSession::abandonHead(StreamDir dir, Counter& reason, size_t bytes, bool at_line_start, HttpEventSink& sink) {
  Half& h = half(dir);
  stats_.resync_bytes.add(bytes);
  // While resynchronizing, a line that is not a start line is expected.
  if (!h.resync) dropMessage(dir, reason, sink);
  startResync(h, at_line_start);
}

size_t HttpSession::readStartLine(StreamDir dir, const char* s, size_t n, Timestamp ts, HttpEventSink& sink) {
  Half& h = half(dir);
  const char* newline = findNewline(s, n);
  const size_t take = newline != nullptr ? static_cast<size_t>(newline - s) + 1 : n;
  const bool line_done = newline != nullptr;
  const size_t have = h.head.size();
  // Give up on bytes that cannot begin a start line before the line ends.
  // This looks at the same first bytes of the line however they arrived, and
  // comes before the length check, so the reason does not depend on the cuts.
  if (have < kStartLinePrefixLen) {
    char prefix[kStartLinePrefixLen];
    const size_t added = std::min(take, kStartLinePrefixLen - have);
    std::memcpy(prefix, h.head.data(), have);
    std::memcpy(prefix + have, s, added);
    const std::string_view text(prefix, have + added);
    if (!(isRequest(dir) ? couldStartRequestLine(text) : couldStartStatusLine(text))) {
      abandonHead(dir, stats_.bad_start_line, have + take, line_done, sink);
      return take;
    }
  }
  if (have + take > head_cap_) {
    abandonHead(dir, stats_.head_too_long, have + take, line_done, sink);
    return take;
  }
  if (have == 0) h.first_ts = ts;
  h.head.append(s, take);
  h.last_ts = ts;
  if (!line_done) return take;

  const std::string_view line = withoutLineEnd(h.head);
  if (line.empty()) {  // empty lines before a start line are ignored (RFC 9112 2.2)
    h.head.clear();
    return take;
  }
  const auto span = [&](std::string_view part) {
    return Span{static_cast<uint32_t>(part.data() - h.head.data()), static_cast<uint32_t>(part.size())};
  };
  bool ok;
  if (isRequest(dir)) {
    RequestLine request;
    ok = parseRequestLine(line, request);
    if (ok) {
      h.part1 = span(request.method);
      h.part2 = span(request.target);
      h.part3 = span(request.version);
      h.status_code = 0;
    }
  } else {
    StatusLine status;
    ok = parseStatusLine(line, status);
    if (ok) {
      h.part1 = span(status.version);
      h.part2 = span(status.reason);
      h.part3 = Span{};
      h.status_code = status.status_code;
    }
  }
  if (!ok) {
    abandonHead(dir, stats_.bad_start_line, h.head.size(), true, sink);
    return take;
  }
  // A new message: its per-message state starts over.
  h.resync = false;
  h.incomplete = false;
  h.remaining = 0;
  h.body_bytes = 0;
  h.has_host = h.has_user_agent = false;
  h.host = h.user_agent = h.upgrade = Span{};
  h.copied.clear();
  h.headers_begin = static_cast<uint32_t>(h.head.size());
  h.line_start = h.head.size();
  h.phase = Phase::kHeaders;
  return take;
}

size_t HttpSession::skipLine(StreamDir dir, const char* s, size_t n) {
  Half& h = half(dir);
  const char* newline = findNewline(s, n);
  const size_t take = newline != nullptr ? static_cast<size_t>(newline - s) + 1 : n;
  stats_.resync_bytes.add(take);
  if (newline != nullptr) h.phase = Phase::kScan;
  return take;
}

size_t HttpSession::scan(StreamDir dir, const char* s, size_t n, Timestamp ts) {
  Half& h = half(dir);
  const bool request = isRequest(dir);
  const auto match = [&](std::string_view bytes) {
    return request ? matchRequestAnchor(bytes) : matchStatusAnchor(bytes);
  };
  const auto startCandidate = [&]() {
    h.carry_len = 0;
    h.phase = Phase::kStartLine;  // still resynchronizing: a failed candidate is not an error
  };
  // First an anchor begun in the carry.
  while (h.carry_len > 0) {
    char joined[2 * kMaxAnchorLen];
    const size_t added = std::min(n, kMaxAnchorLen);
    std::memcpy(joined, h.carry, h.carry_len);
    std::memcpy(joined + h.carry_len, s, added);
    switch (match(std::string_view(joined, h.carry_len + added))) {
      case AnchorMatch::kYes:
        h.head.assign(h.carry, h.carry_len);
        h.first_ts = h.carry_ts[0];
        startCandidate();
        return 0;
      case AnchorMatch::kPartial:  // still undecided, so carry and bytes are shorter than an anchor
        for (size_t i = 0; i < n && h.carry_len < kMaxAnchorLen; ++i) {
          h.carry[h.carry_len] = s[i];
          h.carry_ts[h.carry_len++] = ts;
        }
        return n;
      case AnchorMatch::kNo:
        stats_.resync_bytes.add(1);
        --h.carry_len;
        std::memmove(h.carry, h.carry + 1, h.carry_len);
        std::memmove(h.carry_ts, h.carry_ts + 1, h.carry_len * sizeof(Timestamp));
        break;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    // Cheap test of the first byte before the full match.
    const char c = s[i];
    if (request ? std::memchr("GPHDOTCMLU", c, 10) == nullptr : c != 'H') continue;
    switch (match(std::string_view(s + i, n - i))) {
      case AnchorMatch::kYes:
        stats_.resync_bytes.add(i);
        h.head.clear();
        startCandidate();
        return i;
      case AnchorMatch::kPartial:
        stats_.resync_bytes.add(i);
        for (size_t j = i; j < n && h.carry_len < kMaxAnchorLen; ++j) {
          h.carry[h.carry_len] = s[j];
          h.carry_ts[h.carry_len++] = ts;
        }
        return n;
      case AnchorMatch::kNo: break;
    }
  }
  stats_.resync_bytes.add(n);
  return n;
}

size_t HttpSession::readHeaders(StreamDir dir, const char* s, size_t n, Timestamp ts, HttpEventSink& sink) {
  Half& h = half(dir);
  const char* newline = findNewline(s, n);
  const size_t take = newline != nullptr ? static_cast<size_t>(newline - s) + 1 : n;
  if (h.head.size() + take > head_cap_) {
    abandonHead(dir, stats_.head_too_long, h.head.size() + take, newline != nullptr, sink);
    return take;
  }
  h.head.append(s, take);
  h.last_ts = ts;
  if (newline == nullptr) return take;
  const std::string_view line = withoutLineEnd(std::string_view(h.head).substr(h.line_start));
  if (!line.empty()) {
    h.line_start = h.head.size();
    return take;
  }
  onHead(dir, sink);
  return take;
}

// ---- Heads ----

bool HttpSession::allowListed(std::string_view name) const {
  for (const std::string& wanted : config_.headers) {
    if (equalsIgnoreCase(name, wanted)) return true;
  }
  return false;
}

void HttpSession::onHead(StreamDir dir, HttpEventSink& sink) {
  Half& h = half(dir);
  const std::string_view head(h.head);
  const auto span = [&](std::string_view part) {
    return Span{static_cast<uint32_t>(part.data() - head.data()), static_cast<uint32_t>(part.size())};
  };
  bool has_length = false, bad_length = false, has_encoding = false, chunked = false;
  uint64_t length = 0;
  // Header lines lie between the start line and the empty line at line_start;
  // each ends with '\n'.
  size_t pos = h.headers_begin;
  while (pos < h.line_start) {
    const size_t end = head.find('\n', pos);
    if (end == std::string_view::npos) break;  // cannot happen: lines were split on '\n'
    const std::string_view line = withoutLineEnd(head.substr(pos, end + 1 - pos));
    pos = end + 1;
    HeaderField field;
    switch (parseHeaderLine(line, field)) {
      case HeaderLineKind::kBad:
        abandonHead(dir, stats_.bad_header_line, head.size(), true, sink);
        return;
      case HeaderLineKind::kFold:
        stats_.folded_header_lines.add();
        continue;
      case HeaderLineKind::kField: break;
    }
    if (equalsIgnoreCase(field.name, "content-length")) {
      uint64_t value = 0;
      if (!parseContentLength(field.value, value) || (has_length && value != length)) {
        bad_length = true;
      } else {
        has_length = true;
        length = value;
      }
    } else if (equalsIgnoreCase(field.name, "transfer-encoding")) {
      // Several fields form one list: the last one names the last coding.
      has_encoding = true;
      chunked = lastCodingIsChunked(field.value);
    } else if (equalsIgnoreCase(field.name, "host")) {
      if (!h.has_host) h.host = span(field.value);
      h.has_host = true;
    } else if (equalsIgnoreCase(field.name, "user-agent")) {
      if (!h.has_user_agent) h.user_agent = span(field.value);
      h.has_user_agent = true;
    } else if (equalsIgnoreCase(field.name, "upgrade")) {
      h.upgrade = span(field.value);
    }
    if (allowListed(field.name)) {
      if (h.copied.size() < max_copied_) {
        h.copied.push_back(HeaderSpan{span(field.name), span(field.value)});
      } else {
        stats_.headers_not_copied.add();
      }
    }
  }

  // Body framing, RFC 9112 6.3: Transfer-Encoding overrides Content-Length.
  Framing framing = Framing::kNone;
  if (has_encoding) {
    if (has_length || bad_length) stats_.length_and_transfer_encoding.add();
    if (chunked) {
      framing = Framing::kChunked;
    } else if (isRequest(dir)) {
      abandonHead(dir, stats_.bad_transfer_encoding, head.size(), true, sink);
      return;
    } else {
      framing = Framing::kUntilClose;
    }
  } else if (bad_length) {
    framing = Framing::kBadLength;  // an error only if a body follows: decided below
  } else if (has_length) {
    framing = Framing::kLength;
  } else {
    framing = isRequest(dir) ? Framing::kNone : Framing::kUntilClose;
  }
  if (isRequest(dir)) {
    onRequestHead(framing, length, sink);
  } else {
    onResponseHead(framing, length, sink);
  }
}

void HttpSession::startBody(StreamDir dir, Framing framing, uint64_t length, HttpEventSink& sink) {
  Half& h = half(dir);
  switch (framing) {
    case Framing::kNone:
    case Framing::kBadLength:  // refused before: cannot happen
      completeMessage(dir, sink);
      break;
    case Framing::kLength:
      if (length == 0) {
        completeMessage(dir, sink);
      } else {
        h.remaining = length;
        h.phase = Phase::kBody;
      }
      break;
    case Framing::kChunked: startChunkSize(h); break;
    case Framing::kUntilClose: h.phase = Phase::kUntilClose; break;
  }
}

void HttpSession::onRequestHead(Framing framing, uint64_t length, HttpEventSink& sink) {
  if (framing == Framing::kBadLength) {
    abandonHead(StreamDir::kToServer, stats_.bad_content_length, halves_[0].head.size(), true, sink);
    return;
  }
  stats_.requests.add();
  pushRequest();
  startBody(StreamDir::kToServer, framing, length, sink);
}

void HttpSession::onResponseHead(Framing framing, uint64_t length, HttpEventSink& sink) {
  Half& r = halves_[1];
  const uint16_t code = r.status_code;
  if (code >= 100 && code < 200 && code != 101) {
    // Not the final response (RFC 9110 15.2): remember it, read the next head.
    stats_.informational_responses.add();
    informational_status_ = code;
    r.head.clear();
    r.copied.clear();
    r.phase = Phase::kStartLine;
    return;
  }
  uint64_t paired_seq = 0;
  const Pairing pairing = peekPairing(paired_seq);
  const Pending* request = pairing == Pairing::kRequest ? pendingBySeq(paired_seq) : nullptr;
  const bool connected = request != nullptr && request->is_connect && code >= 200 && code < 300;
  // RFC 9112 6.3: these never have a body, whatever the headers say.
  const bool no_body = code == 101 || connected || (request != nullptr && request->is_head) || code == 204 ||
                       code == 304;
  if (no_body) {
    framing = Framing::kNone;
  } else if (framing == Framing::kBadLength) {
    abandonHead(StreamDir::kToClient, stats_.bad_content_length, r.head.size(), true, sink);
    return;
  }
  stats_.responses.add();
  pairing_ = pairing;
  paired_seq_ = paired_seq;
  if (code == 101 || connected) {
    stats_.upgrades.add();
    emitResponse(false, connected ? arenaText(*request, request->method) : headText(r, r.upgrade), sink);
    stopHttp();
    return;
  }
  startBody(StreamDir::kToClient, framing, length, sink);
}

void HttpSession::stopHttp() {
  for (Half& h : halves_) h.phase = Phase::kStopped;
}

// ---- Bodies ----

size_t HttpSession::readBody(StreamDir dir, const char* /*s*/, size_t n, Timestamp ts, HttpEventSink& sink) {
  Half& h = half(dir);
  const size_t take = static_cast<size_t>(std::min<uint64_t>(n, h.remaining));
  addBody(dir, take);
  h.remaining -= take;
  h.last_ts = ts;
  if (h.remaining == 0) {
    if (h.phase == Phase::kChunkData) {
      h.phase = Phase::kChunkEnd;
      h.chunk_end_cr = false;
    } else {
      completeMessage(dir, sink);
    }
  }
  return take;
}

void HttpSession::startChunkSize(Half& h) {
  h.phase = Phase::kChunkSize;
  h.chunk_line = ChunkLine::kDigits;
  h.remaining = 0;
  h.chunk_digits = 0;
  h.chunk_any_digit = false;
  h.chunk_line_len = 0;
}

size_t HttpSession::chunkError(StreamDir dir, Counter& reason, bool at_line_start, size_t consumed,
                               HttpEventSink& sink) {
  reason.add();
  cutMessage(dir, sink);
  startResync(half(dir), at_line_start);
  return consumed;
}

size_t HttpSession::readChunkSize(StreamDir dir, const char* s, size_t n, Timestamp ts, HttpEventSink& sink) {
  Half& h = half(dir);
  h.last_ts = ts;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[i];
    bool line_done = false;
    bool bad = ++h.chunk_line_len > head_cap_;
    if (!bad) {
      switch (h.chunk_line) {
        case ChunkLine::kDigits: {
          const int digit = hexValue(c);
          if (digit >= 0) {
            // Leading zeros do not count towards the 16 digits a size may have.
            if (h.chunk_digits > 0 || digit != 0) {
              if (h.chunk_digits == 16) {
                bad = true;
                break;
              }
              h.remaining = h.remaining << 4 | static_cast<uint64_t>(digit);
              ++h.chunk_digits;
            }
            h.chunk_any_digit = true;
            break;
          }
          if (!h.chunk_any_digit) {
            bad = true;
          } else if (c == ';') {
            h.chunk_line = ChunkLine::kExtension;
          } else if (c == ' ' || c == '\t') {
            h.chunk_line = ChunkLine::kSpaces;
          } else if (c == '\r') {
            h.chunk_line = ChunkLine::kCr;
          } else if (c == '\n') {
            line_done = true;
          } else {
            bad = true;
          }
          break;
        }
        case ChunkLine::kSpaces:
          if (c == ';') {
            h.chunk_line = ChunkLine::kExtension;
          } else if (c == '\r') {
            h.chunk_line = ChunkLine::kCr;
          } else if (c == '\n') {
            line_done = true;
          } else if (c != ' ' && c != '\t') {
            bad = true;
          }
          break;
        case ChunkLine::kExtension:  // extensions are skipped up to the line end
          line_done = c == '\n';
          break;
        case ChunkLine::kCr:
          line_done = c == '\n';
          bad = !line_done;
          break;
      }
    }
    if (bad) return chunkError(dir, stats_.bad_chunk_size, c == '\n', i + 1, sink);
    if (line_done) {
      if (h.remaining == 0) {  // the last chunk: trailers follow
        h.phase = Phase::kTrailers;
        h.trailer_bytes = 0;
        h.trailer_line_len = 0;
      } else {
        h.phase = Phase::kChunkData;
      }
      return i + 1;
    }
  }
  return n;
}

size_t HttpSession::readChunkEnd(StreamDir dir, const char* s, size_t /*n*/, Timestamp ts, HttpEventSink& sink) {
  Half& h = half(dir);
  h.last_ts = ts;
  if (s[0] == '\r' && !h.chunk_end_cr) {
    h.chunk_end_cr = true;
  } else if (s[0] == '\n') {
    startChunkSize(h);
  } else {
    return chunkError(dir, stats_.bad_chunk_end, false, 1, sink);
  }
  return 1;
}

size_t HttpSession::readTrailers(StreamDir dir, const char* s, size_t n, Timestamp ts, HttpEventSink& sink) {
  Half& h = half(dir);
  h.last_ts = ts;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[i];
    if (++h.trailer_bytes > head_cap_) return chunkError(dir, stats_.trailers_too_long, c == '\n', i + 1, sink);
    if (c == '\n') {
      if (h.trailer_line_len == 0) {  // the empty line ends the message
        completeMessage(dir, sink);
        return i + 1;
      }
      h.trailer_line_len = 0;
    } else if (c != '\r') {
      ++h.trailer_line_len;
    }
  }
  return n;
}

void HttpSession::addBody(StreamDir dir, uint64_t n) {
  half(dir).body_bytes += n;
  if (isRequest(dir) && current_request_kept_) {
    if (Pending* p = pendingBySeq(current_request_seq_)) p->body_bytes += n;
  }
}

void HttpSession::markIncomplete(StreamDir dir) {
  half(dir).incomplete = true;
  if (isRequest(dir) && current_request_kept_) {
    if (Pending* p = pendingBySeq(current_request_seq_)) p->incomplete = true;
  }
}

// ---- Message ends, gaps, stream ends ----

void HttpSession::completeMessage(StreamDir dir, HttpEventSink& sink) {
  Half& h = half(dir);
  if (isRequest(dir)) {
    current_request_kept_ = false;
  } else {
    emitResponse(h.incomplete, std::string_view(), sink);
  }
  h.head.clear();
  h.copied.clear();
  h.phase = Phase::kStartLine;
}

void HttpSession::cutMessage(StreamDir dir, HttpEventSink& sink) {
  markIncomplete(dir);
  completeMessage(dir, sink);
}

void HttpSession::dropMessage(StreamDir dir, Counter& reason, HttpEventSink& sink) {
  reason.add();
  if (isRequest(dir)) {
    addPlaceholder();
    current_request_kept_ = false;
    return;
  }
  uint64_t seq = 0;
  const Pairing pairing = peekPairing(seq);
  if (Pending* request = takePaired(pairing, seq)) emitRequestOnly(*request, true, sink);
  informational_status_ = 0;
}

void HttpSession::onGap(StreamDir dir, uint64_t len, HttpEventSink& sink) {
  Half& h = half(dir);
  if (finished_ || h.ended) return;
  stats_.gaps.add();
  stats_.gap_bytes.add(len);
  if (len == 0) return;
  switch (h.phase) {
    case Phase::kStopped: return;
    case Phase::kStartLine:
    case Phase::kSkipLine:
    case Phase::kScan:
    case Phase::kHeaders:
      // At a message boundary too: the missing bytes began a message.
      stats_.resync_bytes.add(h.head.size() + h.carry_len);
      if (!h.resync) dropMessage(dir, stats_.messages_lost_in_gap, sink);
      startResync(h, true);
      return;
    case Phase::kBody:
    case Phase::kChunkData: {
      if (!h.incomplete) stats_.bodies_with_gap.add();
      markIncomplete(dir);
      const uint64_t in_body = std::min(len, h.remaining);
      addBody(dir, in_body);
      h.remaining -= in_body;
      if (h.remaining > 0) return;
      if (h.phase == Phase::kChunkData) {
        if (len == in_body) {
          h.phase = Phase::kChunkEnd;
          h.chunk_end_cr = false;
        } else {  // past the chunk: the framing is lost
          completeMessage(dir, sink);
          startResync(h, true);
        }
        return;
      }
      completeMessage(dir, sink);
      if (len > in_body) {  // the gap goes on into the next message
        dropMessage(dir, stats_.messages_lost_in_gap, sink);
        startResync(h, true);
      }
      return;
    }
    case Phase::kChunkSize:
    case Phase::kChunkEnd:
    case Phase::kTrailers:
      if (!h.incomplete) stats_.bodies_with_gap.add();
      cutMessage(dir, sink);
      startResync(h, true);
      return;
    case Phase::kUntilClose:
      if (!h.incomplete) stats_.bodies_with_gap.add();
      markIncomplete(dir);
      addBody(dir, len);
      return;
  }
}

void HttpSession::endHalf(StreamDir dir, StreamEnd reason, HttpEventSink& sink) {
  Half& h = half(dir);
  if (h.ended) return;
  switch (h.phase) {
    case Phase::kStartLine:
      // A lone CR may be the start of an empty line between messages.
      if (!h.resync && !h.head.empty() && h.head != "\r") dropMessage(dir, stats_.messages_truncated, sink);
      break;
    case Phase::kSkipLine:
    case Phase::kScan:
    case Phase::kStopped: break;
    case Phase::kHeaders: dropMessage(dir, stats_.messages_truncated, sink); break;
    case Phase::kBody:
    case Phase::kChunkSize:
    case Phase::kChunkData:
    case Phase::kChunkEnd:
    case Phase::kTrailers:
      stats_.bodies_cut_by_end.add();
      cutMessage(dir, sink);
      break;
    case Phase::kUntilClose:
      // Only a FIN says the sender finished; a reset or a cut-off may be early.
      if (reason != StreamEnd::kFin) {
        stats_.bodies_cut_by_end.add();
        markIncomplete(dir);
      }
      completeMessage(dir, sink);
      break;
  }
  h.ended = true;
  h.phase = Phase::kStopped;
}

void HttpSession::onEnd(StreamDir dir, StreamEnd reason, Timestamp ts, HttpEventSink& sink) {
  if (finished_) return;
  endHalf(dir, reason, sink);
  if (halves_[0].ended && halves_[1].ended) finish(ts, sink);
}

void HttpSession::finish(Timestamp /*ts*/, HttpEventSink& sink) {
  if (finished_) return;
  // The request side first, so a request cut here is marked before it is emitted.
  endHalf(StreamDir::kToServer, StreamEnd::kFlowEnd, sink);
  endHalf(StreamDir::kToClient, StreamEnd::kFlowEnd, sink);
  while (head_seq_ < tail_seq_) {
    const Pending& request = pending_[head_seq_ % max_pending_];
    ++head_seq_;
    stats_.unanswered_requests.add();
    emitRequestOnly(request, false, sink);
  }
  skipped_tail_ = 0;
  arena_used_ = 0;
  finished_ = true;
}

// ---- Pending requests ----

HttpSession::Pending* HttpSession::pendingBySeq(uint64_t seq) {
  if (seq < head_seq_ || seq >= tail_seq_) return nullptr;
  return &pending_[seq % max_pending_];
}

void HttpSession::addPlaceholder() {
  if (skipped_tail_ < std::numeric_limits<uint32_t>::max()) ++skipped_tail_;
}

void HttpSession::pushRequest() {
  const Half& q = halves_[0];
  current_request_kept_ = false;
  if (tail_seq_ - head_seq_ >= max_pending_) {
    stats_.pending_overflow.add();
    addPlaceholder();
    return;
  }
  Span url = q.part2;
  if (config_.url_mode == HttpConfig::UrlMode::kDrop) {
    url.len = 0;
  } else if (config_.url_mode == HttpConfig::UrlMode::kNoQuery) {
    const size_t cut = headText(q, url).find_first_of("?#");
    if (cut != std::string_view::npos) url.len = static_cast<uint32_t>(cut);
  }
  // Each field is copied once (Host and User-Agent may also be allow-listed),
  // so a request never needs more than its head's size.
  const auto sameAsHost = [&](Span s) { return q.has_host && s == q.host; };
  const auto sameAsAgent = [&](Span s) { return q.has_user_agent && s == q.user_agent; };
  size_t need = size_t{q.part1.len} + url.len + q.part3.len + (q.has_host ? q.host.len : 0) +
                (q.has_user_agent ? q.user_agent.len : 0);
  for (const HeaderSpan& hs : q.copied) {
    need += hs.name.len;
    if (!sameAsHost(hs.value) && !sameAsAgent(hs.value)) need += hs.value.len;
  }
  if (arena_used_ + need > arena_size_) compactArena();
  if (arena_used_ + need > arena_size_) {
    stats_.pending_bytes_overflow.add();
    addPlaceholder();
    return;
  }

  Pending& p = pending_[tail_seq_ % max_pending_];
  p = Pending{};
  p.seq = tail_seq_;
  p.skipped_before = skipped_tail_;
  skipped_tail_ = 0;
  p.arena_offset = arena_used_;
  uint32_t written = 0;
  const auto copy = [&](Span from) {
    std::memcpy(arena_.get() + arena_used_ + written, q.head.data() + from.offset, from.len);
    const Span to{written, from.len};
    written += from.len;
    return to;
  };
  p.method = copy(q.part1);
  p.url = copy(url);
  p.version = copy(q.part3);
  if (q.has_host) p.host = copy(q.host);
  if (q.has_user_agent) p.user_agent = copy(q.user_agent);
  HeaderSpan* headers = pending_headers_.data() + (p.seq % max_pending_) * max_copied_;
  for (const HeaderSpan& hs : q.copied) {
    HeaderSpan& out = headers[p.header_count++];
    out.name = copy(hs.name);
    out.value = sameAsHost(hs.value) ? p.host : sameAsAgent(hs.value) ? p.user_agent : copy(hs.value);
  }
  p.arena_len = written;
  arena_used_ += written;
  const std::string_view method = headText(q, q.part1);
  p.ts = q.first_ts;
  p.is_head = method == "HEAD";
  p.is_connect = method == "CONNECT";
  ++tail_seq_;
  current_request_seq_ = p.seq;
  current_request_kept_ = true;
}

void HttpSession::compactArena() {
  if (head_seq_ == tail_seq_) {
    arena_used_ = 0;
    return;
  }
  // Entries are laid out in queue order: the live ones are one block.
  const uint32_t start = pending_[head_seq_ % max_pending_].arena_offset;
  if (start == 0) return;
  std::memmove(arena_.get(), arena_.get() + start, arena_used_ - start);
  for (uint64_t seq = head_seq_; seq < tail_seq_; ++seq) pending_[seq % max_pending_].arena_offset -= start;
  arena_used_ -= start;
}

HttpSession::Pairing HttpSession::peekPairing(uint64_t& seq) const {
  if (head_seq_ < tail_seq_) {
    const Pending& first = pending_[head_seq_ % max_pending_];
    if (first.skipped_before > 0) return Pairing::kPlaceholder;
    seq = first.seq;
    return Pairing::kRequest;
  }
  return skipped_tail_ > 0 ? Pairing::kPlaceholder : Pairing::kNone;
}

HttpSession::Pending* HttpSession::takePaired(Pairing pairing, uint64_t seq) {
  switch (pairing) {
    case Pairing::kNone: return nullptr;
    case Pairing::kPlaceholder:
      // Requests queued since the peek went behind the placeholder.
      if (head_seq_ < tail_seq_) {
        Pending& first = pending_[head_seq_ % max_pending_];
        if (first.skipped_before > 0) --first.skipped_before;
      } else if (skipped_tail_ > 0) {
        --skipped_tail_;
      }
      return nullptr;
    case Pairing::kRequest: {
      if (head_seq_ >= tail_seq_) return nullptr;
      Pending& first = pending_[head_seq_ % max_pending_];
      if (first.seq != seq || first.skipped_before > 0) return nullptr;
      ++head_seq_;
      // The entry's bytes stay put until the next push, after the event.
      if (head_seq_ == tail_seq_) arena_used_ = 0;
      return &first;
    }
  }
  return nullptr;
}

// ---- Events ----

// Spans are made by this class, so they are in range; the checks keep a
// mistake from reading outside the buffers (and substr() from throwing).
std::string_view HttpSession::headText(const Half& h, Span s) const {
  if (s.offset > h.head.size() || s.len > h.head.size() - s.offset) return std::string_view();
  return std::string_view(h.head.data() + s.offset, s.len);
}

std::string_view HttpSession::arenaText(const Pending& p, Span s) const {
  const size_t begin = size_t{p.arena_offset} + s.offset;
  if (begin > arena_size_ || s.len > arena_size_ - begin) return std::string_view();
  return std::string_view(arena_.get() + begin, s.len);
}

void HttpSession::fillRequest(const Pending& p, HttpTransaction& t, size_t& header_count) {
  t.has_request = true;
  t.method = arenaText(p, p.method);
  t.url = arenaText(p, p.url);
  t.request_version = arenaText(p, p.version);
  t.host = arenaText(p, p.host);
  t.user_agent = arenaText(p, p.user_agent);
  t.request_ts = p.ts;
  t.request_body_bytes = p.body_bytes;
  t.request_incomplete = p.incomplete;
  const HeaderSpan* headers = pending_headers_.data() + (p.seq % max_pending_) * max_copied_;
  for (uint32_t i = 0; i < p.header_count; ++i) {
    event_headers_[header_count++] = HttpHeader{arenaText(p, headers[i].name), arenaText(p, headers[i].value)};
  }
}

void HttpSession::emitRequestOnly(const Pending& p, bool response_incomplete, HttpEventSink& sink) {
  HttpTransaction t;
  size_t header_count = 0;
  fillRequest(p, t, header_count);
  t.response_incomplete = response_incomplete;
  t.headers = header_count > 0 ? event_headers_.data() : nullptr;
  t.header_count = header_count;
  stats_.transactions.add();
  sink.onHttpTransaction(t);
}

void HttpSession::emitResponse(bool incomplete, std::string_view upgrade, HttpEventSink& sink) {
  const Half& r = halves_[1];
  HttpTransaction t;
  size_t header_count = 0;
  if (const Pending* request = takePaired(pairing_, paired_seq_)) {
    fillRequest(*request, t, header_count);
  } else {
    stats_.responses_without_request.add();
  }
  pairing_ = Pairing::kNone;
  t.has_response = true;
  t.status_code = r.status_code;
  t.response_version = headText(r, r.part1);
  t.reason = headText(r, r.part2);
  t.response_body_bytes = r.body_bytes;
  t.response_ts = r.first_ts;
  t.response_end_ts = r.last_ts;
  t.upgrade = upgrade;
  t.response_incomplete = incomplete;
  t.informational_status = informational_status_;
  for (const HeaderSpan& hs : r.copied) {
    event_headers_[header_count++] = HttpHeader{headText(r, hs.name), headText(r, hs.value)};
  }
  t.headers = header_count > 0 ? event_headers_.data() : nullptr;
  t.header_count = header_count;
  informational_status_ = 0;
  stats_.transactions.add();
  sink.onHttpTransaction(t);
}

std::string describeTransaction(const HttpTransaction& t) {
  std::string out;
  const auto field = [&](const char* name, std::string_view value) {
    out += ' ';
    out += name;
    out += "=\"";
    out += value;
    out += '"';
  };
  const auto number = [&](const char* name, int64_t value) {
    out += ' ';
    out += name;
    out += '=';
    out += std::to_string(value);
  };
  out += t.has_request ? "request" : "-";
  field("method", t.method);
  field("url", t.url);
  field("version", t.request_version);
  field("host", t.host);
  field("user_agent", t.user_agent);
  number("body", static_cast<int64_t>(t.request_body_bytes));
  number("ts", t.request_ts);
  number("incomplete", t.request_incomplete);
  out += t.has_response ? " | response" : " | -";
  number("status", t.status_code);
  field("reason", t.reason);
  field("version", t.response_version);
  number("body", static_cast<int64_t>(t.response_body_bytes));
  number("ts", t.response_ts);
  number("end_ts", t.response_end_ts);
  number("incomplete", t.response_incomplete);
  number("informational", t.informational_status);
  field("upgrade", t.upgrade);
  out += " | headers";
  for (size_t i = 0; i < t.header_count && t.headers != nullptr; ++i) {
    out += ' ';
    out += t.headers[i].name;
    out += ": ";
    out += t.headers[i].value;
    out += ';';
  }
  return out;
}

}  // namespace tapflow
