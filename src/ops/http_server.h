// The operations endpoint: /metrics (Prometheus), /healthz (the process
// serves), /readyz (the pipeline is running). One small thread, plain HTTP/1.0
// GETs, one request per connection: enough for scrapers and kubelet probes.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace tapflow {

class OpsHttpServer {
 public:
  using Renderer = std::function<std::string()>;

  OpsHttpServer(Renderer metrics, std::function<bool()> ready);
  ~OpsHttpServer();

  // Binds HOST:PORT ([v6]:port for IPv6; port 0 picks a free one).
  // Throws std::runtime_error naming the address on failure.
  void start(const std::string& listen);
  void stop();
  int port() const { return port_; }

 private:
  void run();
  void serve(int fd);

  Renderer metrics_;
  std::function<bool()> ready_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace tapflow
