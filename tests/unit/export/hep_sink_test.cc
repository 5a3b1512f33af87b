// HEP sink against real sockets on 127.0.0.1: UDP datagrams, TCP framing,
// a receiver that goes away and comes back, TLS with a generated certificate.
// Every test checks that sent + dropped == written per destination.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "export/hep_sink.h"

using namespace tapflow;
using Clock = std::chrono::steady_clock;

namespace {

Event sipEvent(size_t n, size_t payload_bytes = 200) {
  Event e;
  e.type = EventType::kSip;
  e.hep = std::make_unique<HepMessage>();
  e.hep->src_ip.bytes[0] = 10, e.hep->src_ip.bytes[3] = 1;
  e.hep->dst_ip.bytes[0] = 10, e.hep->dst_ip.bytes[3] = 2;
  e.hep->src_port = 5060;
  e.hep->dst_port = 5060;
  e.hep->ts = int64_t(n) * kNanosPerSecond;
  e.hep->correlation_id = "call-" + std::to_string(n);
  std::string payload = "MESSAGE sip:" + std::to_string(n) + " SIP/2.0\r\n";
  payload.resize(std::max(payload.size(), payload_bytes), 'x');
  e.hep->payload = payload;
  return e;
}

std::string encoded(const Event& e, const HepIdentity& id) {
  std::string out;
  encodeHep3(*e.hep, id, out);
  return out;
}

bool waitUntil(const std::function<bool()>& done, double seconds = 5) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

void checkBalanced(const HepDestinationStats& s) {
  CHECK(s.sent.value() + s.dropped() == s.written.value());
}

int udpSocket(uint16_t& port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// port 0: any free port, reported back.
int tcpListener(uint16_t& port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(listen(fd, 8) == 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

int acceptWithin(int listener, int ms) {
  pollfd p{listener, POLLIN, 0};
  if (poll(&p, 1, ms) != 1) return -1;
  return accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

// Reads `count` HEP messages off a stream, split by their own length field.
using ReadFn = std::function<ssize_t(char*, size_t)>;
std::vector<std::string> readMessages(const ReadFn& read_some, size_t count) {
  std::vector<std::string> messages;
  std::string stream;
  char buf[16384];
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (messages.size() < count && Clock::now() < deadline) {
    while (stream.size() >= 6) {
      const size_t len = (uint8_t(stream[4]) << 8) | uint8_t(stream[5]);
      if (stream.compare(0, 4, "HEP3") != 0 || len < 6) return messages;  // framing broken: fail below
      if (stream.size() < len) break;
      messages.push_back(stream.substr(0, len));
      stream.erase(0, len);
    }
    if (messages.size() >= count) break;
    const ssize_t n = read_some(buf, sizeof(buf));
    if (n == 0) break;
    if (n > 0) stream.append(buf, size_t(n));
  }
  return messages;
}

ReadFn fdReader(int fd) {
  return [fd](char* buf, size_t size) -> ssize_t {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) != 1) return -1;
    return read(fd, buf, size);
  };
}

HepSinkConfig config(HepTransport transport, uint16_t port) {
  HepSinkConfig c;
  c.destinations.push_back({transport, "127.0.0.1", port});
  c.identity.agent_id = 7;
  c.identity.node_name = "node-a";
  c.reconnect_min = 20'000'000;  // 20 ms
  c.reconnect_max = kNanosPerSecond;
  return c;
}

}  // namespace

TEST_CASE("destination urls name the transport and bracket IPv6 hosts") {
  CHECK(HepDestination{HepTransport::kUdp, "h", 9060}.url() == "hep://h:9060");
  CHECK(HepDestination{HepTransport::kTcp, "10.0.0.1", 1}.url() == "hep+tcp://10.0.0.1:1");
  CHECK(HepDestination{HepTransport::kTls, "::1", 9061}.url() == "hep+tls://[::1]:9061");
}

TEST_CASE("UDP sends one datagram per message with the exact encoded bytes") {
  uint16_t port = 0;
  const int rx = udpSocket(port);
  HepSinkConfig c = config(HepTransport::kUdp, port);
  HepSink sink(c, "hep-test", false);

  Event not_hep;
  CHECK_FALSE(sink.accepts(not_hep));
  std::vector<std::string> expected;
  for (size_t i = 0; i < 5; ++i) {
    Event e = sipEvent(i, 100 + i * 300);
    CHECK(sink.accepts(e));
    CHECK(sink.write(e));
    expected.push_back(encoded(e, c.identity));
  }
  // Over UDP's 65507 bytes (but within HEP's 65535): too large for a datagram.
  Event big = sipEvent(99, 65400);
  const size_t big_bytes = hep3EncodedSize(*big.hep, c.identity);
  REQUIRE(big_bytes > 65507);
  REQUIRE(big_bytes <= kHep3MaxBytes);
  sink.write(big);
  Event huge = sipEvent(100, 70000);
  sink.write(huge);

  for (const std::string& want : expected) {
    char buf[70000];
    pollfd p{rx, POLLIN, 0};
    REQUIRE(poll(&p, 1, 2000) == 1);
    const ssize_t n = recv(rx, buf, sizeof(buf), 0);
    CHECK(std::string(buf, size_t(std::max<ssize_t>(n, 0))) == want);
  }
  pollfd p{rx, POLLIN, 0};
  CHECK(poll(&p, 1, 50) == 0);  // nothing else arrived

  sink.close(EventSink::kWaitForever);
  const HepDestinationStats& s = sink.stats(0);
  CHECK(s.written.value() == 7);
  CHECK(s.sent.value() == 5);
  CHECK(s.dropped_too_large.value() == 2);
  checkBalanced(s);
  close(rx);
}

TEST_CASE("UDP to a closed port counts refused sends as send errors") {
  uint16_t port = 0;
  close(udpSocket(port));  // a port nobody listens on: ICMP port unreachable
  HepSink sink(config(HepTransport::kUdp, port), "hep-test", false);
  for (size_t i = 0; i < 4; ++i) {
    Event e = sipEvent(i);
    sink.write(e);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the ICMP error arrive
  }
  sink.close(0);
  const HepDestinationStats& s = sink.stats(0);
  CHECK(s.written.value() == 4);
  CHECK(s.dropped_send_error.value() >= 1);
  checkBalanced(s);
}

TEST_CASE("TCP messages arrive whole and framed by their length, in order") {
  uint16_t port = 0;
  const int listener = tcpListener(port);
  HepSinkConfig c = config(HepTransport::kTcp, port);
  HepSink sink(c, "hep-test", false);
  const int conn = acceptWithin(listener, 3000);
  REQUIRE(conn >= 0);

  std::vector<std::string> expected;
  for (size_t i = 0; i < 300; ++i) {
    Event e = sipEvent(i, 50 + (i * 37) % 3000);
    sink.write(e);
    expected.push_back(encoded(e, c.identity));
  }
  const std::vector<std::string> got = readMessages(fdReader(conn), expected.size());
  CHECK(got == expected);
  CHECK(waitUntil([&] { return sink.stats(0).sent.value() == 300; }));
  CHECK(sink.connected(0));
  CHECK(sink.bufferedBytes(0) == 0);

  sink.close(EventSink::kWaitForever);
  const HepDestinationStats& s = sink.stats(0);
  CHECK(s.connects.value() == 1);
  CHECK(s.dropped() == 0);
  checkBalanced(s);
  close(conn);
  close(listener);
}

TEST_CASE("a TCP receiver that goes away gets the buffered messages when it returns; overflow is counted") {
  uint16_t port = 0;
  int listener = tcpListener(port);
  HepSinkConfig c = config(HepTransport::kTcp, port);
  c.reconnect_max = kNanosPerSecond;  // the contract: back within 2 s of the receiver
  const size_t message_bytes = encoded(sipEvent(100, 500), c.identity).size();
  c.buffer_bytes = uint32_t(message_bytes * 8 + message_bytes / 2);  // room for 8 whole messages
  HepSink sink(c, "hep-test", false);

  int conn = acceptWithin(listener, 3000);
  REQUIRE(conn >= 0);
  for (size_t i = 0; i < 5; ++i) {
    Event e = sipEvent(i, 500);
    sink.write(e);
  }
  CHECK(readMessages(fdReader(conn), 5).size() == 5);
  CHECK(waitUntil([&] { return sink.stats(0).sent.value() == 5; }));

  // The receiver goes away: the sink notices the close at once.
  close(conn);
  close(listener);
  CHECK(waitUntil([&] { return sink.stats(0).disconnects.value() == 1; }, 2));
  CHECK(waitUntil([&] { return !sink.connected(0); }, 2));

  std::vector<std::string> expected;
  for (size_t i = 100; i < 112; ++i) {
    Event e = sipEvent(i, 500);
    REQUIRE(encoded(e, c.identity).size() == message_bytes);
    sink.write(e);
    expected.push_back(encoded(e, c.identity));
  }
  expected.resize(8);  // the first 8 fit; 4 overflow
  CHECK(sink.stats(0).dropped_buffer_full.value() == 4);
  CHECK(sink.bufferedBytes(0) == message_bytes * 8);
  CHECK(waitUntil([&] { return sink.stats(0).connect_failures.value() >= 1; }, 3));

  // The receiver comes back on the same port.
  listener = tcpListener(port);
  const auto back = Clock::now();
  conn = acceptWithin(listener, 3000);
  REQUIRE(conn >= 0);
  CHECK(Clock::now() - back < std::chrono::seconds(2));
  CHECK(readMessages(fdReader(conn), 8) == expected);
  CHECK(waitUntil([&] { return sink.stats(0).sent.value() == 13; }));

  sink.close(EventSink::kWaitForever);
  const HepDestinationStats& s = sink.stats(0);
  CHECK(s.written.value() == 17);
  CHECK(s.sent.value() == 13);
  CHECK(s.dropped_buffer_full.value() == 4);
  CHECK(s.dropped_shutdown.value() == 0);
  CHECK(s.connects.value() == 2);
  checkBalanced(s);
  close(conn);
  close(listener);
}

TEST_CASE("messages a dead receiver never acknowledged are sent again whole on the next connection") {
  uint16_t port = 0;
  int listener = tcpListener(port);
  const int small = 4096;
  setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));  // inherited: fills fast
  HepSinkConfig c = config(HepTransport::kTcp, port);
  HepSink sink(c, "hep-test", false);
  int conn = acceptWithin(listener, 3000);
  REQUIRE(conn >= 0);

  std::vector<std::string> expected;
  for (size_t i = 0; i < 100; ++i) {
    Event e = sipEvent(i, 1000);
    sink.write(e);
    expected.push_back(encoded(e, c.identity));
  }
  // Wait until the window is full (nothing read), then die with a reset.
  CHECK(waitUntil([&] { return sink.stats(0).sent.value() > 0; }, 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const uint64_t acked_before = sink.stats(0).sent.value();
  CHECK(acked_before < 100);
  linger reset{1, 0};
  setsockopt(conn, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  close(conn);
  close(listener);
  CHECK(waitUntil([&] { return sink.stats(0).disconnects.value() == 1; }, 2));
  // Final for the old connection: nothing is acknowledged while nobody listens.
  const uint64_t acked = sink.stats(0).sent.value();
  CHECK(acked >= acked_before);

  listener = tcpListener(port);
  conn = acceptWithin(listener, 3000);
  REQUIRE(conn >= 0);
  // The new stream starts at a message boundary with the first message not acknowledged.
  const std::vector<std::string> got = readMessages(fdReader(conn), 100 - size_t(acked));
  REQUIRE(got.size() == 100 - acked);
  CHECK(std::equal(got.begin(), got.end(), expected.begin() + long(acked)));
  CHECK(waitUntil([&] { return sink.stats(0).sent.value() == 100; }));
  sink.close(EventSink::kWaitForever);
  checkBalanced(sink.stats(0));
  close(conn);
  close(listener);
}

TEST_CASE("close with the receiver away counts what is left as dropped at shutdown, and metrics say so") {
  uint16_t port = 0;
  close(tcpListener(port));  // nobody listens: connects are refused
  HepSink sink(config(HepTransport::kTcp, port), "hep-test", false);
  for (size_t i = 0; i < 3; ++i) {
    Event e = sipEvent(i);
    sink.write(e);
  }
  const auto start = Clock::now();
  sink.close(50'000'000);  // 50 ms grace
  CHECK(Clock::now() - start < std::chrono::seconds(2));
  const HepDestinationStats& s = sink.stats(0);
  CHECK(s.sent.value() == 0);
  CHECK(s.dropped_shutdown.value() == 3);
  CHECK(sink.bufferedBytes(0) == 0);
  checkBalanced(s);

  MetricsWriter m;
  sink.collectMetrics(m, {{"output", "hep-test"}});
  const std::string text = m.render();
  const std::string labels = "output=\"hep-test\",destination=\"hep+tcp://127.0.0.1:" + std::to_string(port) + "\"";
  CHECK(text.find("tapflow_hep_dropped_total{" + labels + ",reason=\"shutdown\"} 3\n") != std::string::npos);
  CHECK(text.find("tapflow_hep_dropped_total{" + labels + ",reason=\"buffer_full\"} 0\n") != std::string::npos);
  CHECK(text.find("tapflow_hep_sent_total{" + labels + "} 0\n") != std::string::npos);
  CHECK(text.find("tapflow_hep_connects_total{" + labels + "} 0\n") != std::string::npos);
  CHECK(text.find("tapflow_hep_disconnects_total{" + labels + "} 0\n") != std::string::npos);
  CHECK(text.find("tapflow_hep_connected{" + labels + "} 0\n") != std::string::npos);
  CHECK(text.find("tapflow_hep_buffered_bytes{" + labels + "} 0\n") != std::string::npos);
}

TEST_CASE("offline, a full buffer waits for a connected receiver instead of dropping") {
  uint16_t port = 0;
  const int listener = tcpListener(port);
  HepSinkConfig c = config(HepTransport::kTcp, port);
  c.buffer_bytes = 4096;
  HepSink sink(c, "hep-test", true);
  const int conn = acceptWithin(listener, 3000);
  REQUIRE(conn >= 0);
  REQUIRE(waitUntil([&] { return sink.connected(0); }));

  std::vector<std::string> got;
  std::thread reader([&] { got = readMessages(fdReader(conn), 200); });
  for (size_t i = 0; i < 200; ++i) {
    Event e = sipEvent(i, 1000);
    sink.write(e);
  }
  reader.join();
  CHECK(got.size() == 200);
  sink.close(EventSink::kWaitForever);
  CHECK(sink.stats(0).sent.value() == 200);
  CHECK(sink.stats(0).dropped() == 0);
  close(conn);
  close(listener);
}

namespace {

// A temporary directory with a self-signed certificate for 127.0.0.1.
struct TestPki {
  std::string dir;
  TestPki() {
    char tmpl[] = "/tmp/hep_sink_test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    for (const char* name : {"server", "other"}) {
      const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
                              " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
                              dir + "/" + name + ".key -out " + dir + "/" + name + ".pem 2>/dev/null";
      REQUIRE(std::system(cmd.c_str()) == 0);
    }
  }
  ~TestPki() { std::system(("rm -rf " + dir).c_str()); }
};

// Accepts TLS connections and hands the first successful one's reader out.
struct TlsServer {
  SSL_CTX* ctx = nullptr;
  int listener = -1;
  uint16_t port = 0;
  std::atomic<bool> stop{false};
  std::atomic<int> handshakes_failed{0};
  std::vector<std::string> received;
  std::atomic<size_t> expect{0};
  std::thread thread;

  TlsServer(const TestPki& pki, size_t expect_messages) : expect(expect_messages) {
    ctx = SSL_CTX_new(TLS_server_method());
    REQUIRE(SSL_CTX_use_certificate_file(ctx, (pki.dir + "/server.pem").c_str(), SSL_FILETYPE_PEM) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, (pki.dir + "/server.key").c_str(), SSL_FILETYPE_PEM) == 1);
    listener = tcpListener(port);
    thread = std::thread([this] { run(); });
  }
  ~TlsServer() {
    stop = true;
    thread.join();
    close(listener);
    SSL_CTX_free(ctx);
  }
  void run() {
    while (!stop) {
      const int conn = acceptWithin(listener, 50);
      if (conn < 0) continue;
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, conn);
      if (SSL_accept(ssl) != 1) {
        ++handshakes_failed;
      } else if (expect > 0) {
        received = readMessages(
            [&](char* buf, size_t size) -> ssize_t {
              pollfd p{conn, POLLIN, 0};
              if (SSL_pending(ssl) == 0 && poll(&p, 1, 100) != 1) return -1;
              const int n = SSL_read(ssl, buf, int(size));
              return n > 0 ? n : (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ ? -1 : 0);
            },
            expect);
        expect = 0;
      }
      SSL_free(ssl);
      ERR_clear_error();
      close(conn);
    }
  }
};

}  // namespace

TEST_CASE("TLS delivers whole messages to a server whose certificate the CA file vouches for") {
  TestPki pki;
  std::vector<std::string> expected;
  HepSinkConfig c = config(HepTransport::kTls, 0);
  {
    TlsServer server(pki, 50);
    c.destinations[0].port = server.port;
    c.tls.ca_file = pki.dir + "/server.pem";
    HepSink sink(c, "hep-test", false);
    for (size_t i = 0; i < 50; ++i) {
      Event e = sipEvent(i, 100 + i * 100);
      sink.write(e);
      expected.push_back(encoded(e, c.identity));
    }
    CHECK(waitUntil([&] { return sink.stats(0).sent.value() == 50; }));
    sink.close(EventSink::kWaitForever);
    CHECK(sink.stats(0).connects.value() == 1);
    CHECK(sink.stats(0).dropped() == 0);
    checkBalanced(sink.stats(0));
    CHECK(waitUntil([&] { return server.expect == 0; }));
    CHECK(server.received == expected);
  }
}

TEST_CASE("TLS with verification refuses a server the CA file does not vouch for, or a wrong name") {
  TestPki pki;
  TlsServer server(pki, 0);
  for (const std::string case_name : {"wrong CA", "wrong name"}) {
    CAPTURE(case_name);
    HepSinkConfig c = config(HepTransport::kTls, server.port);
    c.tls.verify = true;
    if (case_name == "wrong CA") {
      c.tls.ca_file = pki.dir + "/other.pem";
    } else {
      c.tls.ca_file = pki.dir + "/server.pem";
      c.tls.server_name = "homer.example";
    }
    HepSink sink(c, "hep-test", false);
    Event e = sipEvent(1);
    sink.write(e);
    CHECK(waitUntil([&] { return sink.stats(0).disconnects.value() >= 1; }, 3));
    CHECK(sink.stats(0).connect_failures.value() >= 1);
    CHECK(sink.stats(0).connects.value() == 0);
    CHECK_FALSE(sink.connected(0));
    sink.close(0);
    CHECK(sink.stats(0).sent.value() == 0);
    CHECK(sink.stats(0).dropped_shutdown.value() == 1);
    checkBalanced(sink.stats(0));
  }
}

TEST_CASE("a TLS CA file that cannot be read is a start-up error naming it") {
  HepSinkConfig c = config(HepTransport::kTls, 9);
  c.tls.ca_file = "/nonexistent/ca.pem";
  CHECK_THROWS_WITH_AS(HepSink(c, "hep-test", false), doctest::Contains("/nonexistent/ca.pem"), std::runtime_error);
}
