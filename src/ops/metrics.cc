#include "ops/metrics.h"

#include <cstdio>
#include <map>

namespace tapflow {
namespace {

void appendLabels(std::string& out, const MetricLabels& labels) {
  if (labels.empty()) return;
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"') {
        out.push_back('\\');
        out.push_back(c);
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out.push_back(c);
      }
    }
    out.push_back('"');
  }
  out.push_back('}');
}

}  // namespace

void MetricsWriter::counter(std::string family, std::string_view help, MetricLabels labels, uint64_t value) {
  samples_.push_back({std::move(family), std::string(help), true, std::move(labels), double(value)});
}

void MetricsWriter::gauge(std::string family, std::string_view help, MetricLabels labels, double value) {
  samples_.push_back({std::move(family), std::string(help), false, std::move(labels), value});
}

void MetricsWriter::statsCounter(std::string_view module, std::string_view name, std::string_view help,
                                 const MetricLabels& labels, uint64_t value) {
  static constexpr std::string_view kReasonPrefixes[] = {"malformed_", "dropped_", "ended_"};
  for (std::string_view prefix : kReasonPrefixes) {
    if (name.substr(0, prefix.size()) == prefix) {
      MetricLabels with_reason = labels;
      with_reason.emplace_back("reason", std::string(name.substr(prefix.size())));
      std::string family = "tapflow_" + std::string(module) + "_" +
                           std::string(prefix.substr(0, prefix.size() - 1)) + "_total";
      std::string family_help = std::string(module) + ": " + std::string(prefix.substr(0, prefix.size() - 1)) +
                                ", by reason (see docs/metrics.md)";
      counter(std::move(family), family_help, std::move(with_reason), value);
      return;
    }
  }
  counter("tapflow_" + std::string(module) + "_" + std::string(name) + "_total", help, labels, value);
}

std::string MetricsWriter::render() const {
  // Group samples by family, families in order of first appearance.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Sample*>> families;
  for (const Sample& s : samples_) {
    auto [it, inserted] = families.try_emplace(s.family);
    if (inserted) order.push_back(s.family);
    it->second.push_back(&s);
  }
  std::string out;
  for (const std::string& family : order) {
    const auto& samples = families[family];
    out += "# HELP " + family + " " + samples.front()->help + "\n";
    out += "# TYPE " + family + (samples.front()->is_counter ? " counter\n" : " gauge\n");
    for (const Sample* s : samples) {
      out += family;
      appendLabels(out, s->labels);
      char value[32];
      if (s->is_counter) {
        snprintf(value, sizeof(value), " %llu\n", static_cast<unsigned long long>(s->value));
      } else {
        snprintf(value, sizeof(value), " %.17g\n", s->value);
      }
      out += value;
    }
  }
  return out;
}

void MetricsRegistry::add(Collector collector) {
  std::lock_guard<std::mutex> lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::render() const {
  MetricsWriter writer;
  collect(writer);
  return writer.render();
}

void MetricsRegistry::collect(MetricsWriter& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& c : collectors_) c(out);
}

}  // namespace tapflow
