// Helpers for the TLS analyzer tests: hello builders (handshake messages,
// records, extensions), hex decoding, and a sink that keeps a deep copy of
// each event rendered as one line, so events can be compared exactly.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/tls/tls_session.h"

namespace tapflow::tls_test {

using Bytes = std::vector<uint8_t>;

inline Bytes fromHex(std::string_view hex) {
  Bytes out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(uint8_t(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

inline void put16(Bytes& b, uint32_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
inline void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }

struct Extension {
  uint16_t type;
  Bytes data;
};

// A list of 2-byte values behind a 2-byte length (supported_groups, signature_algorithms).
inline Extension u16ListExtension(uint16_t type, const std::vector<uint16_t>& values) {
  Bytes d;
  put16(d, uint32_t(values.size() * 2));
  for (uint16_t v : values) put16(d, v);
  return {type, d};
}
inline Extension supportedVersions(const std::vector<uint16_t>& versions) {
  Bytes d{uint8_t(versions.size() * 2)};
  for (uint16_t v : versions) put16(d, v);
  return {0x002b, d};
}
inline Extension pointFormats(const Bytes& formats) {
  Bytes d{uint8_t(formats.size())};
  append(d, formats);
  return {0x000b, d};
}
inline Extension serverName(std::string_view host) {
  // Sized up front: GCC 12 -O3 warns (wrongly) about insert() after push_back() here.
  Bytes d(5 + host.size());
  d[0] = uint8_t((host.size() + 3) >> 8);
  d[1] = uint8_t(host.size() + 3);
  d[2] = 0;  // host_name
  d[3] = uint8_t(host.size() >> 8);
  d[4] = uint8_t(host.size());
  std::copy(host.begin(), host.end(), d.begin() + 5);
  return {0x0000, d};
}
inline Extension alpn(const std::vector<std::string>& protocols) {
  Bytes list;
  for (const auto& p : protocols) {
    list.push_back(uint8_t(p.size()));
    list.insert(list.end(), p.begin(), p.end());
  }
  Bytes d;
  put16(d, uint32_t(list.size()));
  append(d, list);
  return {0x0010, d};
}
inline Extension empty(uint16_t type) { return {type, {}}; }

inline Bytes extensionBlock(const std::vector<Extension>& extensions) {
  Bytes block;
  for (const auto& e : extensions) {
    put16(block, e.type);
    put16(block, uint32_t(e.data.size()));
    append(block, e.data);
  }
  Bytes out;
  put16(out, uint32_t(block.size()));
  append(out, block);
  return out;
}

// A ClientHello body; with_extensions false leaves out the extension block (old clients).
inline Bytes clientHelloBody(uint16_t version, const std::vector<uint16_t>& ciphers,
                             const std::vector<Extension>& extensions, bool with_extensions = true) {
  Bytes b;
  put16(b, version);
  for (int i = 0; i < 32; ++i) b.push_back(uint8_t(i));  // random
  b.push_back(32);                                          // session id
  for (int i = 0; i < 32; ++i) b.push_back(uint8_t(0x40 + i));
  put16(b, uint32_t(ciphers.size() * 2));
  for (uint16_t c : ciphers) put16(b, c);
  b.push_back(1);  // compression methods: null
  b.push_back(0);
  if (with_extensions) append(b, extensionBlock(extensions));
  return b;
}

inline Bytes serverHelloBody(uint16_t version, uint16_t cipher, const std::vector<Extension>& extensions,
                             const Bytes& random = Bytes(32, 0x11)) {
  Bytes b;
  put16(b, version);
  append(b, random);
  b.push_back(0);  // empty session id
  put16(b, cipher);
  b.push_back(0);
  append(b, extensionBlock(extensions));
  return b;
}

inline Bytes handshake(uint8_t type, const Bytes& body) {
  Bytes m(4 + body.size());
  m[0] = type;
  m[1] = uint8_t(body.size() >> 16);
  m[2] = uint8_t(body.size() >> 8);
  m[3] = uint8_t(body.size());
  std::copy(body.begin(), body.end(), m.begin() + 4);
  return m;
}

// Concatenation without std::string's operator+, which GCC 12 -O3 flags with a false -Wrestrict.
inline std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (std::string_view p : parts) s.append(p);
  return s;
}

// `payload` cut into records of at most `fragment` bytes.
inline Bytes records(const Bytes& payload, size_t fragment = 16384, uint8_t type = 22, uint16_t version = 0x0301) {
  Bytes out;
  for (size_t pos = 0; pos < payload.size(); pos += fragment) {
    const size_t n = std::min(fragment, payload.size() - pos);
    out.push_back(type);
    put16(out, version);
    put16(out, uint32_t(n));
    out.insert(out.end(), payload.begin() + long(pos), payload.begin() + long(pos + n));
  }
  return out;
}

inline Bytes clientHelloRecord(const Bytes& body, size_t fragment = 16384) { return records(handshake(1, body), fragment); }
inline Bytes serverHelloRecord(const Bytes& body) { return records(handshake(2, body), 16384, 22, 0x0303); }

// One event as a line with every field, for exact comparison.
inline std::string render(const TlsHello& h) {
  std::string s;
  auto add = [&](std::string_view name, std::string_view value) {
    s.append(name).append("=").append(value).append(" ");
  };
  auto num = [&](std::string_view name, uint64_t v) { add(name, std::to_string(v)); };
  num("client", h.has_client_hello);
  num("server", h.has_server_hello);
  add("sni", h.sni);
  for (size_t i = 0; i < h.alpn_count; ++i) add("alpn", h.alpn[i]);
  num("client_version", h.client_version);
  for (size_t i = 0; i < h.supported_version_count; ++i) num("sv", h.supported_versions[i]);
  add("ja3", h.ja3);
  add("ja3_hash", h.ja3_hash);
  add("ja4", h.ja4);
  num("server_version", h.server_version);
  num("cipher", h.cipher);
  num("hrr", h.hello_retry_request);
  add("ja3s", h.ja3s);
  add("ja3s_hash", h.ja3s_hash);
  num("client_ts", uint64_t(h.client_hello_ts));
  num("server_ts", uint64_t(h.server_hello_ts));
  return s;
}

// Keeps deep copies: the event's views die with the callback.
struct EventCollector : TlsEventSink {
  std::vector<std::string> lines;  // render() of each event
  std::vector<std::string> sni, ja3, ja3_hash, ja4, ja3s, ja3s_hash;
  std::vector<std::vector<std::string>> alpn;
  std::vector<TlsHello> hellos;  // numeric fields; views cleared
  const TlsSession* session = nullptr;  // when set, every view must lie in its buffers
  bool views_owned = true;

  void onTlsHello(const TlsHello& h) override {
    lines.push_back(render(h));
    sni.emplace_back(h.sni);
    ja3.emplace_back(h.ja3);
    ja3_hash.emplace_back(h.ja3_hash);
    ja4.emplace_back(h.ja4);
    ja3s.emplace_back(h.ja3s);
    ja3s_hash.emplace_back(h.ja3s_hash);
    alpn.emplace_back();
    for (size_t i = 0; i < h.alpn_count; ++i) alpn.back().emplace_back(h.alpn[i]);
    if (session != nullptr) {
      for (auto v : {h.sni, h.ja3, h.ja3_hash, h.ja4, h.ja3s, h.ja3s_hash}) views_owned &= session->ownsText(v);
      for (size_t i = 0; i < h.alpn_count; ++i) views_owned &= session->ownsText(h.alpn[i]);
    }
    TlsHello numeric = h;
    numeric.sni = numeric.ja3 = numeric.ja3_hash = numeric.ja4 = numeric.ja3s = numeric.ja3s_hash = {};
    for (auto& a : numeric.alpn) a = {};
    hellos.push_back(numeric);
  }
  size_t count() const { return lines.size(); }
};

}  // namespace tapflow::tls_test
