#include "proto/stream.h"

namespace tapflow {

const char* streamEndName(StreamEnd reason) {
  switch (reason) {
    case StreamEnd::kFin: return "fin";
    case StreamEnd::kRst: return "rst";
    case StreamEnd::kDepthLimit: return "depth_limit";
    case StreamEnd::kFlowEnd: return "flow_end";
  }
  return "unknown";
}

}  // namespace tapflow
