// TLS hello parsing: the ClientHello and ServerHello handshake messages once
// reassembled, turned into the fields of a TLS event (SNI, ALPN, versions,
// chosen cipher) and the JA3, JA3S and JA4 fingerprints. No stream state
// here: tls_session.h feeds it whole messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "packet/timestamp.h"
#include "proto/tls/tls_stats.h"

namespace tapflow {

// What one connection's hellos said. Every view points into the session's
// buffers and stays valid only during the onTlsHello() call. Text fields are
// raw bytes from the wire (SNI and ALPN may hold any byte): escape on output.
struct TlsHello {
  static constexpr size_t kMaxAlpn = 8;
  static constexpr size_t kMaxVersions = 16;

  bool has_client_hello = false, has_server_hello = false;
  std::string_view sni;  // server_name (host_name), empty when absent
  std::string_view alpn[kMaxAlpn];
  size_t alpn_count = 0;            // offered by the client, in its order
  uint16_t client_version = 0;      // legacy_version of the ClientHello
  uint16_t supported_versions[kMaxVersions];
  size_t supported_version_count = 0;  // client's, GREASE removed, in its order
  std::string_view ja3;                // "771,4865-...,0-11-...,29-23-24,0"; empty if over tls.max_ja3_bytes
  std::string_view ja3_hash;           // MD5 of the JA3 string, 32 lowercase hex
  std::string_view ja4;                // "t13d1516h2_8daaf6152771_b186095e22b6"
  uint16_t server_version = 0;         // chosen: the ServerHello's supported_versions, else its legacy_version
  uint16_t cipher = 0;                 // ServerHello cipher suite
  bool hello_retry_request = false;    // the server hello was a TLS 1.3 HelloRetryRequest
  std::string_view ja3s, ja3s_hash;    // "771,4866,43-51" and its MD5
  Timestamp client_hello_ts = 0, server_hello_ts = 0;  // first byte of each hello
};

// "1.0" .. "1.3" for TLS 1.0 .. 1.3; nullptr for anything else (SSL 3.0 included).
const char* tlsVersionName(uint16_t version);
// IANA name of common cipher suites ("TLS_AES_128_GCM_SHA256"); nullptr else.
const char* tlsCipherName(uint16_t cipher);

// GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa. Fingerprints skip them.
constexpr bool isTlsGrease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

// Where one hello's fingerprint text goes: buffers the session allocated once.
struct TlsHelloText {
  static constexpr size_t kHashChars = 32;
  static constexpr size_t kJa4Chars = 36;
  char* ja3 = nullptr;  // JA3 (client) or JA3S (server) string
  size_t ja3_capacity = 0;
  char ja3_hash[kHashChars];
  char ja4[kJa4Chars];
};

// JA4 sorts the cipher and extension lists (and keeps the signature
// algorithms) in fixed arrays of this size; longer lists are not fingerprinted.
constexpr size_t kMaxJa4ListEntries = 512;

// Parse a ClientHello / ServerHello body (the bytes after the 4-byte handshake
// header) into the client / server fields of `out`, whose views then point
// into `body` and `text`. On false the message is malformed (counted) and
// `out` is unchanged. Problems inside one known extension are counted and that
// extension is ignored; the hello is kept.
bool parseClientHello(const uint8_t* body, size_t len, TlsHello& out, TlsHelloText& text, TlsStats& stats);
bool parseServerHello(const uint8_t* body, size_t len, TlsHello& out, TlsHelloText& text, TlsStats& stats);

}  // namespace tapflow
