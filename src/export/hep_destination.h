// The HEP output's destinations, behind HepSink: one per receiver, UDP
// (hep_destination.cc) or a TCP/TLS stream (hep_stream_destination.cc), and
// what they share.
#pragma once

#include <netdb.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "export/hep_sink.h"

namespace tapflow {

// One receiver. write() is called from the output's writer thread only.
class HepSink::Destination {
 public:
  Destination(const HepDestination& dest, const std::string& output, bool offline)
      : dest_(dest), url_(dest.url()), output_(output), offline_(offline) {}
  virtual ~Destination() = default;

  virtual void write(const char* msg, size_t size) = 0;
  // A message HEP cannot frame (over 64 KiB).
  void writeTooLarge() {
    stats_.written.add();
    stats_.dropped_too_large.add();
  }
  virtual bool connected() const = 0;
  virtual uint64_t bufferedBytes() const { return 0; }
  virtual uint64_t progress() const { return stats_.sent.value(); }
  // Stops the sender thread and counts what it still held as dropped{shutdown}.
  virtual void stop() {}

  const std::string& url() const { return url_; }
  const HepDestinationStats& stats() const { return stats_; }

 protected:
  HepDestination dest_;
  std::string url_;
  const std::string& output_;
  bool offline_;
  HepDestinationStats stats_;
};

// UDP: a connected socket, one datagram per message.
std::unique_ptr<HepSink::Destination> makeUdpDestination(const HepDestination& dest, const std::string& output,
                                                         bool offline);
// TCP, or TLS when `tls` is set: a ring of whole messages and a sender thread.
std::unique_ptr<HepSink::Destination> makeStreamDestination(const HepDestination& dest, const std::string& output,
                                                            bool offline, const HepSinkConfig& config, SSL_CTX* tls);
// The TLS client context the TLS destinations share (an SSL_CTX). Throws
// std::runtime_error naming the output when the CA cannot be loaded.
std::shared_ptr<void> makeTlsContext(const HepTlsConfig& config, const std::string& output);

// Shared by the destinations and the sink.
// Waits with no end (offline) give up after this long without progress.
constexpr Duration kNoProgressLimit = 10 * kNanosPerSecond;
Timestamp monotonicNow();
int millisUntil(Timestamp deadline);  // poll()'s timeout, at most a minute
std::string errnoText(int e);

// getaddrinfo result, freed on scope exit. Empty with `error` set on failure.
struct Resolved {
  addrinfo* list = nullptr;
  std::string error;
  Resolved(const std::string& host, uint16_t port, int socktype);
  ~Resolved();
  Resolved(const Resolved&) = delete;
  Resolved& operator=(const Resolved&) = delete;
};

}  // namespace tapflow
