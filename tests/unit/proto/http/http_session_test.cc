// Tests of the HTTP/1.x session: pairing, body framing, upgrades, gaps,
// malformed heads and limits, each checked on exact event fields and counters;
// and a differential test: whole, 1-byte and random-size deliveries of the
// same streams give the same events and counters.
#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "proto/http/http_session.h"

namespace tapflow {
namespace {

constexpr StreamDir kC = StreamDir::kToServer;
constexpr StreamDir kS = StreamDir::kToClient;

// An event copied out of the callback (its views die with it).
struct Event {
  bool has_request = false, has_response = false;
  std::string method, url, request_version, host, user_agent;
  uint16_t status_code = 0;
  std::string reason, response_version;
  uint64_t request_body_bytes = 0, response_body_bytes = 0;
  Timestamp request_ts = 0, response_ts = 0, response_end_ts = 0;
  std::string upgrade;
  bool request_incomplete = false, response_incomplete = false;
  std::vector<std::pair<std::string, std::string>> headers;
  uint16_t informational_status = 0;
  std::string text;  // describeTransaction()
};

struct Harness : HttpEventSink {
  HttpConfig config;
  HttpStats stats;
  std::unique_ptr<HttpSession> session;
  std::vector<Event> events;
  bool views_inside = true;

  explicit Harness(HttpConfig c = HttpConfig{}) : config(std::move(c)) {
    session = std::make_unique<HttpSession>(config, stats);
  }

  void send(StreamDir dir, std::string_view bytes, Timestamp ts = 1) {
    session->onData(dir, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), ts, *this);
  }
  void client(std::string_view bytes, Timestamp ts = 1) { send(kC, bytes, ts); }
  void server(std::string_view bytes, Timestamp ts = 1) { send(kS, bytes, ts); }
  void gap(StreamDir dir, uint64_t len) { session->onGap(dir, len, *this); }
  void end(StreamDir dir, StreamEnd reason = StreamEnd::kFin, Timestamp ts = 1000) {
    session->onEnd(dir, reason, ts, *this);
  }
  void finish(Timestamp ts = 1000) { session->finish(ts, *this); }

  void onHttpTransaction(const HttpTransaction& t) override {
    Event e;
    for (std::string_view v : {t.method, t.url, t.request_version, t.host, t.user_agent, t.reason,
                               t.response_version, t.upgrade}) {
      views_inside = views_inside && session->ownsText(v);
    }
    e.has_request = t.has_request;
    e.has_response = t.has_response;
    e.method = t.method;
    e.url = t.url;
    e.request_version = t.request_version;
    e.host = t.host;
    e.user_agent = t.user_agent;
    e.status_code = t.status_code;
    e.reason = t.reason;
    e.response_version = t.response_version;
    e.request_body_bytes = t.request_body_bytes;
    e.response_body_bytes = t.response_body_bytes;
    e.request_ts = t.request_ts;
    e.response_ts = t.response_ts;
    e.response_end_ts = t.response_end_ts;
    e.upgrade = t.upgrade;
    e.request_incomplete = t.request_incomplete;
    e.response_incomplete = t.response_incomplete;
    e.informational_status = t.informational_status;
    for (size_t i = 0; i < t.header_count; ++i) {
      views_inside = views_inside && session->ownsText(t.headers[i].name) && session->ownsText(t.headers[i].value);
      e.headers.emplace_back(t.headers[i].name, t.headers[i].value);
    }
    e.text = describeTransaction(t);
    events.push_back(std::move(e));
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("a request and its response make one transaction with every field") {
  HttpConfig config;
  config.headers = {"content-type", "X-Request-Id"};
  Harness h(config);
  h.client(
      "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nX-Request-Id: r1\r\n\r\n", 100);
  CHECK(h.events.empty());
  h.server("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhel", 250);
  CHECK(h.events.empty());
  h.server("lo", 300);
  REQUIRE(h.events.size() == 1);
  const Event& e = h.events[0];
  CHECK(e.has_request);
  CHECK(e.has_response);
  CHECK(e.method == "GET");
  CHECK(e.url == "/index.html?q=1");
  CHECK(e.request_version == "1.1");
  CHECK(e.host == "example.com");
  CHECK(e.user_agent == "curl/8.0");
  CHECK(e.status_code == 200);
  CHECK(e.reason == "OK");
  CHECK(e.response_version == "1.1");
  CHECK(e.request_body_bytes == 0);
  CHECK(e.response_body_bytes == 5);
  CHECK(e.request_ts == 100);
  CHECK(e.response_ts == 250);
  CHECK(e.response_end_ts == 300);
  CHECK(e.upgrade.empty());
  CHECK_FALSE(e.request_incomplete);
  CHECK_FALSE(e.response_incomplete);
  CHECK(e.informational_status == 0);
  CHECK(e.headers == Headers{{"X-Request-Id", "r1"}, {"Content-Type", "text/html"}});
  CHECK(h.views_inside);
  CHECK(h.stats.requests.value() == 1);
  CHECK(h.stats.responses.value() == 1);
  CHECK(h.stats.transactions.value() == 1);
  h.finish();
  CHECK(h.events.size() == 1);  // nothing left
  CHECK(h.stats.unanswered_requests.value() == 0);
}

TEST_CASE("keep-alive exchanges on one connection pair in order") {
  Harness h;
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    h.client("GET /" + n + " HTTP/1.1\r\nHost: h\r\n\r\n", 10 * i);
    h.server("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + n, 10 * i + 5);
  }
  REQUIRE(h.events.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(h.events[i].url == "/" + std::to_string(i));
    CHECK(h.events[i].status_code == 200);
    CHECK(h.events[i].request_ts == 10 * i);
    CHECK(h.events[i].response_ts == 10 * i + 5);
    CHECK(h.events[i].response_body_bytes == 1);
  }
}

TEST_CASE("pipelined requests are answered in the order they were sent") {
  Harness h;
  h.client("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n", 1);
  CHECK(h.events.empty());
  h.server(
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\naa"
      "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.1 301 Moved\r\nContent-Length: 3\r\n\r\nccc",
      2);
  REQUIRE(h.events.size() == 3);
  CHECK(h.events[0].url == "/a");
  CHECK(h.events[0].status_code == 200);
  CHECK(h.events[0].response_body_bytes == 2);
  CHECK(h.events[1].url == "/b");
  CHECK(h.events[1].status_code == 404);
  CHECK(h.events[1].reason == "Not Found");
  CHECK(h.events[1].response_body_bytes == 0);
  CHECK(h.events[2].url == "/c");
  CHECK(h.events[2].status_code == 301);
  CHECK(h.events[2].response_body_bytes == 3);
  CHECK(h.stats.responses_without_request.value() == 0);
}

TEST_CASE("a request body of Content-Length bytes is skipped and counted") {
  Harness h;
  h.client("POST /upload HTTP/1.1\r\nContent-Length: 11\r\n\r\nGET / HTTP/", 1);
  h.client("GET /next HTTP/1.1\r\n\r\n", 2);  // "GET / HTTP/" above was body, not a request
  h.server("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3);
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].method == "POST");
  CHECK(h.events[0].request_body_bytes == 11);
  CHECK(h.events[0].status_code == 201);
  CHECK(h.events[1].url == "/next");
  CHECK(h.stats.requests.value() == 2);
}

TEST_CASE("a chunked body counts payload bytes and skips sizes, extensions and trailers") {
  Harness h;
  h.client("GET / HTTP/1.1\r\n\r\n");
  h.server(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "00A \r\n0123456789\r\n"
      "0\r\nX-Checksum: abc\r\nX-More: 1\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      7);
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].response_body_bytes == 15);
  CHECK_FALSE(h.events[0].response_incomplete);
  CHECK(h.events[0].response_end_ts == 7);
  CHECK(h.events[1].has_request == false);  // the second response had no request
  CHECK(h.stats.responses_without_request.value() == 1);
}

TEST_CASE("a chunked request body is de-chunked too") {
  Harness h;
  h.client("POST /p HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  h.server("HTTP/1.1 204 No Content\r\n\r\n");
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].request_body_bytes == 3);
  CHECK(h.events[0].status_code == 204);
}

TEST_CASE("a response without length ends when the server closes with a FIN") {
  Harness h;
  h.client("GET /old HTTP/1.0\r\n\r\n", 1);
  h.server("HTTP/1.0 200 OK\r\n\r\nsome ", 2);
  h.server("bytes", 3);
  CHECK(h.events.empty());
  h.end(kS, StreamEnd::kFin, 9);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].request_version == "1.0");
  CHECK(h.events[0].response_body_bytes == 10);
  CHECK_FALSE(h.events[0].response_incomplete);
  CHECK(h.events[0].response_end_ts == 3);  // the last byte, not the FIN
  CHECK(h.stats.bodies_cut_by_end.value() == 0);
}

TEST_CASE("a response without length ended by a reset is incomplete") {
  Harness h;
  h.client("GET / HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz");  // not chunked: until close
  h.end(kS, StreamEnd::kRst);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].response_body_bytes == 3);
  CHECK(h.events[0].response_incomplete);
  CHECK(h.stats.bodies_cut_by_end.value() == 1);
  CHECK(h.stats.length_and_transfer_encoding.value() == 0);
}

TEST_CASE("a response to HEAD has no body whatever its Content-Length says") {
  Harness h;
  h.client("HEAD /big HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz");
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].method == "HEAD");
  CHECK(h.events[0].response_body_bytes == 0);
  CHECK(h.events[1].url == "/x");
  CHECK(h.events[1].response_body_bytes == 1);
}

TEST_CASE("204 and 304 responses carry no body") {
  Harness h;
  h.client("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
  h.server(
      "HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  REQUIRE(h.events.size() == 3);
  CHECK(h.events[0].status_code == 204);
  CHECK(h.events[0].response_body_bytes == 0);
  CHECK(h.events[1].status_code == 304);
  CHECK(h.events[1].response_body_bytes == 0);
  CHECK(h.events[2].status_code == 200);
  CHECK(h.events[2].response_body_bytes == 2);
}

TEST_CASE("a bad Content-Length on a response without body is not an error") {
  Harness h;
  h.client("HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n");
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].status_code == 200);
  CHECK(h.events[1].status_code == 304);
  CHECK(h.stats.bad_content_length.value() == 0);
  h.client("GET / HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n");
  REQUIRE(h.events.size() == 3);
  CHECK_FALSE(h.events[2].has_response);
  CHECK(h.events[2].response_incomplete);
  CHECK(h.stats.bad_content_length.value() == 1);
}

TEST_CASE("100 continue is not the final response and is reported as informational") {
  Harness h;
  h.client("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 10);
  h.server("HTTP/1.1 100 Continue\r\n\r\n", 20);
  CHECK(h.events.empty());
  h.client("data", 30);
  h.server("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 40);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].informational_status == 100);
  CHECK(h.events[0].status_code == 201);
  CHECK(h.events[0].request_body_bytes == 4);
  CHECK(h.events[0].request_ts == 10);
  CHECK(h.events[0].response_ts == 40);
  CHECK(h.events[0].response_end_ts == 40);
  CHECK(h.stats.informational_responses.value() == 1);
  CHECK(h.stats.responses.value() == 1);
}

TEST_CASE("101 switching protocols reports the upgrade and stops parsing the connection") {
  Harness h;
  h.client("GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  h.server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello");
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].status_code == 101);
  CHECK(h.events[0].upgrade == "websocket");
  CHECK(h.events[0].url == "/chat");
  h.client("\x81\x85garbage that is not HTTP\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  h.gap(kC, 10);
  h.finish();
  CHECK(h.events.size() == 1);
  CHECK(h.stats.upgrades.value() == 1);
  CHECK(h.stats.bad_start_line.value() == 0);
}

TEST_CASE("a 2xx answer to CONNECT turns the connection into a tunnel") {
  Harness h;
  h.client("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  h.server("HTTP/1.1 200 Connection established\r\n\r\n");
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].method == "CONNECT");
  CHECK(h.events[0].url == "example.com:443");
  CHECK(h.events[0].upgrade == "CONNECT");
  CHECK(h.events[0].response_body_bytes == 0);
  h.client("\x16\x03\x01\x02\x00");
  h.server("\x16\x03\x03\x00\x10");
  h.finish();
  CHECK(h.events.size() == 1);
  CHECK(h.stats.upgrades.value() == 1);
  CHECK(h.stats.bad_start_line.value() == 0);
}

TEST_CASE("a refused CONNECT keeps the connection in HTTP") {
  Harness h;
  h.client("CONNECT example.com:443 HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
  h.client("CONNECT example.com:443 HTTP/1.1\r\nProxy-Authorization: x\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\n\r\n");
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].status_code == 407);
  CHECK(h.events[0].upgrade.empty());
  CHECK(h.events[1].upgrade == "CONNECT");
}

TEST_CASE("url mode no_query cuts at the query and drop leaves the url empty") {
  HttpConfig config;
  config.url_mode = HttpConfig::UrlMode::kNoQuery;
  Harness no_query(config);
  no_query.client("GET /path/x?token=secret HTTP/1.1\r\n\r\nGET /y#frag HTTP/1.1\r\n\r\n");
  no_query.finish();
  REQUIRE(no_query.events.size() == 2);
  CHECK(no_query.events[0].url == "/path/x");
  CHECK(no_query.events[1].url == "/y");
  config.url_mode = HttpConfig::UrlMode::kDrop;
  Harness drop(config);
  drop.client("GET /path/x?token=secret HTTP/1.1\r\n\r\n");
  drop.finish();
  REQUIRE(drop.events.size() == 1);
  CHECK(drop.events[0].url.empty());
  CHECK(drop.events[0].method == "GET");
}

TEST_CASE("allow-listed headers are copied case-insensitively, request's then response's, up to the cap") {
  HttpConfig config;
  config.headers = {"x-a", "HOST", "server"};
  config.max_copied_headers = 2;
  Harness h(config);
  h.client("GET / HTTP/1.1\r\nX-A: 1\r\nhost: h.example\r\nX-B: no\r\nx-a: 2\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].headers == Headers{{"X-A", "1"}, {"host", "h.example"}, {"Server", "nginx"}});
  CHECK(h.events[0].host == "h.example");
  CHECK(h.stats.headers_not_copied.value() == 1);  // the second x-a
  CHECK(h.views_inside);
}

TEST_CASE("requests still waiting at the end are emitted without a response, once") {
  Harness h;
  h.client("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", 5);
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 6);
  REQUIRE(h.events.size() == 1);
  h.finish();
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[1].url == "/2");
  CHECK(h.events[1].has_request);
  CHECK_FALSE(h.events[1].has_response);
  CHECK_FALSE(h.events[1].response_incomplete);
  CHECK(h.events[1].request_ts == 5);
  CHECK(h.stats.unanswered_requests.value() == 1);
  h.finish();
  h.client("GET /3 HTTP/1.1\r\n\r\n");
  h.end(kC);
  CHECK(h.events.size() == 2);
}

TEST_CASE("the end of both directions flushes what remains without finish") {
  Harness h;
  h.client("POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 1);
  h.end(kC, StreamEnd::kRst, 2);
  CHECK(h.events.empty());  // a response may still come
  h.end(kS, StreamEnd::kFin, 3);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].request_body_bytes == 3);
  CHECK(h.events[0].request_incomplete);
  CHECK_FALSE(h.events[0].has_response);
  CHECK(h.stats.bodies_cut_by_end.value() == 1);
  CHECK(h.stats.unanswered_requests.value() == 1);
}

TEST_CASE("a response cut in its body at the end is emitted incomplete") {
  Harness h;
  h.client("GET / HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", 4);
  h.finish(50);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].response_body_bytes == 10);
  CHECK(h.events[0].response_incomplete);
  CHECK(h.events[0].response_end_ts == 4);
}

TEST_CASE("a status line without reason phrase gives an empty reason") {
  Harness h;
  h.client("GET / HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200\r\n\r\nbody");
  h.finish();
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].status_code == 200);
  CHECK(h.events[0].reason.empty());
  CHECK(h.events[0].response_body_bytes == 4);
  CHECK(h.events[0].response_incomplete);  // finish() without a FIN cuts a close-delimited body
  CHECK(h.views_inside);
}

TEST_CASE("a response with no request before it is reported alone") {
  Harness h;
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 3);
  REQUIRE(h.events.size() == 1);
  CHECK_FALSE(h.events[0].has_request);
  CHECK(h.events[0].has_response);
  CHECK(h.events[0].method.empty());
  CHECK(h.events[0].response_body_bytes == 2);
  CHECK(h.stats.responses_without_request.value() == 1);
}

TEST_CASE("a gap in a body is skipped, counted as body bytes and marks the message incomplete") {
  Harness h;
  h.client("POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
  h.gap(kC, 5);
  h.client("cde");
  h.client("GET /next HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nxy");
  h.gap(kS, 6);
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].request_body_bytes == 10);
  CHECK(h.events[0].request_incomplete);
  CHECK(h.events[0].response_body_bytes == 8);
  CHECK(h.events[0].response_incomplete);
  CHECK(h.events[1].url == "/next");
  CHECK_FALSE(h.events[1].request_incomplete);
  CHECK_FALSE(h.events[1].response_incomplete);
  CHECK(h.stats.gaps.value() == 2);
  CHECK(h.stats.gap_bytes.value() == 11);
  CHECK(h.stats.bodies_with_gap.value() == 2);
  CHECK(h.stats.messages_lost_in_gap.value() == 0);
}

TEST_CASE("a gap inside chunk data is skipped and the chunk framing goes on") {
  Harness h;
  h.client("GET / HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nab");
  h.gap(kS, 6);
  h.server("\r\n2\r\nxy\r\n0\r\n\r\n");
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].response_body_bytes == 10);
  CHECK(h.events[0].response_incomplete);
}

TEST_CASE("a gap in a close-delimited body is counted and the end still completes it") {
  Harness h;
  h.client("GET / HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\n\r\nab");
  h.gap(kS, 100);
  h.server("cd");
  h.end(kS, StreamEnd::kFin);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].response_body_bytes == 104);
  CHECK(h.events[0].response_incomplete);
}

TEST_CASE("a gap in a request head drops it, resynchronizes on the next request line and keeps pairing") {
  Harness h;
  h.client("GET /lost HTTP/1.1\r\nHost: a\r\n");
  h.gap(kC, 30);
  h.client("ost: tail of a header\r\n\r\nGET /found HTTP/1.1\r\nHost: b\r\n\r\n");
  h.server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");  // answers /lost
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(h.events.size() == 2);
  CHECK_FALSE(h.events[0].has_request);
  CHECK(h.events[0].status_code == 400);
  CHECK(h.events[1].url == "/found");
  CHECK(h.events[1].host == "b");
  CHECK(h.events[1].status_code == 200);
  CHECK(h.stats.messages_lost_in_gap.value() == 1);
  CHECK(h.stats.bad_start_line.value() == 0);  // skipped lines while resynchronizing are not errors
  CHECK(h.stats.resync_bytes.value() == 29 + 25);
  CHECK(h.stats.requests.value() == 1);
}

TEST_CASE("a gap in a response head reports its request with the response incomplete") {
  Harness h;
  h.client("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nContent-Le");
  h.gap(kS, 20);
  h.server("ngth: 3\r\n\r\nabcHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].url == "/a");
  CHECK_FALSE(h.events[0].has_response);
  CHECK(h.events[0].response_incomplete);
  CHECK(h.events[1].url == "/b");
  CHECK(h.events[1].status_code == 500);
}

TEST_CASE("a gap running past the end of a body drops the next message too") {
  Harness h;
  h.client("POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nab");
  h.gap(kC, 12);  // 2 body bytes, then 10 bytes of the next request
  h.client("x HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
  h.server(
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(h.events.size() == 3);
  CHECK(h.events[0].url == "/a");
  CHECK(h.events[0].request_body_bytes == 4);
  CHECK(h.events[0].request_incomplete);
  CHECK(h.events[0].status_code == 200);
  CHECK_FALSE(h.events[1].has_request);
  CHECK(h.events[1].status_code == 201);
  CHECK(h.events[2].url == "/c");
  CHECK(h.events[2].status_code == 202);
}

TEST_CASE("a bad request line is counted and the next request line is found") {
  Harness h;
  h.client("\x16\x03\x01 binary junk\r\nmore junk\r\nGET /ok HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(h.events.size() == 2);
  CHECK_FALSE(h.events[0].has_request);
  CHECK(h.events[0].status_code == 400);
  CHECK(h.events[1].url == "/ok");
  CHECK(h.stats.bad_start_line.value() == 1);
  CHECK(h.stats.resync_bytes.value() == 17 + 11);
}

TEST_CASE("a bad status line is counted and takes its request along") {
  Harness h;
  h.client("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  h.server("HTTP/2.0 200 OK\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].url == "/a");
  CHECK(h.events[0].response_incomplete);
  CHECK_FALSE(h.events[0].has_response);
  CHECK(h.events[1].url == "/b");
  CHECK(h.events[1].status_code == 200);
  CHECK(h.stats.bad_start_line.value() == 1);
}

TEST_CASE("a header line without colon drops the message") {
  Harness h;
  h.client("GET /a HTTP/1.1\r\nthis is not a header\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  h.finish();
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].url == "/b");
  CHECK(h.stats.bad_header_line.value() == 1);
  CHECK(h.stats.requests.value() == 1);
}

TEST_CASE("a folded header line is counted and ignored") {
  HttpConfig config;
  config.headers = {"x-long"};
  Harness h(config);
  h.client("GET / HTTP/1.1\r\nX-Long: first\r\n  second\r\n\r\n");
  h.finish();
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].headers == Headers{{"X-Long", "first"}});
  CHECK(h.stats.folded_header_lines.value() == 1);
}

TEST_CASE("a head over max_header_bytes is dropped and counted") {
  HttpConfig config;
  config.max_header_bytes = 100;
  Harness h(config);
  h.client("GET /a HTTP/1.1\r\nX-Big: " + std::string(200, 'x') + "\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  h.client("GET /" + std::string(150, 'c') + " HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n");
  h.finish();
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].url == "/b");
  CHECK(h.events[1].url == "/d");
  CHECK(h.stats.head_too_long.value() == 2);
}

TEST_CASE("a head of exactly max_header_bytes is kept") {
  HttpConfig config;
  config.max_header_bytes = 100;
  Harness h(config);
  const std::string head = "GET / HTTP/1.1\r\nX: ";  // 19 bytes, then the value, then CRLF CRLF
  h.client(head + std::string(100 - head.size() - 4, 'v') + "\r\n\r\n");
  h.finish();
  REQUIRE(h.events.size() == 1);
  CHECK(h.stats.head_too_long.value() == 0);
}

TEST_CASE("a bad or conflicting Content-Length drops the message") {
  Harness h;
  h.client("POST /a HTTP/1.1\r\nContent-Length: 12x\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  h.client("POST /c HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nGET /d HTTP/1.1\r\n\r\n");
  h.client("POST /e HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nzzGET /f HTTP/1.1\r\n\r\n");
  h.finish();
  REQUIRE(h.events.size() == 4);
  CHECK(h.events[0].url == "/b");
  CHECK(h.events[1].url == "/d");
  CHECK(h.events[2].url == "/e");
  CHECK(h.events[2].request_body_bytes == 2);
  CHECK(h.events[3].url == "/f");
  CHECK(h.stats.bad_content_length.value() == 2);
}

TEST_CASE("a request whose last transfer coding is not chunked is dropped") {
  Harness h;
  h.client("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  h.finish();
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].url == "/b");
  CHECK(h.stats.bad_transfer_encoding.value() == 1);
}

TEST_CASE("Transfer-Encoding wins over Content-Length and the pair is counted") {
  Harness h;
  h.client("POST /a HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n");
  h.client("GET /b HTTP/1.1\r\n\r\n");
  h.finish();
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].request_body_bytes == 1);
  CHECK(h.events[1].url == "/b");
  CHECK(h.stats.length_and_transfer_encoding.value() == 1);
}

TEST_CASE("a bad chunk size cuts the message and the direction resynchronizes") {
  Harness h;
  h.client("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nzz\r\nqq\r\n");
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].url == "/a");
  CHECK(h.events[0].response_body_bytes == 4);
  CHECK(h.events[0].response_incomplete);
  CHECK(h.stats.bad_chunk_size.value() == 1);
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[1].url == "/b");
  CHECK_FALSE(h.events[1].response_incomplete);
}

TEST_CASE("a chunk size over 16 hex digits is bad, leading zeros are not") {
  Harness h;
  h.client("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n000000000000000000001\r\nx\r\n0\r\n\r\n");
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].response_body_bytes == 1);
  CHECK_FALSE(h.events[0].response_incomplete);
  h.server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n");
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[1].response_incomplete);
  CHECK(h.stats.bad_chunk_size.value() == 1);
}

TEST_CASE("chunk data not followed by CRLF cuts the message") {
  Harness h;
  h.client("GET / HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n");
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].response_body_bytes == 2);
  CHECK(h.events[0].response_incomplete);
  CHECK(h.stats.bad_chunk_end.value() == 1);
}

TEST_CASE("trailers longer than max_header_bytes cut the message") {
  HttpConfig config;
  config.max_header_bytes = 64;
  Harness h(config);
  h.client("GET / HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " + std::string(80, 't') + "\r\n\r\n");
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].response_incomplete);
  CHECK(h.stats.trailers_too_long.value() == 1);
}

TEST_CASE("requests over max_pending_requests are not kept but their responses stay paired") {
  HttpConfig config;
  config.max_pending_requests = 2;
  Harness h(config);
  h.client("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
  CHECK(h.stats.pending_overflow.value() == 1);
  h.server("HTTP/1.1 201 A\r\nContent-Length: 0\r\n\r\nHTTP/1.1 202 B\r\nContent-Length: 0\r\n\r\n");
  h.client("GET /4 HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 203 C\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 D\r\n\r\n");
  REQUIRE(h.events.size() == 4);
  CHECK(h.events[0].url == "/1");
  CHECK(h.events[1].url == "/2");
  CHECK_FALSE(h.events[2].has_request);  // /3 was not kept
  CHECK(h.events[2].status_code == 203);
  CHECK(h.events[3].url == "/4");
  CHECK(h.events[3].status_code == 204);
  CHECK(h.stats.responses_without_request.value() == 1);
}

TEST_CASE("requests whose fields do not fit in max_pending_bytes are not kept") {
  HttpConfig config;
  config.max_header_bytes = 64;
  config.max_pending_bytes = 64;
  Harness h(config);
  const std::string url(40, 'u');
  h.client("GET /" + url + " HTTP/1.1\r\n\r\nGET /" + url + " HTTP/1.1\r\n\r\n");
  CHECK(h.stats.pending_bytes_overflow.value() == 1);
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  h.client("GET /" + url + " HTTP/1.1\r\n\r\n");  // the arena is free again
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(h.events.size() == 3);
  CHECK(h.events[0].url == "/" + url);
  CHECK_FALSE(h.events[1].has_request);
  CHECK(h.events[2].url == "/" + url);
  CHECK(h.stats.pending_bytes_overflow.value() == 1);
}

TEST_CASE("the request arena is compacted so steady pipelining keeps working") {
  HttpConfig config;
  config.max_header_bytes = 64;
  config.max_pending_bytes = 64;
  Harness h(config);
  // Always two requests in flight, each 20 bytes of fields: without
  // compaction the arena would run out after three.
  h.client("GET /aaaaaaaaaaaaaa0 HTTP/1.1\r\n\r\n");
  for (int i = 1; i < 10; ++i) {
    h.client("GET /aaaaaaaaaaaaaa" + std::to_string(i) + " HTTP/1.1\r\n\r\n");
    h.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  }
  h.finish();
  REQUIRE(h.events.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(h.events[i].url == "/aaaaaaaaaaaaaa" + std::to_string(i));
  CHECK(h.stats.pending_bytes_overflow.value() == 0);
  CHECK(h.views_inside);
}

TEST_CASE("empty lines before a request are ignored and bare LF line ends work") {
  Harness h;
  h.client("\r\n\r\nGET /a HTTP/1.1\nHost: x\n\n", 3);
  h.server("\r\nHTTP/1.1 200 OK\nContent-Length: 1\n\nz", 4);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].url == "/a");
  CHECK(h.events[0].host == "x");
  CHECK(h.events[0].response_body_bytes == 1);
  CHECK(h.stats.bad_start_line.value() == 0);
}

TEST_CASE("the stream ending inside a head counts a truncated message") {
  Harness h;
  h.client("GET /a HTTP/1.1\r\n\r\n");
  h.server("HTTP/1.1 200 OK\r\nContent-");
  h.end(kS, StreamEnd::kFin);
  h.client("GET /b HT");
  h.end(kC, StreamEnd::kFin);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].url == "/a");
  CHECK_FALSE(h.events[0].has_response);
  CHECK(h.events[0].response_incomplete);
  CHECK(h.stats.messages_truncated.value() == 2);
}

TEST_CASE("content detection recognizes request and response starts") {
  const auto bytes = [](std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); };
  CHECK(HttpSession::looksLikeRequest(bytes("GET / HTTP/1.1\r\n"), 16));
  CHECK(HttpSession::looksLikeRequest(bytes("OPTIONS * HTTP/1.1"), 18));
  CHECK_FALSE(HttpSession::looksLikeRequest(bytes("GET"), 3));
  CHECK_FALSE(HttpSession::looksLikeRequest(bytes("\x16\x03\x01\x00"), 4));
  CHECK_FALSE(HttpSession::looksLikeRequest(nullptr, 0));
  CHECK(HttpSession::looksLikeResponse(bytes("HTTP/1.1 200 OK"), 15));
  CHECK(HttpSession::looksLikeResponse(bytes("HTTP/1."), 7));
  CHECK_FALSE(HttpSession::looksLikeResponse(bytes("HTTP/1"), 6));
  CHECK_FALSE(HttpSession::looksLikeResponse(bytes("HTTP/2.0 200"), 12));
}

TEST_CASE("reset makes a used session behave like a new one") {
  Harness h;
  h.client("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 9\r\n\r\nab");
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
  h.gap(kC, 3);
  h.session->reset();
  h.events.clear();
  h.client("GET /fresh HTTP/1.1\r\n\r\n", 7);
  h.server("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!", 8);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].url == "/fresh");
  CHECK(h.events[0].request_ts == 7);
  CHECK(h.events[0].response_body_bytes == 1);
  CHECK_FALSE(h.events[0].request_incomplete);
  h.finish();
  CHECK(h.events.size() == 1);
}

// ---- Differential ----

// A connection as a script: data per direction, gaps and ends, in order.
struct Step {
  enum Kind { kData, kGap, kEnd } kind;
  StreamDir dir;
  std::string bytes;
  uint64_t gap = 0;
  Timestamp ts = 0;
};

std::vector<Step> mixedConversation() {
  std::vector<Step> s;
  const auto data = [&](StreamDir d, std::string b, Timestamp ts) { s.push_back({Step::kData, d, std::move(b), 0, ts}); };
  data(kC,
       "\r\nGET /one?x=1 HTTP/1.1\r\nHost: a.example\r\nUser-Agent: t/1\r\nX-Id: 7\r\n\r\n"
       "HEAD /two HTTP/1.1\r\n\r\n"
       "POST /three HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
       10);
  data(kS,
       "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Id: s\r\n\r\nbody"
       "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
       "a\r\n0123456789\r\n0\r\n\r\n",
       20);
  data(kC, "\x16\x03 not http\r\nstill junk\nPUT /four HTTP/1.0\r\nContent-Length: 5\r\n\r\n12", 30);
  s.push_back({Step::kGap, kC, "", 2, 0});
  data(kC, "3GET /five HTTP/1.1\r\nBad header\r\n\r\nGET /six HTTP/1.1\r\n\r\n", 40);
  data(kS, "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No\r\n\r\nHTTP/1.1 200 OK\r\nContent-", 50);
  s.push_back({Step::kGap, kS, "", 7, 0});
  data(kS, "ength: 3\r\n\r\nxyzHTTP/1.0 200 OK\r\n\r\nuntil the end", 60);
  data(kC, "GET /seven HTTP/1.1\r\n\r\n", 70);
  s.push_back({Step::kEnd, kS, "", 0, 80});
  return s;
}

// Delivers each data step in pieces whose sizes `cut` picks (0: whole).
template <typename Cut>
std::vector<std::string> run(const std::vector<Step>& steps, Cut cut, std::vector<uint64_t>& counters) {
  HttpConfig config;
  config.headers = {"x-id"};
  Harness h(config);
  for (const Step& step : steps) {
    switch (step.kind) {
      case Step::kData:
        for (size_t at = 0; at < step.bytes.size();) {
          const size_t n = std::min(step.bytes.size() - at, std::max<size_t>(1, cut(step.bytes.size() - at)));
          h.send(step.dir, std::string_view(step.bytes).substr(at, n), step.ts);
          at += n;
        }
        break;
      case Step::kGap: h.gap(step.dir, step.gap); break;
      case Step::kEnd: h.end(step.dir, StreamEnd::kFin, step.ts); break;
    }
  }
  h.finish(100);
  CHECK(h.views_inside);
  counters.clear();
  h.stats.forEach([&](const char*, const char*, const Counter& c) { counters.push_back(c.value()); });
  std::vector<std::string> texts;
  for (const Event& e : h.events) texts.push_back(e.text);
  return texts;
}

// Lost response heads, chunk framing cut by a gap and a bad size, then an upgrade.
std::vector<Step> lossyConversation() {
  std::vector<Step> s;
  const auto data = [&](StreamDir d, std::string b, Timestamp ts) { s.push_back({Step::kData, d, std::move(b), 0, ts}); };
  data(kC, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 1);
  data(kS, "HTTP/1.1 200 OK\r\nConte", 2);
  s.push_back({Step::kGap, kS, "", 5, 0});
  data(kS, "ngth: 2\r\n\r\nokHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab", 3);
  s.push_back({Step::kGap, kS, "", 2, 0});
  data(kS, "\r\nzz\r\n", 4);
  data(kS, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi", 5);
  data(kC, "\x81\x82more bytes", 6);
  return s;
}

void checkDeliveriesAgree(const std::vector<Step>& steps, const std::vector<std::string>& expected) {
  std::vector<uint64_t> whole_counters, counters;
  const std::vector<std::string> whole = run(steps, [](size_t left) { return left; }, whole_counters);
  CHECK(whole == expected);
  CHECK(run(steps, [](size_t) { return size_t{1}; }, counters) == whole);
  CHECK(counters == whole_counters);
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    const auto random_cut = [&](size_t left) {
      return std::uniform_int_distribution<size_t>(1, std::min<size_t>(left, 17))(rng);
    };
    CHECK(run(steps, random_cut, counters) == whole);
    CHECK(counters == whole_counters);
  }
}

const char* const kNoRequest = "- method=\"\" url=\"\" version=\"\" host=\"\" user_agent=\"\" body=0 ts=0 incomplete=0";
const char* const kNoResponse =
    " | - status=0 reason=\"\" version=\"\" body=0 ts=0 end_ts=0 incomplete=0 informational=0 upgrade=\"\" | headers";

TEST_CASE("whole, 1-byte and random-size deliveries of a mixed conversation give the same events and counters") {
  const std::string none = " informational=0 upgrade=\"\" | headers";
  checkDeliveriesAgree(
      mixedConversation(),
      {"request method=\"GET\" url=\"/one?x=1\" version=\"1.1\" host=\"a.example\" user_agent=\"t/1\" body=0 ts=10 "
       "incomplete=0 | response status=200 reason=\"OK\" version=\"1.1\" body=4 ts=20 end_ts=20 incomplete=0" +
           none + " X-Id: 7; X-Id: s;",
       "request method=\"HEAD\" url=\"/two\" version=\"1.1\" host=\"\" user_agent=\"\" body=0 ts=10 incomplete=0 | "
       "response status=200 reason=\"OK\" version=\"1.1\" body=0 ts=20 end_ts=20 incomplete=0" + none,
       "request method=\"POST\" url=\"/three\" version=\"1.1\" host=\"\" user_agent=\"\" body=3 ts=10 incomplete=0 | "
       "response status=201 reason=\"Created\" version=\"1.1\" body=10 ts=20 end_ts=20 incomplete=0 "
       "informational=100 upgrade=\"\" | headers",
       // The 400 answers the junk line; the response lost in the gap answered /five (bad header).
       std::string(kNoRequest) + " | response status=400 reason=\"Bad\" version=\"1.1\" body=0 ts=50 end_ts=50 "
       "incomplete=0" + none,
       "request method=\"PUT\" url=\"/four\" version=\"1.0\" host=\"\" user_agent=\"\" body=5 ts=30 incomplete=1 | "
       "response status=204 reason=\"No\" version=\"1.1\" body=0 ts=50 end_ts=50 incomplete=0" + none,
       "request method=\"GET\" url=\"/six\" version=\"1.1\" host=\"\" user_agent=\"\" body=0 ts=40 incomplete=0 | "
       "response status=200 reason=\"OK\" version=\"1.0\" body=13 ts=60 end_ts=60 incomplete=0" + none,
       "request method=\"GET\" url=\"/seven\" version=\"1.1\" host=\"\" user_agent=\"\" body=0 ts=70 incomplete=0" +
           std::string(kNoResponse)});
}

TEST_CASE("whole, 1-byte and random-size deliveries of a lossy conversation give the same events and counters") {
  checkDeliveriesAgree(
      lossyConversation(),
      {"request method=\"GET\" url=\"/a\" version=\"1.1\" host=\"\" user_agent=\"\" body=0 ts=1 incomplete=0 | "
       "- status=0 reason=\"\" version=\"\" body=0 ts=0 end_ts=0 incomplete=1 informational=0 upgrade=\"\" | headers",
       "request method=\"GET\" url=\"/b\" version=\"1.1\" host=\"\" user_agent=\"\" body=0 ts=1 incomplete=0 | "
       "response status=200 reason=\"OK\" version=\"1.1\" body=4 ts=3 end_ts=4 incomplete=1 informational=0 "
       "upgrade=\"\" | headers",
       "request method=\"GET\" url=\"/c\" version=\"1.1\" host=\"\" user_agent=\"\" body=0 ts=1 incomplete=0 | "
       "response status=101 reason=\"Switching Protocols\" version=\"1.1\" body=0 ts=5 end_ts=5 incomplete=0 "
       "informational=0 upgrade=\"websocket\" | headers"});
}

}  // namespace
}  // namespace tapflow
