// HEP destinations: what they share, and UDP (a connected socket, one
// datagram per message, no buffer).
#include "export/hep_destination.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <system_error>

#include "ops/log.h"

namespace tapflow {

Timestamp monotonicNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Timestamp(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

int millisUntil(Timestamp deadline) {
  const Duration left = deadline - monotonicNow();
  if (left <= 0) return 0;
  return int(std::min<Duration>((left + 999'999) / 1'000'000, 60'000));
}

std::string errnoText(int e) { return std::error_code(e, std::generic_category()).message(); }

Resolved::Resolved(const std::string& host, uint16_t port, int socktype) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) {
    list = nullptr;
    error = std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
  }
}

Resolved::~Resolved() {
  if (list != nullptr) freeaddrinfo(list);
}

std::string HepDestination::url() const {
  const char* scheme = transport == HepTransport::kUdp ? "hep://" : transport == HepTransport::kTcp ? "hep+tcp://" : "hep+tls://";
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(scheme) + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

constexpr size_t kMaxUdpPayload = 65507;  // 65535 - IPv4 header - UDP header

// Connected UDP socket: one datagram per message, no buffer. An ICMP
// unreachable shows up as ECONNREFUSED on a later send, counted as send_error.
class UdpDestination final : public HepSink::Destination {
 public:
  UdpDestination(const HepDestination& dest, const std::string& output, bool offline)
      : Destination(dest, output, offline) {
    open();
  }
  ~UdpDestination() override {
    if (fd_ >= 0) ::close(fd_);
  }

  void write(const char* msg, size_t size) override {
    stats_.written.add();
    if (size > kMaxUdpPayload) {
      stats_.dropped_too_large.add();
      return;
    }
    if (fd_ < 0 && !open()) {
      stats_.dropped_send_error.add();
      return;
    }
    ssize_t n = ::send(fd_, msg, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      // The socket's send buffer is full for a moment: wait a little (longer
      // offline, where the input can wait) and try once more.
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, offline_ ? 1000 : 10);
      n = ::send(fd_, msg, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (n == ssize_t(size)) {
      stats_.sent.add();
      return;
    }
    const int error = errno;
    stats_.dropped_send_error.add();
    // A receiver that is down refuses every other datagram (ICMP): warn once
    // a minute at most, with the count so far.
    const Timestamp now = monotonicNow();
    if (now >= next_send_warning_) {
      next_send_warning_ = now + 60 * kNanosPerSecond;
      logWarn("hep send failed", {{"output", output_},
                                  {"destination", url_},
                                  {"error", errnoText(error)},
                                  {"send_errors", std::to_string(stats_.dropped_send_error.value())}});
    }
  }
  bool connected() const override { return connected_.load(std::memory_order_relaxed); }

 private:
  // Resolves and connects; retried at most once a second while it fails.
  bool open() {
    const Timestamp now = monotonicNow();
    if (now < next_open_) return false;
    next_open_ = now + kNanosPerSecond;
    Resolved r(dest_.host, dest_.port, SOCK_DGRAM);
    std::string error = r.error;
    for (addrinfo* a = r.list; a != nullptr; a = a->ai_next) {
      const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        error = errnoText(errno);
        continue;
      }
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
        connected_.store(true, std::memory_order_relaxed);
        stats_.connects.add();
        if (failing_) logInfo("hep receiver connected", {{"output", output_}, {"destination", url_}});
        failing_ = false;
        return true;
      }
      error = errnoText(errno);
      ::close(fd);
    }
    if (!failing_) {
      failing_ = true;
      logWarn("hep receiver unreachable", {{"output", output_}, {"destination", url_}, {"error", error}});
    }
    return false;
  }

  int fd_ = -1;
  std::atomic<bool> connected_{false};
  Timestamp next_open_ = 0;
  Timestamp next_send_warning_ = 0;
  bool failing_ = false;  // resolving or connecting fails: warned once
};

}  // namespace

std::unique_ptr<HepSink::Destination> makeUdpDestination(const HepDestination& dest, const std::string& output,
                                                         bool offline) {
  return std::make_unique<UdpDestination>(dest, output, offline);
}

}  // namespace tapflow
