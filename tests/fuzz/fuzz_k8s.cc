// Fuzz target for what tapflow reads from the Kubernetes API server and its
// own config: a watch event's object JSON (every resource kind) and label
// selector text. Properties: no crash, no sanitizer report; when a parsed
// selector's printed form parses again, it prints the same. (It need not
// parse: `a in (,)` is the set {""}, which prints as `a in ()`, as
// Kubernetes' own String() does.)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "k8s/api_client.h"
#include "k8s/label_selector.h"

using namespace tapflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks what the rest is: a selector, or an object of one kind.
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string error;
  const uint8_t choice = data[0] % 5;
  if (choice == 4) {
    const auto selector = LabelSelector::parse(rest, error);
    if (selector) {
      std::string again_error;
      const auto again = LabelSelector::parse(selector->toString(), again_error);
      if (again && again->toString() != selector->toString()) __builtin_trap();
    }
    return 0;
  }
  (void)parseKubeObjectJson(ResourceKind(choice), rest, error);
  return 0;
}
