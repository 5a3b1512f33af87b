// An output sink for unit tests: keeps each event's JSON in memory, for
// checking what reached an output.
#pragma once

#include <string>
#include <vector>

#include "export/event_output.h"

struct MemorySink : tapflow::EventSink {
  std::vector<std::string>* lines;
  explicit MemorySink(std::vector<std::string>* l) : lines(l) {}
  bool write(const tapflow::Event& e) override {
    lines->emplace_back(e.json);
    return true;
  }
  bool flush() override { return true; }
};
