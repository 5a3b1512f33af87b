// ClientHello / ServerHello parsing and the JA3, JA3S and JA4 fingerprints,
// checked against tshark's JA3 of captured hellos, the FoxIO JA4 spec's
// published examples, and hand-built hellos for each rule.
#include "proto/tls/tls_hello.h"

#include <doctest/doctest.h>

#include <string>

#include "ops/hex.h"
#include "proto/tls/sha256.h"
#include "tls_captured.h"
#include "tls_test_util.h"

namespace tapflow {
namespace {

using namespace tls_test;

// Parses one ClientHello or ServerHello body with its own buffers and counters.
struct Parsed {
  TlsStats stats;
  char ja3_buffer[8192];
  TlsHelloText text;
  TlsHello hello;
  Bytes body;
  bool ok = false;

  Parsed(Bytes message_body, bool client, size_t ja3_capacity = sizeof(ja3_buffer)) : body(std::move(message_body)) {
    text.ja3 = ja3_buffer;
    text.ja3_capacity = ja3_capacity;
    ok = client ? parseClientHello(body.data(), body.size(), hello, text, stats)
                : parseServerHello(body.data(), body.size(), hello, text, stats);
  }
};

// The handshake body inside a captured single-record hello: skips the 5-byte
// record header and the 4-byte handshake header.
Bytes bodyOfRecord(const char* hex) {
  Bytes record = fromHex(hex);
  const size_t record_len = size_t(record[3]) << 8 | record[4];
  const size_t body_len = size_t(record[6]) << 16 | size_t(record[7]) << 8 | record[8];
  REQUIRE(record_len >= 4 + body_len);
  return Bytes(record.begin() + 9, record.begin() + 9 + long(body_len));
}

std::string sha12(std::string_view s) {
  uint8_t d[Sha256::kDigestBytes];
  sha256(reinterpret_cast<const uint8_t*>(s.data()), s.size(), d);
  return hexString(d, 6);
}

// The FoxIO JA4.md example: ciphers and extensions in their original order,
// signature algorithms, ALPN h2; GREASE added everywhere the spec says to ignore it.
const std::vector<uint16_t> kSpecCiphers = {0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
                                            0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
const std::vector<uint16_t> kSpecSignatureAlgorithms = {0x0403, 0x0804, 0x0401, 0x0503,
                                                        0x0805, 0x0501, 0x0806, 0x0601};

std::vector<Extension> specExtensions(const Extension& signature_algorithms) {
  return {empty(0x1a1a),
          {0x001b, {0x02, 0x00, 0x02}},
          serverName("example.com"),
          {0x0033, {0x00, 0x00}},
          alpn({"h2", "http/1.1"}),
          {0x4469, {0x00, 0x03, 0x02, 0x68, 0x32}},
          empty(0x0017),
          {0x002d, {0x01, 0x01}},
          signature_algorithms,
          {0x0005, {0x01, 0x00, 0x00, 0x00, 0x00}},
          empty(0x0023),
          empty(0x0012),
          supportedVersions({0x2a2a, 0x0304, 0x0303}),
          {0xff01, {0x00}},
          pointFormats({0}),
          u16ListExtension(0x000a, {0x3a3a, 0x001d, 0x0017, 0x0018}),
          {0x0015, Bytes(10, 0)},
          {0x4a4a, {0x00}}};
}

TEST_CASE("the curl ClientHello captured with tshark gives tshark's JA3 and the reference JA4") {
  Parsed p(bodyOfRecord(kCurlClientHello), true);
  REQUIRE(p.ok);
  const TlsHello& h = p.hello;
  CHECK(h.has_client_hello);
  CHECK_FALSE(h.has_server_hello);
  CHECK(h.sni == "example.test");
  REQUIRE(h.alpn_count == 1);
  CHECK(h.alpn[0] == "http/1.1");
  CHECK(h.client_version == 0x0303);
  REQUIRE(h.supported_version_count == 4);
  CHECK(h.supported_versions[0] == 0x0304);
  CHECK(h.supported_versions[3] == 0x0301);
  // tshark 4.0.17: tls.handshake.ja3_full and tls.handshake.ja3 of this frame.
  CHECK(h.ja3 ==
        "771,4866-4867-4865-49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-"
        "49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,0-11-10-16-22-23-49-13-43-45-51-21,"
        "29-23-30-25-24-256-257-258-259-260,0-1-2");
  CHECK(h.ja3_hash == "0149f47eabf9a20d0893e2a44e5a6323");
  // tshark 4.0 has no JA4. By the spec: TLS 1.3 (supported_versions), SNI,
  // 31 ciphers, 12 extensions, ALPN "http/1.1" -> "h1"; the hashes are
  // SHA-256 of the sorted lists (also computed with Python's hashlib):
  //   002f,0033,0035,0039,003c,003d,0067,006b,009c,009d,009e,009f,00ff,1301,
  //   1302,1303,c009,c00a,c013,c014,c023,c024,c027,c028,c02b,c02c,c02f,c030,
  //   cca8,cca9,ccaa -> e8f1e7e78f70
  //   000a,000b,000d,0015,0016,0017,002b,002d,0031,0033_0403,0503,0603,0807,
  //   0808,0809,080a,080b,0804,0805,0806,0401,0501,0601,0303,0301,0302,0402,
  //   0502,0602 -> b26ce05bbdd6
  CHECK(h.ja4 == "t13d3112h1_e8f1e7e78f70_b26ce05bbdd6");
  CHECK(sha12("002f,0033,0035,0039,003c,003d,0067,006b,009c,009d,009e,009f,00ff,1301,1302,1303,c009,c00a,c013,"
              "c014,c023,c024,c027,c028,c02b,c02c,c02f,c030,cca8,cca9,ccaa") == "e8f1e7e78f70");
  CHECK(p.stats.client_hellos.value() == 1);
  CHECK(p.stats.malformed_extension.value() == 0);
}

TEST_CASE("the openssl TLS 1.2 ClientHello gives tshark's JA3, its SNI, both ALPN values and JA4") {
  Parsed p(bodyOfRecord(kOpensslTls12ClientHello), true);
  REQUIRE(p.ok);
  const TlsHello& h = p.hello;
  CHECK(h.sni == "foo.example");
  REQUIRE(h.alpn_count == 2);
  CHECK(h.alpn[0] == "h2");
  CHECK(h.alpn[1] == "http/1.1");
  CHECK(h.supported_version_count == 0);
  CHECK(h.ja3 ==
        "771,49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-49162-49172-57-"
        "49161-49171-51-157-156-61-60-53-47-255,0-11-10-35-16-22-23-13,29-23-30-25-24,0-1-2");
  CHECK(h.ja3_hash == "22558766122974704364c9c75c5cce0a");
  // No supported_versions: the legacy version 0x0303 gives "12"; 28 ciphers, 8 extensions.
  CHECK(h.ja4 == "t12d2808h2_d943125447b4_e7e480e5a997");
}

TEST_CASE("the FoxIO spec example lists give the published JA4, GREASE ignored") {
  Parsed p(clientHelloBody(0x0303, kSpecCiphers,
                           specExtensions(u16ListExtension(0x000d, kSpecSignatureAlgorithms))),
           true);
  REQUIRE(p.ok);
  // technical_details/JA4.md: 15 ciphers, 16 extensions, "h2", cipher hash
  // 8daaf6152771, extension+signature hash e5627efa2ab1.
  CHECK(p.hello.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1");
}

TEST_CASE("an empty signature algorithm list ends the JA4 extension string without underscore") {
  // JA4.md: "0005,000a,...,4469,ff01" alone hashes to 6d807ffa2a79.
  Parsed p(clientHelloBody(0x0303, kSpecCiphers, specExtensions(u16ListExtension(0x000d, {}))), true);
  REQUIRE(p.ok);
  CHECK(p.hello.ja4 == "t13d1516h2_8daaf6152771_6d807ffa2a79");
}

TEST_CASE("a Chrome hello published by browserleaks gives its JA3 hash and JA4") {
  // browserleaks.com/tls output for Chrome 143 (ja3_text, ja4, ja4_r):
  // extension order 45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27.
  const std::vector<uint16_t> ciphers = {0x5a5a, 4865,  4866,  4867,  49195, 49199, 49196, 49200,
                                         52393,  52392, 49171, 49172, 156,   157,   47,    53};
  const std::vector<Extension> extensions = {
      empty(0xdada),
      {45, {0x01, 0x01}},
      {51, {0x00, 0x02, 0x00, 0x00}},
      alpn({"h2", "http/1.1"}),
      {65037, Bytes(20, 0x55)},
      empty(23),
      {17613, {0x00, 0x03, 0x02, 0x68, 0x32}},
      serverName("tls.browserleaks.com"),
      pointFormats({0}),
      u16ListExtension(10, {0x8a8a, 4588, 29, 23, 24}),
      supportedVersions({0x1a1a, 0x0304, 0x0303}),
      {65281, {0x00}},
      empty(35),
      empty(18),
      {5, {0x01, 0x00, 0x00, 0x00, 0x00}},
      u16ListExtension(13, {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}),
      {27, {0x02, 0x00, 0x02}},
      {0xeaea, {0x00}}};
  Parsed p(clientHelloBody(0x0303, ciphers, extensions), true);
  REQUIRE(p.ok);
  CHECK(p.hello.ja3 ==
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0");
  CHECK(p.hello.ja3_hash == "98487aa16281980e7d1120d399efb6a4");
  CHECK(p.hello.ja4 == "t13d1516h2_8daaf6152771_d8a2da3f94cd");
}

TEST_CASE("GREASE is removed from JA3 ciphers, extensions and groups, not from point formats") {
  Parsed p(clientHelloBody(0x0303, {0x0a0a, 0x002f, 0xfafa},
                           {empty(0x2a2a), u16ListExtension(10, {0x4a4a, 29}), pointFormats({0x0a, 0})}),
           true);
  REQUIRE(p.ok);
  CHECK(p.hello.ja3 == "771,47,10-11,29,10-0");
  CHECK(isTlsGrease(0x0a0a));
  CHECK(isTlsGrease(0xfafa));
  CHECK_FALSE(isTlsGrease(0x0a1a));
  CHECK_FALSE(isTlsGrease(0x0b0b));
  CHECK_FALSE(isTlsGrease(0x0303));
}

TEST_CASE("a ClientHello without extension block has empty JA3 fields and JA4 c of zeros") {
  Parsed p(clientHelloBody(0x0301, {4, 5, 10}, {}, false), true);
  REQUIRE(p.ok);
  CHECK(p.hello.ja3 == "769,4-5-10,,,");  // the Salesforce README's shape: "769,4-5-10-...,,,"
  CHECK(p.hello.sni.empty());
  CHECK(p.hello.alpn_count == 0);
  CHECK(p.hello.ja4 == cat({"t10i030000_", sha12("0004,0005,000a"), "_000000000000"}));
}

TEST_CASE("a ClientHello without cipher suites gives JA4 b of twelve zeros") {
  Parsed p(clientHelloBody(0x0303, {}, {u16ListExtension(13, {0x0403})}), true);
  REQUIRE(p.ok);
  CHECK(p.hello.ja4 == cat({"t12i000100_000000000000_", sha12("000d_0403")}));
  CHECK(p.hello.ja3 == "771,,13,,");
}

TEST_CASE("the JA4 version is the highest non-GREASE supported version, else the legacy version") {
  auto ja4Version = [](uint16_t legacy, const std::vector<Extension>& ext) {
    Parsed p(clientHelloBody(legacy, {0x002f}, ext), true);
    REQUIRE(p.ok);
    return std::string(p.hello.ja4.substr(1, 2));
  };
  CHECK(ja4Version(0x0303, {}) == "12");
  CHECK(ja4Version(0x0302, {}) == "11");
  CHECK(ja4Version(0x0301, {}) == "10");
  CHECK(ja4Version(0x0300, {}) == "s3");
  CHECK(ja4Version(0x0305, {}) == "00");
  CHECK(ja4Version(0x0303, {supportedVersions({0x0302, 0x0304, 0x0303})}) == "13");
  CHECK(ja4Version(0x0303, {supportedVersions({0x0a0a})}) == "00");  // only GREASE: nothing known

  Parsed p(clientHelloBody(0x0303, {0x002f}, {supportedVersions({0x0302, 0x3a3a, 0x0304})}), true);
  REQUIRE(p.hello.supported_version_count == 2);  // GREASE removed, order kept
  CHECK(p.hello.supported_versions[0] == 0x0302);
  CHECK(p.hello.supported_versions[1] == 0x0304);
}

TEST_CASE("JA4 marks SNI with d or i and takes the first and last character of the first ALPN value") {
  auto ja4Head = [](const std::vector<Extension>& ext) {
    Parsed p(clientHelloBody(0x0303, {0x002f}, ext), true);
    REQUIRE(p.ok);
    return std::string(p.hello.ja4.substr(0, 10));
  };
  CHECK(ja4Head({}) == "t12i010000");
  CHECK(ja4Head({serverName("a.example"), alpn({"http/1.1", "h2"})}) == "t12d0102h1");
  CHECK(ja4Head({alpn({"x"})}) == "t12i0101xx");  // one character is both first and last
  // Not alphanumeric: the high nibble of the first byte, the low nibble of the last.
  CHECK(ja4Head({alpn({std::string("\xab\x01\xcd", 3)})}) == "t12i0101ad");
  CHECK(ja4Head({alpn({"h-"})}) == "t12i01016d");
}

TEST_CASE("JA4 counts stop at 99 while every value is hashed") {
  std::vector<uint16_t> ciphers;
  std::string cipher_list;
  for (uint16_t c = 0x0100; c < 0x0100 + 120; ++c) {
    ciphers.push_back(c);
    char item[6];
    snprintf(item, sizeof(item), "%04x,", c);
    cipher_list += item;
  }
  cipher_list.pop_back();
  std::vector<Extension> extensions;
  std::string extension_list;
  for (uint16_t t = 0x0100; t < 0x0100 + 105; ++t) {
    extensions.push_back(empty(t));
    char item[6];
    snprintf(item, sizeof(item), "%04x,", t);
    extension_list += item;
  }
  extension_list.pop_back();
  Parsed p(clientHelloBody(0x0303, ciphers, extensions), true);
  REQUIRE(p.ok);
  CHECK(p.hello.ja4 == cat({"t12i999900_", sha12(cipher_list), "_", sha12(extension_list)}));
}

TEST_CASE("JA4 sorts ciphers and extensions, keeps duplicates and drops SNI and ALPN from the hash only") {
  Parsed p(clientHelloBody(0x0303, {0xc02f, 0x002f, 0xc02f},
                           {u16ListExtension(13, {0x0601, 0x0403}), serverName("x"), empty(0x0017),
                            alpn({"h2"}), empty(0x0017)}),
           true);
  REQUIRE(p.ok);
  CHECK(p.hello.ja4 == cat({"t12d0305h2_", sha12("002f,c02f,c02f"), "_", sha12("000d,0017,0017_0601,0403")}));
}

TEST_CASE("malformed ClientHellos are refused, counted and leave the event untouched") {
  Bytes good = clientHelloBody(0x0303, {0x002f}, {serverName("a.example")});
  // Offsets: version 0, random 2, session id length 34, id 35..66, cipher length 67, ciphers 69,
  // compression length 71, method 72, extension length 73.
  SUBCASE("cut inside the random") { good.resize(20); }
  SUBCASE("session id longer than 32") {
    good[34] = 33;
  }
  SUBCASE("odd cipher suite length") { good[68] = 3; }
  SUBCASE("cipher suites overrun the message") { good[68] = 0xf0; }
  SUBCASE("no compression method") {
    good[71] = 0;
  }
  SUBCASE("extension block shorter than its length") { good[74] = uint8_t(good[74] + 1); }
  SUBCASE("extension block followed by a stray byte") { good.push_back(0); }
  SUBCASE("one stray byte instead of an extension block") { good.resize(74); }
  SUBCASE("an extension overruns the block") {
    good[78] = 0xff;  // first extension's length low byte
  }
  Parsed p(good, true);
  CHECK_FALSE(p.ok);
  CHECK_FALSE(p.hello.has_client_hello);
  CHECK(p.hello.ja3.empty());
  CHECK(p.stats.malformed_client_hello.value() == 1);
  CHECK(p.stats.client_hellos.value() == 0);
}

TEST_CASE("a malformed SNI, ALPN or versions extension is counted and ignored, the hello kept") {
  Extension bad_sni = serverName("a.example");
  bad_sni.data[1] = uint8_t(bad_sni.data[1] + 1);  // list length beyond the extension
  Extension bad_alpn = alpn({"h2"});
  bad_alpn.data.push_back(0);  // a zero-length protocol name
  bad_alpn.data[1] = uint8_t(bad_alpn.data[1] + 1);
  Extension bad_versions = supportedVersions({0x0304});
  bad_versions.data[0] = 3;  // odd list length
  Parsed p(clientHelloBody(0x0303, {0x1301}, {bad_sni, bad_alpn, bad_versions}), true);
  REQUIRE(p.ok);
  CHECK(p.stats.malformed_extension.value() == 3);
  CHECK(p.hello.sni.empty());
  CHECK(p.hello.alpn_count == 0);
  CHECK(p.hello.supported_version_count == 0);
  // The extensions still count as present for the fingerprints.
  CHECK(p.hello.ja3 == "771,4865,0-16-43,,");
  CHECK(p.hello.ja4.substr(0, 10) == "t12d010300");  // supported_versions ignored: the legacy version
}

TEST_CASE("only the first occurrence of an extension is read, even when it is malformed") {
  Extension odd_algorithms = u16ListExtension(13, {0x0403, 0x0804});
  odd_algorithms.data.push_back(0x01);  // odd length: the whole list is ignored
  odd_algorithms.data[1] = 5;
  Extension bad_alpn = alpn({"h2"});
  bad_alpn.data[2] = 9;  // name overruns the list
  Parsed p(clientHelloBody(0x0303, {0x1301},
                           {odd_algorithms, bad_alpn, alpn({"later"}), u16ListExtension(13, {0x0601})}),
           true);
  REQUIRE(p.ok);
  CHECK(p.stats.malformed_extension.value() == 2);
  CHECK(p.hello.alpn_count == 0);  // the second ALPN extension is not used
  CHECK(p.hello.ja4 == cat({"t12i010400_", sha12("1301"), "_", sha12("000d,000d")}));
}

TEST_CASE("extension problems are not counted when the hello itself is refused") {
  Bytes body = clientHelloBody(0x0303, {0x1301}, {supportedVersions({0x0304}), serverName("a.example")});
  body[75 + 4] = 3;  // supported_versions list length: odd
  Bytes refused = body;
  refused.push_back(0);  // stray byte after the extension block
  Parsed bad(refused, true);
  CHECK_FALSE(bad.ok);
  CHECK(bad.stats.malformed_extension.value() == 0);
  CHECK(bad.stats.malformed_client_hello.value() == 1);
  Parsed good(body, true);
  CHECK(good.ok);
  CHECK(good.stats.malformed_extension.value() == 1);
}

TEST_CASE("the first host_name of the server_name list is the SNI") {
  Extension sni;
  sni.type = 0;
  // list: (type 1, "skip"), (type 0, "first.example"), (type 0, "second.example")
  Bytes list;
  for (auto [type, name] : {std::pair<uint8_t, std::string>{1, "skip"}, {0, "first.example"}, {0, "second"}}) {
    list.push_back(type);
    put16(list, uint32_t(name.size()));
    list.insert(list.end(), name.begin(), name.end());
  }
  put16(sni.data, uint32_t(list.size()));
  append(sni.data, list);
  Parsed p(clientHelloBody(0x0303, {0x1301}, {sni}), true);
  REQUIRE(p.ok);
  CHECK(p.hello.sni == "first.example");
}

TEST_CASE("more than 8 ALPN values or 16 versions keep the first ones and count") {
  std::vector<std::string> protocols;
  for (int i = 0; i < 10; ++i) protocols.push_back(cat({"p", std::to_string(i)}));
  std::vector<uint16_t> versions;
  for (uint16_t v = 0x7f00; v < 0x7f00 + 20; ++v) versions.push_back(v);
  Parsed p(clientHelloBody(0x0303, {0x1301}, {alpn(protocols), supportedVersions(versions)}), true);
  REQUIRE(p.ok);
  REQUIRE(p.hello.alpn_count == 8);
  CHECK(p.hello.alpn[0] == "p0");
  CHECK(p.hello.alpn[7] == "p7");
  REQUIRE(p.hello.supported_version_count == 16);
  CHECK(p.hello.supported_versions[15] == 0x7f0f);
  CHECK(p.stats.alpn_over_limit.value() == 1);
  CHECK(p.stats.versions_over_limit.value() == 1);
  CHECK(p.hello.ja4.substr(1, 2) == "00");  // highest of all 20 (0x7f13) is unknown
}

TEST_CASE("a JA3 string over max_ja3_bytes is left empty while its hash is the full string's") {
  const Bytes body = bodyOfRecord(kCurlClientHello);
  Parsed full(body, true);
  Parsed cut(body, true, 64);
  REQUIRE(cut.ok);
  CHECK(full.hello.ja3.size() > 64);
  CHECK(cut.hello.ja3.empty());
  CHECK(cut.hello.ja3_hash == "0149f47eabf9a20d0893e2a44e5a6323");
  CHECK(cut.stats.ja3_too_long.value() == 1);
  CHECK(full.stats.ja3_too_long.value() == 0);
  Parsed exact(body, true, full.hello.ja3.size());  // a string that just fits is kept
  CHECK(exact.hello.ja3 == full.hello.ja3);
}

TEST_CASE("more cipher suites than JA4 can sort leave JA4 empty and count") {
  std::vector<uint16_t> ciphers(kMaxJa4ListEntries + 1, 0x002f);
  Parsed p(clientHelloBody(0x0303, ciphers, {}), true);
  REQUIRE(p.ok);
  CHECK(p.hello.ja4.empty());
  CHECK(p.stats.ja4_list_too_long.value() == 1);
  CHECK(p.hello.ja3_hash.size() == 32);

  std::vector<uint16_t> at_limit(kMaxJa4ListEntries, 0x002f);
  Parsed q(clientHelloBody(0x0303, at_limit, {}), true);
  CHECK(q.hello.ja4.substr(0, 10) == "t12i990000");
  CHECK(q.stats.ja4_list_too_long.value() == 0);
}

TEST_CASE("captured ServerHellos give tshark's JA3S, the chosen version and cipher") {
  Parsed tls13(bodyOfRecord(kCurlServerFlight), false);
  REQUIRE(tls13.ok);
  CHECK(tls13.hello.has_server_hello);
  CHECK(tls13.hello.server_version == 0x0304);  // supported_versions, not the legacy 0x0303
  CHECK(tls13.hello.cipher == 0x1302);
  CHECK_FALSE(tls13.hello.hello_retry_request);
  CHECK(tls13.hello.ja3s == "771,4866,43-51");
  CHECK(tls13.hello.ja3s_hash == "15af977ce25de452b96affa2addb1036");

  Parsed tls12(bodyOfRecord(kOpensslTls12ServerFlight), false);
  REQUIRE(tls12.ok);
  CHECK(tls12.hello.server_version == 0x0303);
  CHECK(tls12.hello.cipher == 0xc030);
  CHECK(tls12.hello.ja3s == "771,49200,65281-11-35-16-23");
  CHECK(tls12.hello.ja3s_hash == "895252f3ce80cebf7a8837be83ec8e16");
  CHECK(tls12.stats.server_hellos.value() == 1);
}

TEST_CASE("a HelloRetryRequest is reported as the server hello, flagged and counted") {
  const Bytes hrr_random = fromHex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c");
  Parsed p(serverHelloBody(0x0303, 0x1301, {{0x002b, {0x03, 0x04}}, {0x0033, {0x00, 0x1d}}}, hrr_random), false);
  REQUIRE(p.ok);
  CHECK(p.hello.hello_retry_request);
  CHECK(p.hello.server_version == 0x0304);
  CHECK(p.hello.cipher == 0x1301);
  CHECK(p.stats.hello_retry_requests.value() == 1);
}

TEST_CASE("malformed ServerHellos are refused and counted") {
  Bytes good = serverHelloBody(0x0303, 0xc02f, {{0xff01, {0x00}}});
  SUBCASE("cut before the cipher") { good.resize(35); }
  SUBCASE("session id longer than 32") { good[34] = 40; }
  SUBCASE("extension overruns the block") { good[42] = 9; }
  Parsed p(good, false);
  CHECK_FALSE(p.ok);
  CHECK_FALSE(p.hello.has_server_hello);
  CHECK(p.stats.malformed_server_hello.value() == 1);
}

TEST_CASE("a ServerHello supported_versions that is not one version is ignored and counted") {
  Parsed p(serverHelloBody(0x0303, 0x1301, {{0x002b, {0x03, 0x04, 0x00}}}), false);
  REQUIRE(p.ok);
  CHECK(p.hello.server_version == 0x0303);
  CHECK(p.stats.malformed_extension.value() == 1);
}

TEST_CASE("a ServerHello without extensions has an empty JA3S extension field") {
  Bytes body = serverHelloBody(0x0301, 0x002f, {});
  body.resize(body.size() - 2);  // no extension block at all
  Parsed p(body, false);
  REQUIRE(p.ok);
  CHECK(p.hello.ja3s == "769,47,");
  CHECK(p.hello.server_version == 0x0301);
}

TEST_CASE("version and cipher names cover TLS 1.0-1.3 and the common suites") {
  CHECK(std::string(tlsVersionName(0x0301)) == "1.0");
  CHECK(std::string(tlsVersionName(0x0302)) == "1.1");
  CHECK(std::string(tlsVersionName(0x0303)) == "1.2");
  CHECK(std::string(tlsVersionName(0x0304)) == "1.3");
  CHECK(tlsVersionName(0x0300) == nullptr);
  CHECK(tlsVersionName(0x7f1c) == nullptr);
  CHECK(std::string(tlsCipherName(0x1301)) == "TLS_AES_128_GCM_SHA256");
  CHECK(std::string(tlsCipherName(0x1302)) == "TLS_AES_256_GCM_SHA384");
  CHECK(std::string(tlsCipherName(0x1303)) == "TLS_CHACHA20_POLY1305_SHA256");
  CHECK(std::string(tlsCipherName(0xc02f)) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  CHECK(std::string(tlsCipherName(0xc030)) == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  CHECK(std::string(tlsCipherName(0xcca9)) == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
  CHECK(std::string(tlsCipherName(0x002f)) == "TLS_RSA_WITH_AES_128_CBC_SHA");
  CHECK(std::string(tlsCipherName(0x00ff)) == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV");
  CHECK(tlsCipherName(0x0a0a) == nullptr);
  CHECK(tlsCipherName(0x0000) == nullptr);
}

}  // namespace
}  // namespace tapflow
