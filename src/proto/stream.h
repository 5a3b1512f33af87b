// What every protocol analyzer sees of a conversation: bytes in one of two
// directions, relative to the flow's client (the side that sent the SYN, or
// the one the port hint names). TCP analyzers get in-order stream bytes from
// the reassembler, with gaps where bytes never arrived; UDP analyzers get
// whole datagrams (IP fragments already joined).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "packet/timestamp.h"

namespace tapflow {

enum class StreamDir : uint8_t {
  kToServer = 0,  // client → server
  kToClient = 1,  // server → client
};

inline StreamDir opposite(StreamDir d) { return d == StreamDir::kToServer ? StreamDir::kToClient : StreamDir::kToServer; }

// Why one direction of a TCP connection stopped delivering bytes.
enum class StreamEnd : uint8_t {
  kFin,          // FIN reached in sequence
  kRst,          // reset
  kDepthLimit,   // reassembly.tcp.max_stream_depth bytes delivered; the rest is ignored
  kFlowEnd,      // the flow ended (idle timeout, eviction, end of input, shutdown) with the stream open
};

const char* streamEndName(StreamEnd reason);

// Bytes as a string_view, for parsers that read text protocols.
inline std::string_view asText(const uint8_t* data, size_t len) {
  return std::string_view(reinterpret_cast<const char*>(data), len);
}

}  // namespace tapflow
