// HEP over TCP or TLS: each destination copies messages into a byte ring
// that its own sender thread drains. The ring holds whole HEP messages (each
// framed by its own length field) until the receiver's TCP has acknowledged
// them, so a connection that breaks loses nothing that can still be re-sent:
// the next connection starts again at the first unacknowledged message, whole.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <random>
#include <stdexcept>
#include <thread>

#include "export/hep_destination.h"
#include "ops/log.h"

namespace tapflow {
namespace {

constexpr Duration kConnectTimeout = 3 * kNanosPerSecond;
constexpr size_t kMaxSendBytes = 256 * 1024;  // per send() call, so acks are tracked in steps
constexpr int kAckPollMs = 10;                // while bytes wait for the receiver's ack
constexpr int kIdlePollMs = 1000;

std::string opensslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown TLS error";
  char text[256];
  ERR_error_string_n(e, text, sizeof(text));
  return text;
}

bool isIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

void setTcpOptions(int fd) {
  const int one = 1, idle = 10, interval = 5, count = 3;
  // Unacknowledged data to a host that vanished (no RST) fails after 30 s
  // rather than the kernel's ~15 min of retransmissions; keepalive covers idle.
  const unsigned user_timeout_ms = 30'000;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

// TCP or TLS: a ring of whole messages between the writer thread (appends at
// tail_) and the sender thread (sends from written_, releases at acked_).
// Single producer, single consumer: the region [acked_, tail_) belongs to the
// sender, the rest to the writer, and the two positions are the hand-off.
class StreamDestination final : public HepSink::Destination {
 public:
  StreamDestination(const HepDestination& dest, const std::string& output, bool offline, size_t capacity,
                    Duration reconnect_min, Duration reconnect_max, SSL_CTX* tls, const HepTlsConfig& tls_config)
      : Destination(dest, output, offline),
        capacity_(std::max<size_t>(capacity, 1)),
        ring_(new char[capacity_]),
        reconnect_min_(std::max<Duration>(reconnect_min, 1'000'000)),
        reconnect_max_(std::max(reconnect_max, std::max<Duration>(reconnect_min, 1'000'000))),
        tls_(tls),
        tls_name_(tls_config.server_name.empty() ? dest.host : tls_config.server_name),
        tls_verify_(tls_config.verify),
        wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (wake_fd_ < 0) throw std::runtime_error("hep output " + url_ + ": eventfd: " + errnoText(errno));
    thread_ = std::thread([this] { run(); });
  }

  ~StreamDestination() override {
    stop();
    ::close(wake_fd_);
  }

  void write(const char* msg, size_t size) override {
    stats_.written.add();
    if (size > capacity_) {
      stats_.dropped_buffer_full.add();
      return;
    }
    const uint64_t tail = tail_.load(std::memory_order_relaxed);  // only this thread moves it
    while (tail - acked_.load(std::memory_order_acquire) + size > capacity_) {
      if (!offline_ || !waitForRoom(tail, size)) {
        stats_.dropped_buffer_full.add();
        return;
      }
    }
    const size_t at = size_t(tail % capacity_);
    const size_t first = std::min(size, capacity_ - at);
    std::memcpy(ring_.get() + at, msg, first);
    if (first < size) std::memcpy(ring_.get(), msg + first, size - first);
    // seq_cst pairs with the sender's idle_ store: either it sees the new tail
    // before sleeping, or we see it idle and wake it.
    tail_.store(tail + size, std::memory_order_seq_cst);
    if (idle_.load(std::memory_order_seq_cst) && idle_.exchange(false)) wake();
  }

  bool connected() const override { return connected_.load(std::memory_order_relaxed); }
  uint64_t bufferedBytes() const override {
    return tail_.load(std::memory_order_acquire) - acked_.load(std::memory_order_acquire);
  }
  uint64_t progress() const override { return acked_.load(std::memory_order_acquire); }

  void stop() override {
    if (!thread_.joinable()) return;
    stop_.store(true, std::memory_order_seq_cst);
    wake();
    thread_.join();
    // Whatever was not acknowledged is lost: count it, message by message.
    uint64_t pos = acked_.load(std::memory_order_acquire);
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    while (pos < tail) {
      pos += messageLengthAt(pos);
      stats_.dropped_shutdown.add();
    }
    acked_.store(tail, std::memory_order_release);
  }

 private:
  struct AckMark {
    uint64_t wire;   // bytes written to the socket on this connection (TLS: records) ...
    uint64_t plain;  // ... once the ring was sent up to this position
  };

  void wake() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }
  void drainWake() {
    uint64_t value;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_, &value, sizeof(value));
  }

  // Offline only: the receiver is connected and taking data, so wait for room
  // instead of dropping; give up after kNoProgressLimit without progress.
  bool waitForRoom(uint64_t tail, size_t size) {
    uint64_t last = acked_.load(std::memory_order_acquire);
    Timestamp last_progress = monotonicNow();
    while (tail - acked_.load(std::memory_order_acquire) + size > capacity_) {
      if (!connected()) return false;
      const uint64_t now_acked = acked_.load(std::memory_order_acquire);
      const Timestamp now = monotonicNow();
      if (now_acked != last) {
        last = now_acked;
        last_progress = now;
      } else if (now - last_progress > kNoProgressLimit) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  }

  // Every message in the ring starts with "HEP3" and its 16-bit total length.
  uint64_t messageLengthAt(uint64_t pos) const {
    const auto byte = [&](uint64_t p) { return uint8_t(ring_[size_t(p % capacity_)]); };
    return (uint64_t(byte(pos + 4)) << 8) | byte(pos + 5);
  }

  // ---- sender thread ----

  void run() {
    // SIGPIPE from OpenSSL's write() to a closed socket stays pending on this
    // thread instead of killing the process; the write returns EPIPE.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    std::minstd_rand random(std::random_device{}());

    uint32_t attempt = 0;
    bool ever_connected = false;
    bool warned = false;  // one warning per outage, not one per retry
    while (!stopping()) {
      std::string error;
      bool tcp_was_up = false;
      if (!connect(error, tcp_was_up)) {
        if (stopping()) break;
        stats_.connect_failures.add();
        if (tcp_was_up) stats_.disconnects.add();  // e.g. a failed TLS handshake
        if (!warned) {
          warned = true;
          logWarn("hep receiver unreachable", {{"output", output_}, {"destination", url_}, {"error", error}});
        }
        backoff(attempt++, random);
        continue;
      }
      stats_.connects.add();
      connected_.store(true, std::memory_order_relaxed);
      if (!ever_connected || warned) {
        logInfo("hep receiver connected", {{"output", output_}, {"destination", url_}});
      }
      ever_connected = true;
      warned = false;
      const Timestamp connected_at = monotonicNow();

      const std::string reason = pump();
      const bool clean = stopping() && reason.empty();
      disconnect(clean);
      connected_.store(false, std::memory_order_relaxed);
      if (clean) break;
      stats_.disconnects.add();
      warned = true;
      logWarn("hep connection lost", {{"output", output_}, {"destination", url_}, {"error", reason}});
      // A connection that held is no reason to wait long; a flapping one is.
      if (monotonicNow() - connected_at >= reconnect_max_) attempt = 0;
      if (!stopping()) backoff(attempt++, random);
    }
  }

  bool stopping() const { return stop_.load(std::memory_order_acquire); }

  // Full jitter: uniform between reconnect_min and min(max, min * 2^attempt).
  void backoff(uint32_t attempt, std::minstd_rand& random) {
    Duration cap = reconnect_min_;
    for (uint32_t i = 0; i < attempt && cap < reconnect_max_; ++i) cap *= 2;
    cap = std::min(cap, reconnect_max_);
    const Duration delay =
        reconnect_min_ + Duration(std::uniform_real_distribution<double>(0, 1)(random) * double(cap - reconnect_min_));
    const Timestamp deadline = monotonicNow() + delay;
    while (!stopping()) {
      const int ms = millisUntil(deadline);
      if (ms == 0) break;
      pollfd p{wake_fd_, POLLIN, 0};
      if (::poll(&p, 1, ms) > 0) drainWake();
    }
  }

  // Waits for `events` on fd_ until `deadline`; 0 on timeout or stop.
  short waitFor(short events, Timestamp deadline) {
    while (!stopping()) {
      const int ms = millisUntil(deadline);
      if (ms == 0) return 0;
      pollfd p[2] = {{fd_, events, 0}, {wake_fd_, POLLIN, 0}};
      if (::poll(p, 2, ms) < 0 && errno != EINTR) return POLLERR;
      if (p[1].revents & POLLIN) drainWake();
      if (p[0].revents != 0) return p[0].revents;
    }
    return 0;
  }

  // tcp_was_up: the TCP connection existed (TLS failed after it), so its end
  // counts as a disconnect.
  bool connect(std::string& error, bool& tcp_was_up) {
    const Timestamp deadline = monotonicNow() + kConnectTimeout;
    Resolved r(dest_.host, dest_.port, SOCK_STREAM);
    error = r.error;
    for (addrinfo* a = r.list; a != nullptr && fd_ < 0 && !stopping(); a = a->ai_next) {
      fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ < 0) {
        error = errnoText(errno);
        continue;
      }
      setTcpOptions(fd_);
      int rc = ::connect(fd_, a->ai_addr, a->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        const short ev = waitFor(POLLOUT, deadline);
        int so_error = ETIMEDOUT;
        socklen_t len = sizeof(so_error);
        if (ev != 0) getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len);
        rc = so_error == 0 ? 0 : -1;
        errno = so_error;
      }
      if (rc != 0) {
        error = "connect: " + errnoText(errno);
        ::close(fd_);
        fd_ = -1;
      }
    }
    if (fd_ < 0) return false;
    if (tls_ != nullptr && !handshake(deadline, error)) {
      tcp_was_up = true;
      disconnect(false);
      return false;
    }
    written_ = acked_.load(std::memory_order_relaxed);
    wire_ = 0;
    return true;
  }

  bool handshake(Timestamp deadline, std::string& error) {
    ERR_clear_error();
    ssl_ = SSL_new(tls_);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
      error = "TLS: " + opensslError();
      return false;
    }
    const bool ip = isIpLiteral(tls_name_);
    if (!ip) SSL_set_tlsext_host_name(ssl_, tls_name_.c_str());  // SNI carries names only (RFC 6066)
    if (tls_verify_) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (ip ? X509_VERIFY_PARAM_set1_ip_asc(param, tls_name_.c_str()) != 1
             : X509_VERIFY_PARAM_set1_host(param, tls_name_.c_str(), 0) != 1) {
        error = "TLS: cannot check name " + tls_name_;
        return false;
      }
    }
    for (;;) {
      const int rc = SSL_connect(ssl_);
      if (rc == 1) return true;
      const int e = SSL_get_error(ssl_, rc);
      short events = 0;
      if (e == SSL_ERROR_WANT_READ) events = POLLIN;
      if (e == SSL_ERROR_WANT_WRITE) events = POLLOUT;
      if (events == 0) {
        const long verify = SSL_get_verify_result(ssl_);
        error = verify != X509_V_OK ? std::string("TLS handshake: certificate verify failed: ") +
                                          X509_verify_cert_error_string(verify)
                                    : "TLS handshake: " + (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0
                                                               ? std::string("connection closed")
                                                               : opensslError());
        ERR_clear_error();
        return false;
      }
      if (waitFor(events, deadline) == 0) {
        error = stopping() ? "stopping" : "TLS handshake: timed out";
        return false;
      }
    }
  }

  void disconnect(bool clean) {
    updateAcks();  // a last look: what the receiver's TCP acknowledged is sent, the rest goes again
    if (ssl_ != nullptr) {
      if (clean) SSL_shutdown(ssl_);  // best effort close_notify; never waits
      SSL_free(ssl_);
      ssl_ = nullptr;
      ERR_clear_error();
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    marks_.clear();
    tls_pending_ = 0;
    tls_wants_read_ = false;
    written_ = acked_.load(std::memory_order_relaxed);
  }

  uint64_t wireTotal() const { return ssl_ != nullptr ? BIO_number_written(SSL_get_wbio(ssl_)) : wire_; }

  // Bytes the receiver's TCP acknowledged (written - SIOCOUTQ) become whole
  // messages released from the ring and counted as sent.
  void updateAcks() {
    if (marks_.empty() || fd_ < 0) return;
    int unacked = 0;
    if (::ioctl(fd_, SIOCOUTQ, &unacked) != 0 || unacked < 0) return;
    uint64_t acked_plain = 0;
    if (ssl_ == nullptr) {
      // Plain TCP: the stream is the ring's bytes, so acks map back exactly.
      acked_plain = written_ - std::min<uint64_t>(uint64_t(unacked), written_);
      if (unacked == 0) marks_.clear();
    } else {
      // TLS: records are bigger than what they carry; marks (one per record
      // written) say which ring position a given count of wire bytes covers.
      const uint64_t acked_wire = wireTotal() - uint64_t(unacked);
      while (!marks_.empty() && marks_.front().wire <= acked_wire) {
        acked_plain = marks_.front().plain;
        marks_.pop_front();
      }
    }
    uint64_t pos = acked_.load(std::memory_order_relaxed);
    const uint64_t before = pos;
    while (pos < acked_plain) {
      const uint64_t len = messageLengthAt(pos);
      if (pos + len > acked_plain) break;
      pos += len;
      stats_.sent.add();
    }
    if (pos != before) acked_.store(pos, std::memory_order_release);
  }

  // Moves data while connected. Returns why the connection ended ("" to stop).
  std::string pump() {
    for (;;) {
      updateAcks();
      if (stopping()) return "";
      const uint64_t tail = tail_.load(std::memory_order_seq_cst);
      const bool have_data = written_ < tail || tls_pending_ > 0;
      int timeout_ms = kIdlePollMs;
      if (!have_data) {
        idle_.store(true, std::memory_order_seq_cst);
        if (tail_.load(std::memory_order_seq_cst) != tail) {
          idle_.store(false, std::memory_order_relaxed);
          continue;
        }
        if (!marks_.empty()) timeout_ms = kAckPollMs;
      }
      short events = POLLIN;
      if (have_data && !tls_wants_read_) events |= POLLOUT;
      pollfd p[2] = {{fd_, events, 0}, {wake_fd_, POLLIN, 0}};
      const int rc = ::poll(p, 2, timeout_ms);
      idle_.store(false, std::memory_order_relaxed);
      if (rc < 0) {
        if (errno == EINTR) continue;
        return "poll: " + errnoText(errno);
      }
      if (p[1].revents & POLLIN) drainWake();
      std::string reason;
      if ((p[0].revents & POLLIN) && !readAndDiscard(reason)) return reason;
      if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        int so_error = 0;
        socklen_t len = sizeof(so_error);
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len);
        return so_error != 0 ? errnoText(so_error) : "connection closed by the receiver";
      }
      if (have_data && (p[0].revents & POLLOUT) && !sendSome(tail, reason)) return reason;
    }
  }

  // HEP receivers send nothing; reading notices a closed connection at once
  // (and lets OpenSSL take TLS 1.3 session tickets).
  bool readAndDiscard(std::string& reason) {
    char scratch[4096];
    if (ssl_ == nullptr) {
      const ssize_t n = ::recv(fd_, scratch, sizeof(scratch), MSG_DONTWAIT);
      if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))) return true;
      reason = n == 0 ? "connection closed by the receiver" : errnoText(errno);
      return false;
    }
    tls_wants_read_ = false;
    for (int i = 0; i < 64; ++i) {
      const int n = SSL_read(ssl_, scratch, sizeof(scratch));
      if (n > 0) continue;
      const int e = SSL_get_error(ssl_, n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
      if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
        reason = "connection closed by the receiver";
      } else {
        reason = "TLS: " + opensslError();
      }
      ERR_clear_error();
      return false;
    }
    return true;
  }

  bool sendSome(uint64_t tail, std::string& reason) {
    const size_t at = size_t(written_ % capacity_);
    size_t n = size_t(std::min<uint64_t>(tail - written_, kMaxSendBytes));
    n = std::min(n, capacity_ - at);
    if (ssl_ == nullptr) {
      const ssize_t k = ::send(fd_, ring_.get() + at, n, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (k < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
        reason = "send: " + errnoText(errno);
        return false;
      }
      written_ += uint64_t(k);
      wire_ += uint64_t(k);
    } else {
      // A write OpenSSL asked to retry must be repeated with the same length.
      if (tls_pending_ > 0) n = tls_pending_;
      ERR_clear_error();
      const int k = SSL_write(ssl_, ring_.get() + at, int(n));
      if (k <= 0) {
        const int e = SSL_get_error(ssl_, k);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
          tls_pending_ = n;
          tls_wants_read_ = e == SSL_ERROR_WANT_READ;
          return true;
        }
        reason = e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 ? "send: " + errnoText(errno) : "TLS: " + opensslError();
        ERR_clear_error();
        return false;
      }
      tls_pending_ = 0;
      written_ += uint64_t(k);
    }
    // Plain TCP needs one mark only, as "bytes wait for an ack".
    if (ssl_ != nullptr || marks_.empty()) marks_.push_back({wireTotal(), written_});
    return true;
  }

  const size_t capacity_;
  std::unique_ptr<char[]> ring_;
  const Duration reconnect_min_, reconnect_max_;
  SSL_CTX* const tls_;
  const std::string tls_name_;
  const bool tls_verify_;
  const int wake_fd_;

  std::atomic<uint64_t> tail_{0};   // appended (writer)
  std::atomic<uint64_t> acked_{0};  // released, always at a message boundary (sender)
  std::atomic<bool> idle_{false};   // the sender sleeps with nothing to send
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};

  // Sender thread only.
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  uint64_t written_ = 0;  // ring position handed to the socket on this connection
  uint64_t wire_ = 0;     // TCP bytes written on this connection
  size_t tls_pending_ = 0;
  bool tls_wants_read_ = false;
  std::deque<AckMark> marks_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<HepSink::Destination> makeStreamDestination(const HepDestination& dest, const std::string& output,
                                                            bool offline, const HepSinkConfig& config, SSL_CTX* tls) {
  return std::make_unique<StreamDestination>(dest, output, offline, config.buffer_bytes, config.reconnect_min,
                                             config.reconnect_max, tls, config.tls);
}

std::shared_ptr<void> makeTlsContext(const HepTlsConfig& config, const std::string& output) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) throw std::runtime_error("hep output " + output + ": TLS: " + opensslError());
  std::shared_ptr<void> owned(ctx, [](void* c) { SSL_CTX_free(static_cast<SSL_CTX*>(c)); });
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (config.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const bool loaded = config.ca_file.empty()
                            ? SSL_CTX_set_default_verify_paths(ctx) == 1
                            : SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) == 1;
    if (!loaded) {
      throw std::runtime_error("hep output " + output + ": cannot load TLS CA " +
                               (config.ca_file.empty() ? std::string("store") : "file " + config.ca_file) + ": " +
                               opensslError());
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return owned;
}

}  // namespace tapflow
