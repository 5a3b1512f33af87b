#include "ops/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "export/json_writer.h"

namespace tapflow {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::mutex g_write_mutex;  // whole lines from concurrent threads

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

bool parseLogLevel(std::string_view name, LogLevel& level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == levelName(l)) {
      level = l;
      return true;
    }
  }
  return false;
}

void setLogLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

void logMessage(LogLevel level, std::string_view message, LogFields fields) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::string line;
  JsonWriter w(line);
  w.beginObject()
      .timeField("time", std::chrono::duration_cast<std::chrono::nanoseconds>(now).count())
      .field("level", levelName(level))
      .field("msg", message);
  for (const auto& [key, value] : fields) w.field(key, std::string_view(value));
  w.endObject();
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace tapflow
