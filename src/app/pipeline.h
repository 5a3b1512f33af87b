// Wires the stages together for one run: capture source → hand-off →
// workers → outputs, plus the operations endpoint, and takes them down in
// order (stop capture, drain workers, flush outputs).
#pragma once

#include <atomic>

#include "app/config.h"

namespace tapflow {

enum class RunMode {
  kRead,    // offline: process the file, flush, exit
  kDaemon,  // `run`: serve /metrics and keep running until SIGTERM/SIGINT
};

// Set by SIGTERM/SIGINT (installed by main); the pipeline polls it.
extern std::atomic<bool> g_stop_requested;

// Returns the process exit code: 0 success, 2 runtime failure (reported in the log).
int runPipeline(const Config& config, RunMode mode);

}  // namespace tapflow
