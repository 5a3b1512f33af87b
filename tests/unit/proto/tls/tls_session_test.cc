// TlsSession: the record layer (hellos split over records and segments),
// when the one event goes out, every drop reason's counter, and the
// differential check that whole, 1-byte and random-size delivery agree.
#include "proto/tls/tls_session.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>

#include "tls_captured.h"
#include "tls_test_util.h"

namespace tapflow {
namespace {

using namespace tls_test;

constexpr StreamDir kC2S = StreamDir::kToServer;
constexpr StreamDir kS2C = StreamDir::kToClient;

struct Fixture {
  TlsConfig config;
  TlsStats stats;
  EventCollector events;
};

void feed(TlsSession& s, StreamDir dir, const Bytes& bytes, Timestamp ts, TlsEventSink& sink) {
  s.onData(dir, bytes.data(), bytes.size(), ts, sink);
}

// The curl handshake: ClientHello, then the server's ServerHello, CCS and encrypted bytes.
Bytes curlClient() { return fromHex(kCurlClientHello); }
Bytes curlServer() { return fromHex(kCurlServerFlight); }

TEST_CASE("the captured curl handshake gives one event when the ServerHello is parsed") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  f.events.session = &s;
  feed(s, kC2S, curlClient(), 1000, f.events);
  CHECK(f.events.count() == 0);
  CHECK_FALSE(s.done());
  feed(s, kS2C, curlServer(), 2000, f.events);
  REQUIRE(f.events.count() == 1);
  CHECK(s.done());
  const TlsHello& h = f.events.hellos[0];
  CHECK(h.has_client_hello);
  CHECK(h.has_server_hello);
  CHECK(f.events.sni[0] == "example.test");
  CHECK(f.events.alpn[0] == std::vector<std::string>{"http/1.1"});
  CHECK(f.events.ja3_hash[0] == "0149f47eabf9a20d0893e2a44e5a6323");
  CHECK(f.events.ja4[0] == "t13d3112h1_e8f1e7e78f70_b26ce05bbdd6");
  CHECK(f.events.ja3s[0] == "771,4866,43-51");
  CHECK(f.events.ja3s_hash[0] == "15af977ce25de452b96affa2addb1036");
  CHECK(h.server_version == 0x0304);
  CHECK(h.cipher == 0x1302);
  CHECK(h.client_hello_ts == 1000);
  CHECK(h.server_hello_ts == 2000);
  CHECK(f.events.views_owned);
  CHECK(f.stats.client_hellos.value() == 1);
  CHECK(f.stats.server_hellos.value() == 1);
  CHECK(f.stats.events.value() == 1);

  // Nothing after the event: more bytes, the ends and finish() stay silent.
  feed(s, kS2C, curlServer(), 3000, f.events);
  s.onEnd(kC2S, StreamEnd::kFin, 4000, f.events);
  s.onEnd(kS2C, StreamEnd::kFin, 4000, f.events);
  s.finish(5000, f.events);
  CHECK(f.events.count() == 1);
  uint64_t problems = 0;
  f.stats.forEach([&](const char* name, const char*, const Counter& c) {
    if (std::string(name) != "client_hellos" && std::string(name) != "server_hellos" &&
        std::string(name) != "events") {
      problems += c.value();
    }
  });
  CHECK(problems == 0);
}

TEST_CASE("the captured TLS 1.2 handshake reports the chosen version and cipher") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  feed(s, kC2S, fromHex(kOpensslTls12ClientHello), 10, f.events);
  feed(s, kS2C, fromHex(kOpensslTls12ServerFlight), 20, f.events);
  REQUIRE(f.events.count() == 1);
  CHECK(f.events.hellos[0].server_version == 0x0303);
  CHECK(f.events.hellos[0].cipher == 0xc030);
  CHECK(f.events.sni[0] == "foo.example");
  CHECK(f.events.alpn[0] == std::vector<std::string>{"h2", "http/1.1"});
  CHECK(f.events.ja3_hash[0] == "22558766122974704364c9c75c5cce0a");
  CHECK(f.events.ja3s_hash[0] == "895252f3ce80cebf7a8837be83ec8e16");
}

// Runs a two-direction conversation delivered in pieces chosen by `cut`
// (client bytes first, then server bytes) and returns the rendered events.
template <typename Cut>
std::vector<std::string> runInPieces(const Bytes& client, const Bytes& server, Cut cut, TlsStats& stats,
                                     const TlsConfig& config = TlsConfig{}) {
  EventCollector events;
  TlsSession s(config, stats);
  events.session = &s;
  for (auto [dir, bytes] : {std::pair<StreamDir, const Bytes*>{kC2S, &client}, {kS2C, &server}}) {
    size_t pos = 0;
    while (pos < bytes->size()) {
      const size_t n = std::min(cut(bytes->size() - pos), bytes->size() - pos);
      s.onData(dir, bytes->data() + pos, n, dir == kC2S ? 100 : 200, events);
      pos += n;
    }
  }
  s.finish(300, events);
  CHECK(events.views_owned);
  return events.lines;
}

TEST_CASE("a hello delivered whole, in 1-byte pieces and in random pieces gives identical events") {
  const Bytes spec_body = clientHelloBody(0x0303, {0x1a1a, 0x1301, 0xc02f},
                                          {serverName("multi.example"), alpn({"h2"}), supportedVersions({0x0304})});
  const Bytes hrr_random = fromHex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c");
  struct Conversation {
    const char* name;
    Bytes client, server;
  };
  const std::vector<Conversation> conversations = {
      {"curl TLS 1.3", curlClient(), curlServer()},
      {"openssl TLS 1.2", fromHex(kOpensslTls12ClientHello), fromHex(kOpensslTls12ServerFlight)},
      {"hello in 7-byte records", clientHelloRecord(spec_body, 7),
       serverHelloRecord(serverHelloBody(0x0303, 0x1301, {{0x002b, {0x03, 0x04}}}, hrr_random))},
      {"client only", clientHelloRecord(spec_body, 100), {}},
      {"server only", {}, fromHex(kOpensslTls12ServerFlight)},
  };
  std::mt19937 rng(12345);
  for (const auto& c : conversations) {
    CAPTURE(c.name);
    TlsStats whole_stats, byte_stats;
    const auto whole = runInPieces(c.client, c.server, [](size_t left) { return left; }, whole_stats);
    REQUIRE(whole.size() == 1);
    CHECK(runInPieces(c.client, c.server, [](size_t) { return size_t(1); }, byte_stats) == whole);
    for (int round = 0; round < 20; ++round) {
      TlsStats stats;
      std::uniform_int_distribution<size_t> piece(1, 40);
      CHECK(runInPieces(c.client, c.server, [&](size_t) { return piece(rng); }, stats) == whole);
      CHECK(stats.client_hellos.value() == whole_stats.client_hellos.value());
    }
    CHECK(byte_stats.server_hellos.value() == whole_stats.server_hellos.value());
  }
}

TEST_CASE("a ClientHello spread over several records and segments is reassembled") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  const Bytes body = clientHelloBody(0x0303, {0x1301}, {serverName("split.example"), alpn({"h2", "http/1.1"})});
  const Bytes stream = clientHelloRecord(body, 16);  // many 16-byte records
  REQUIRE(stream.size() > 5 * 16);
  feed(s, kC2S, Bytes(stream.begin(), stream.begin() + 50), 7, f.events);
  feed(s, kC2S, Bytes(stream.begin() + 50, stream.end()), 8, f.events);
  s.finish(9, f.events);
  REQUIRE(f.events.count() == 1);
  CHECK(f.events.sni[0] == "split.example");
  CHECK(f.events.hellos[0].client_hello_ts == 7);  // the hello's first byte
  CHECK_FALSE(f.events.hellos[0].has_server_hello);
}

TEST_CASE("a record other than handshake inside a split hello drops the direction and counts") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  const Bytes stream = clientHelloRecord(clientHelloBody(0x0303, {0x1301}, {serverName("a.b")}), 20);
  Bytes broken(stream.begin(), stream.begin() + 25);  // first whole record
  append(broken, records({0x02, 0x28}, 16384, 21, 0x0303));  // an alert
  feed(s, kC2S, broken, 1, f.events);
  CHECK(f.stats.malformed_record_sequence.value() == 1);
  s.finish(2, f.events);
  CHECK(f.events.count() == 0);
  CHECK(f.stats.truncated_hellos.value() == 0);  // already dropped, not counted twice
}

TEST_CASE("record headers that are not TLS are counted by reason") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  Bytes bytes;
  Counter* expected = nullptr;
  SUBCASE("HTTP text") {
    const std::string get = "GET / HTTP/1.1\r\n";
    bytes.assign(get.begin(), get.end());
    expected = &f.stats.malformed_record_header;
  }
  SUBCASE("unknown content type") {
    bytes = {0x30, 0x03, 0x03, 0x00, 0x10};
    expected = &f.stats.malformed_record_header;
  }
  SUBCASE("version 2.0 in a handshake record") {
    bytes = {0x16, 0x02, 0x00, 0x00, 0x10};
    expected = &f.stats.malformed_record_header;
  }
  SUBCASE("version 3.5") {
    bytes = {0x16, 0x03, 0x05, 0x00, 0x10};
    expected = &f.stats.malformed_record_header;
  }
  SUBCASE("zero-length handshake record") {
    bytes = {0x16, 0x03, 0x01, 0x00, 0x00};
    expected = &f.stats.malformed_record_length;
  }
  SUBCASE("record longer than 2^14 + 2048") {
    bytes = {0x16, 0x03, 0x01, 0x48, 0x01};
    expected = &f.stats.malformed_record_length;
  }
  SUBCASE("application data first") {
    bytes = {0x17, 0x03, 0x03, 0x00, 0x10};
    expected = &f.stats.not_handshake;
  }
  SUBCASE("change_cipher_spec first") {
    bytes = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01};
    expected = &f.stats.not_handshake;
  }
  feed(s, kC2S, bytes, 1, f.events);
  CHECK(expected->value() == 1);
  uint64_t total = 0;
  f.stats.forEach([&](const char*, const char*, const Counter& c) { total += c.value(); });
  CHECK(total == 1);
  feed(s, kC2S, curlClient(), 2, f.events);  // the direction is given up for good
  CHECK(f.stats.client_hellos.value() == 0);
  s.finish(3, f.events);
  CHECK(f.events.count() == 0);
}

TEST_CASE("a record of exactly 2^14 + 2048 bytes is accepted") {
  Fixture f;
  f.config.max_hello_bytes = 20000;
  TlsSession s(f.config, f.stats);
  Bytes bytes = {0x16, 0x03, 0x01, 0x48, 0x00};
  feed(s, kC2S, bytes, 1, f.events);
  CHECK(f.stats.malformed_record_length.value() == 0);
}

TEST_CASE("a first handshake message other than the expected hello is counted") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  feed(s, kC2S, records(handshake(2, Bytes(40, 0))), 1, f.events);  // ServerHello sent by the client
  feed(s, kS2C, records(handshake(1, Bytes(40, 0))), 1, f.events);  // ClientHello sent by the server
  CHECK(f.stats.malformed_unexpected_message.value() == 2);
  CHECK(s.done());
}

TEST_CASE("an SSLv2-compatible ClientHello is counted and not parsed; the ServerHello is still reported") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  // 2-byte header with the top bit set, CLIENT-HELLO (1), version 3.1, cipher spec/session/challenge lengths.
  const Bytes sslv2 = {0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10};
  CHECK_FALSE(TlsSession::looksLikeClientHello(sslv2.data(), sslv2.size()));
  feed(s, kC2S, sslv2, 1, f.events);
  CHECK(f.stats.sslv2_hellos.value() == 1);
  feed(s, kS2C, serverHelloRecord(serverHelloBody(0x0301, 0x002f, {})), 2, f.events);
  REQUIRE(f.events.count() == 1);
  CHECK_FALSE(f.events.hellos[0].has_client_hello);
  CHECK(f.events.hellos[0].has_server_hello);
  CHECK(f.events.hellos[0].server_version == 0x0301);
}

TEST_CASE("a hello longer than max_hello_bytes is counted and skipped; one at the limit is parsed") {
  const Bytes body = clientHelloBody(0x0303, {0x1301}, {serverName("big.example"), {0x0015, Bytes(300, 0)}});
  const uint32_t hello_bytes = uint32_t(5 + 4 + body.size());
  for (uint32_t limit : {hello_bytes - 1, hello_bytes}) {
    CAPTURE(limit);
    Fixture f;
    f.config.max_hello_bytes = limit;
    TlsSession s(f.config, f.stats);
    feed(s, kC2S, clientHelloRecord(body, 100), 1, f.events);
    s.finish(2, f.events);
    const bool fits = limit == hello_bytes;
    CHECK(f.events.count() == (fits ? 1u : 0u));
    CHECK(f.stats.hello_too_long.value() == (fits ? 0u : 1u));
  }
}

TEST_CASE("a tiny max_hello_bytes refuses every hello without overrunning its buffer") {
  Fixture f;
  f.config.max_hello_bytes = 0;
  TlsSession s(f.config, f.stats);
  feed(s, kC2S, curlClient(), 1, f.events);
  CHECK(f.stats.hello_too_long.value() == 1);
}

TEST_CASE("a gap inside the hello drops that direction and counts; a gap after it is ignored") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  const Bytes client = curlClient();
  feed(s, kC2S, Bytes(client.begin(), client.begin() + 100), 1, f.events);
  s.onGap(kC2S, 50, f.events);
  feed(s, kC2S, Bytes(client.begin() + 150, client.end()), 2, f.events);
  CHECK(f.stats.gaps.value() == 1);
  feed(s, kS2C, curlServer(), 3, f.events);
  s.onGap(kS2C, 10, f.events);  // after the ServerHello: not counted
  CHECK(f.stats.gaps.value() == 1);
  REQUIRE(f.events.count() == 1);  // server side alone
  CHECK_FALSE(f.events.hellos[0].has_client_hello);
  CHECK(f.events.hellos[0].cipher == 0x1302);
}

TEST_CASE("a direction that ends in the middle of its hello counts a truncated hello") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  const Bytes client = curlClient();
  SUBCASE("inside the record header") {
    feed(s, kC2S, Bytes(client.begin(), client.begin() + 3), 1, f.events);
  }
  SUBCASE("inside the body") {
    feed(s, kC2S, Bytes(client.begin(), client.begin() + 300), 1, f.events);
  }
  SUBCASE("right after the record header") {
    feed(s, kC2S, Bytes(client.begin(), client.begin() + 5), 1, f.events);
  }
  s.onEnd(kC2S, StreamEnd::kRst, 2, f.events);
  CHECK(f.stats.truncated_hellos.value() == 1);
  s.finish(3, f.events);
  CHECK(f.stats.truncated_hellos.value() == 1);
  CHECK(f.events.count() == 0);
}

TEST_CASE("finish() counts a hello still incomplete when no onEnd came") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  const Bytes client = curlClient();
  feed(s, kC2S, Bytes(client.begin(), client.begin() + 300), 1, f.events);
  s.finish(2, f.events);
  CHECK(f.stats.truncated_hellos.value() == 1);
  CHECK(f.events.count() == 0);
}

TEST_CASE("an alert instead of the ServerHello is counted and the ClientHello goes out when the server side ends") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  feed(s, kC2S, curlClient(), 1, f.events);
  feed(s, kS2C, records({0x02, 0x46}, 16384, 21, 0x0303), 2, f.events);  // fatal protocol_version
  CHECK(f.stats.alerts_before_hello.value() == 1);
  // Both directions are settled: nothing more can come, the event goes out now.
  REQUIRE(f.events.count() == 1);
  CHECK(f.events.hellos[0].has_client_hello);
  CHECK_FALSE(f.events.hellos[0].has_server_hello);
  CHECK(s.done());
}

TEST_CASE("a lone ClientHello is emitted once by finish(); later calls emit nothing") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  feed(s, kC2S, curlClient(), 1, f.events);
  CHECK_FALSE(s.done());
  s.finish(5, f.events);
  REQUIRE(f.events.count() == 1);
  CHECK(f.events.hellos[0].has_client_hello);
  CHECK(s.done());
  s.finish(6, f.events);
  feed(s, kS2C, curlServer(), 7, f.events);
  CHECK(f.events.count() == 1);
  CHECK(f.stats.server_hellos.value() == 0);
}

TEST_CASE("the client direction ending after its hello lets the ServerHello emit as soon as it is parsed") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  feed(s, kC2S, curlClient(), 1, f.events);
  s.onEnd(kC2S, StreamEnd::kFin, 2, f.events);
  CHECK(f.events.count() == 0);  // the server may still answer
  feed(s, kS2C, curlServer(), 3, f.events);
  CHECK(f.events.count() == 1);
  CHECK(f.stats.truncated_hellos.value() == 0);
}

TEST_CASE("a ServerHello whose ClientHello comes later waits for it") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  feed(s, kS2C, curlServer(), 2, f.events);
  CHECK(f.events.count() == 0);
  feed(s, kC2S, curlClient(), 1, f.events);
  REQUIRE(f.events.count() == 1);
  CHECK(f.events.hellos[0].has_client_hello);
  CHECK(f.events.hellos[0].has_server_hello);
}

TEST_CASE("a session with no hello emits nothing, even at finish()") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  s.onEnd(kC2S, StreamEnd::kFlowEnd, 1, f.events);
  s.onEnd(kS2C, StreamEnd::kFlowEnd, 1, f.events);
  CHECK(s.done());
  s.finish(2, f.events);
  CHECK(f.events.count() == 0);
  CHECK(f.stats.events.value() == 0);
}

TEST_CASE("reset() makes a used session behave like a new one") {
  Fixture f;
  TlsSession s(f.config, f.stats);
  feed(s, kC2S, {0x17, 0x03, 0x03, 0x00, 0x01}, 1, f.events);  // give up the client side
  feed(s, kS2C, fromHex(kOpensslTls12ServerFlight), 2, f.events);
  s.finish(3, f.events);
  REQUIRE(f.events.count() == 1);
  s.reset();
  CHECK_FALSE(s.done());
  feed(s, kC2S, curlClient(), 1000, f.events);
  feed(s, kS2C, curlServer(), 2000, f.events);
  REQUIRE(f.events.count() == 2);

  Fixture fresh;
  TlsSession t(fresh.config, fresh.stats);
  feed(t, kC2S, curlClient(), 1000, fresh.events);
  feed(t, kS2C, curlServer(), 2000, fresh.events);
  REQUIRE(fresh.events.count() == 1);
  CHECK(f.events.lines[1] == fresh.events.lines[0]);
}

TEST_CASE("looksLikeClientHello recognizes a handshake record carrying a ClientHello") {
  const Bytes client = curlClient();
  CHECK(TlsSession::looksLikeClientHello(client.data(), client.size()));
  CHECK(TlsSession::looksLikeClientHello(client.data(), 6));
  CHECK_FALSE(TlsSession::looksLikeClientHello(client.data(), 5));
  CHECK_FALSE(TlsSession::looksLikeClientHello(nullptr, 0));
  const Bytes server = curlServer();
  CHECK_FALSE(TlsSession::looksLikeClientHello(server.data(), server.size()));
  const std::string get = "GET / HTTP/1.1\r\n";
  CHECK_FALSE(TlsSession::looksLikeClientHello(reinterpret_cast<const uint8_t*>(get.data()), get.size()));
  const Bytes zero_length = {0x16, 0x03, 0x01, 0x00, 0x00, 0x01};
  CHECK_FALSE(TlsSession::looksLikeClientHello(zero_length.data(), zero_length.size()));
}

TEST_CASE("every TLS counter has a distinct name and a help text") {
  TlsStats stats;
  std::vector<std::string> names;
  stats.forEach([&](const char* name, const char* help, const Counter&) {
    CHECK(std::string(help).size() > 10);
    names.emplace_back(name);
  });
  CHECK(names.size() == 21);
  std::sort(names.begin(), names.end());
  CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
}

}  // namespace
}  // namespace tapflow
