// Structured log lines: one JSON object per line on stderr, with a level.
// For start-up, shutdown and rare events only; never on the packet path.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tapflow {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogFields = std::initializer_list<std::pair<std::string_view, std::string>>;

// Returns false for an unknown name.
bool parseLogLevel(std::string_view name, LogLevel& level);
void setLogLevel(LogLevel level);

void logMessage(LogLevel level, std::string_view message, LogFields fields = {});
inline void logDebug(std::string_view m, LogFields f = {}) { logMessage(LogLevel::kDebug, m, f); }
inline void logInfo(std::string_view m, LogFields f = {}) { logMessage(LogLevel::kInfo, m, f); }
inline void logWarn(std::string_view m, LogFields f = {}) { logMessage(LogLevel::kWarn, m, f); }
inline void logError(std::string_view m, LogFields f = {}) { logMessage(LogLevel::kError, m, f); }

}  // namespace tapflow
