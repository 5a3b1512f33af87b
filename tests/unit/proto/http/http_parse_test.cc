// Tests of the HTTP/1.x syntax pieces: start lines, header lines, lengths and codings.
#include <doctest/doctest.h>

#include "proto/http/http_parse.h"

namespace tapflow {
namespace {

TEST_CASE("a request line splits into method, target and version") {
  RequestLine r;
  REQUIRE(parseRequestLine("GET /a/b?c=d HTTP/1.1", r));
  CHECK(r.method == "GET");
  CHECK(r.target == "/a/b?c=d");
  CHECK(r.version == "1.1");
  REQUIRE(parseRequestLine("M-SEARCH * HTTP/1.0", r));
  CHECK(r.method == "M-SEARCH");
  CHECK(r.target == "*");
  CHECK(r.version == "1.0");
}

TEST_CASE("a request target with an unencoded space is kept whole") {
  RequestLine r;
  REQUIRE(parseRequestLine("GET /a b HTTP/1.1", r));
  CHECK(r.target == "/a b");
}

TEST_CASE("request lines with a bad method, version or missing target are refused") {
  RequestLine r;
  CHECK_FALSE(parseRequestLine("get / HTTP/1.1", r));            // methods are upper case
  CHECK_FALSE(parseRequestLine("GET / HTTP/2.0", r));
  CHECK_FALSE(parseRequestLine("GET /", r));                     // HTTP/0.9
  CHECK_FALSE(parseRequestLine("GET  HTTP/1.1", r));             // empty target
  CHECK_FALSE(parseRequestLine("GET HTTP/1.1", r));
  CHECK_FALSE(parseRequestLine(" / HTTP/1.1", r));
  CHECK_FALSE(parseRequestLine("ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1", r));  // 21 characters
  CHECK_FALSE(parseRequestLine("GET / HTTP/1.1x", r));
  CHECK_FALSE(parseRequestLine("", r));
}

TEST_CASE("a status line gives version, code and reason, the reason may be missing") {
  StatusLine s;
  REQUIRE(parseStatusLine("HTTP/1.1 404 Not Found", s));
  CHECK(s.version == "1.1");
  CHECK(s.status_code == 404);
  CHECK(s.reason == "Not Found");
  const std::string_view no_reason = "HTTP/1.0 200";
  REQUIRE(parseStatusLine(no_reason, s));
  CHECK(s.version == "1.0");
  CHECK(s.status_code == 200);
  CHECK(s.reason.empty());
  CHECK(s.reason.data() == no_reason.data() + 12);  // still inside the line
  REQUIRE(parseStatusLine("HTTP/1.1 204 ", s));
  CHECK(s.reason.empty());
}

TEST_CASE("status lines with a bad version or code are refused") {
  StatusLine s;
  CHECK_FALSE(parseStatusLine("HTTP/1.1 20 OK", s));
  CHECK_FALSE(parseStatusLine("HTTP/1.1 2000 OK", s));
  CHECK_FALSE(parseStatusLine("HTTP/1.1 099 OK", s));
  CHECK_FALSE(parseStatusLine("HTTP/2 200 OK", s));
  CHECK_FALSE(parseStatusLine("HTTP/1.1200 OK", s));
  CHECK_FALSE(parseStatusLine("ICY 200 OK", s));
}

TEST_CASE("start line prefixes are refused as soon as they cannot match") {
  CHECK(couldStartRequestLine(""));
  CHECK(couldStartRequestLine("GE"));
  CHECK(couldStartRequestLine("GET "));
  CHECK(couldStartRequestLine("\r"));
  CHECK(couldStartRequestLine("\r\n"));
  CHECK(couldStartRequestLine("ABCDEFGHIJKLMNOPQRST"));   // 20: a space may follow
  CHECK_FALSE(couldStartRequestLine("ABCDEFGHIJKLMNOPQRSTU"));
  CHECK_FALSE(couldStartRequestLine("\x16\x03\x01"));     // a TLS record
  CHECK_FALSE(couldStartRequestLine("GET\r\n"));
  CHECK_FALSE(couldStartRequestLine(" GET"));
  CHECK_FALSE(couldStartRequestLine("\r\r"));
  CHECK(couldStartStatusLine("HTTP/1"));
  CHECK(couldStartStatusLine("HTTP/1.1 20"));
  CHECK(couldStartStatusLine("HTTP/1.1 200 anything at all"));
  CHECK_FALSE(couldStartStatusLine("HTTP/2"));
  CHECK_FALSE(couldStartStatusLine("HTTP/1.1 2x"));
  CHECK_FALSE(couldStartStatusLine("GET / HTTP/1.1"));
}

TEST_CASE("known methods are recognized only when followed by a space") {
  CHECK(startsWithKnownMethod("GET / HTTP/1.1"));
  CHECK(startsWithKnownMethod("PROPFIND /x"));
  CHECK_FALSE(startsWithKnownMethod("GET"));
  CHECK_FALSE(startsWithKnownMethod("GETX /"));
  CHECK_FALSE(startsWithKnownMethod("FOO / HTTP/1.1"));
  CHECK_FALSE(startsWithKnownMethod(""));
}

TEST_CASE("header lines give a trimmed value, folds and bad names are told apart") {
  HeaderField f;
  REQUIRE(parseHeaderLine("Content-Type: \t text/html \t", f) == HeaderLineKind::kField);
  CHECK(f.name == "Content-Type");
  CHECK(f.value == "text/html");
  REQUIRE(parseHeaderLine("X-Empty:", f) == HeaderLineKind::kField);
  CHECK(f.value.empty());
  CHECK(parseHeaderLine(" continued", f) == HeaderLineKind::kFold);
  CHECK(parseHeaderLine("\tcontinued", f) == HeaderLineKind::kFold);
  CHECK(parseHeaderLine("no colon here", f) == HeaderLineKind::kBad);
  CHECK(parseHeaderLine(": value", f) == HeaderLineKind::kBad);
  CHECK(parseHeaderLine("Host : a", f) == HeaderLineKind::kBad);  // RFC 9112 5.1: no space before the colon
  CHECK(parseHeaderLine("Bad(name): a", f) == HeaderLineKind::kBad);
}

TEST_CASE("content length accepts digits and lists of one value only") {
  uint64_t n = 0;
  REQUIRE(parseContentLength("0", n));
  CHECK(n == 0);
  REQUIRE(parseContentLength("1234", n));
  CHECK(n == 1234);
  REQUIRE(parseContentLength("5, 5 ,5", n));
  CHECK(n == 5);
  REQUIRE(parseContentLength("9999999999999999999", n));
  CHECK(n == 9999999999999999999ull);
  CHECK_FALSE(parseContentLength("10000000000000000000", n));  // 20 digits
  CHECK_FALSE(parseContentLength("5, 6", n));
  CHECK_FALSE(parseContentLength("", n));
  CHECK_FALSE(parseContentLength("-1", n));
  CHECK_FALSE(parseContentLength("12a", n));
  CHECK_FALSE(parseContentLength("5,", n));
}

TEST_CASE("only a last coding of chunked means chunked framing") {
  CHECK(lastCodingIsChunked("chunked"));
  CHECK(lastCodingIsChunked("gzip, Chunked"));
  CHECK(lastCodingIsChunked("gzip,chunked ; foo=bar"));
  CHECK(lastCodingIsChunked("chunked, "));
  CHECK_FALSE(lastCodingIsChunked("chunked, gzip"));
  CHECK_FALSE(lastCodingIsChunked("gzip"));
  CHECK_FALSE(lastCodingIsChunked(""));
  CHECK_FALSE(lastCodingIsChunked("chunkedx"));
}

TEST_CASE("line ends come off whether CRLF or a bare LF") {
  CHECK(withoutLineEnd("abc\r\n") == "abc");
  CHECK(withoutLineEnd("abc\n") == "abc");
  CHECK(withoutLineEnd("abc") == "abc");
  CHECK(withoutLineEnd("\r\n").empty());
  CHECK(equalsIgnoreCase("Content-Length", "content-LENGTH"));
  CHECK_FALSE(equalsIgnoreCase("Host", "Hosts"));
}

}  // namespace
}  // namespace tapflow
