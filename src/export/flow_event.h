// Flow records as JSON events (schema in docs/events.md): ECS field names
// where ECS has them, source = the client.
#pragma once

#include <string>
#include <string_view>

#include "export/event_common.h"
#include "flow/flow.h"

namespace tapflow {

// Appends one JSON object (no newline) describing a flow record to `out`.
// With `cluster`, both ends get their Kubernetes identity (export/kube_fields.h).
void encodeFlowEvent(const Flow& flow, FlowEndReason reason, bool final, std::string& out,
                     const ClusterSnapshot* cluster = nullptr);

}  // namespace tapflow
