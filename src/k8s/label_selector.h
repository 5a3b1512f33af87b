// Kubernetes label selectors: the string syntax (`app=web,tier!=db,env in (a,b),!canary`)
// and the structured form (matchLabels + matchExpressions) a YAML config gives, both
// validated the way the API server validates them, evaluated against a pod's labels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tapflow {

// A pod's labels. std::less<> so lookups by string_view do not allocate.
using LabelMap = std::map<std::string, std::string, std::less<>>;

enum class SelectorOp : uint8_t { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };

const char* selectorOpName(SelectorOp op);  // "=", "!=", "in", "notin", "exists", "!"

struct LabelRequirement {
  std::string key;
  SelectorOp op = SelectorOp::kExists;
  std::vector<std::string> values;  // sorted, unique; one for = and !=, none for exists

  // Kubernetes semantics: != and notin also match when the label is absent.
  bool matches(const LabelMap& labels) const;
};

// matchExpressions entry as a config file gives it (operator spelled as in the API:
// In, NotIn, Exists, DoesNotExist).
struct LabelSelectorExpression {
  std::string key;
  std::string op;
  std::vector<std::string> values;
};

struct StructuredLabelSelector {
  std::vector<std::pair<std::string, std::string>> match_labels;
  std::vector<LabelSelectorExpression> match_expressions;
};

// Requirements ANDed together. An empty selector matches every pod, as an empty
// selector string does in Kubernetes.
class LabelSelector {
 public:
  // Selector strings longer than this are refused (they come from config files,
  // but a bound costs nothing).
  static constexpr size_t kMaxTextBytes = 64 * 1024;

  // On failure returns nullopt and sets `error` to what is wrong and at which
  // character offset, e.g. `at offset 9: expected '(' after 'in'`.
  static std::optional<LabelSelector> parse(std::string_view text, std::string& error);
  static std::optional<LabelSelector> fromStructured(const StructuredLabelSelector& selector, std::string& error);

  bool matches(const LabelMap& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }
  // Canonical string form, parseable again (keys sorted as Kubernetes prints them).
  std::string toString() const;

 private:
  std::vector<LabelRequirement> requirements_;
};

// Validation as k8s.io/apimachinery does it. Each returns an empty string when
// valid, else why not.
// Key: [prefix/]name; prefix a DNS subdomain (<= 253), name <= 63 characters of
// [A-Za-z0-9_.-], starting and ending alphanumeric.
std::string validateLabelKey(std::string_view key);
// Value: empty, or <= 63 characters of [A-Za-z0-9_.-] starting and ending alphanumeric.
std::string validateLabelValue(std::string_view value);

}  // namespace tapflow
