// Flow records as JSON events (schema in docs/events.md): ECS field names
// where ECS has them, source = the client.
#pragma once

#include <string>
#include <string_view>

#include "export/event_common.h"
#include "flow/flow.h"

namespace tapflow {

// Appends one JSON object (no newline) describing a flow record to `out`.
// `community_id` may be given when the caller has it (empty: computed here).
// With `cluster`, both ends get their Kubernetes identity (export/kube_fields.h).
void encodeFlowEvent(const Flow& flow, FlowEndReason reason, bool final, std::string& out,
                     std::string_view community_id = {}, const ClusterSnapshot* cluster = nullptr);

}  // namespace tapflow
