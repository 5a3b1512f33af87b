// ClientHello / ServerHello parsing and the JA3, JA3S and JA4 fingerprints.
//
// JA3 (Salesforce): "version,ciphers,extensions,groups,point_formats" in
// decimal, lists joined by '-', GREASE removed from ciphers, extensions and
// groups; MD5 of that string. JA3S: "version,cipher,extensions" and its MD5.
// JA4 (FoxIO): see buildJa4() below.
#include "proto/tls/tls_hello.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "ops/hex.h"
#include "proto/tls/md5.h"
#include "proto/tls/sha256.h"

namespace tapflow {
namespace {

constexpr uint16_t kExtServerName = 0x0000;
constexpr uint16_t kExtSupportedGroups = 0x000a;
constexpr uint16_t kExtEcPointFormats = 0x000b;
constexpr uint16_t kExtSignatureAlgorithms = 0x000d;
constexpr uint16_t kExtAlpn = 0x0010;
constexpr uint16_t kExtSupportedVersions = 0x002b;

constexpr size_t kRandomBytes = 32;
constexpr size_t kMaxSessionIdBytes = 32;

// SHA-256("HelloRetryRequest"): the random of a ServerHello that is a HelloRetryRequest (RFC 8446 4.1.3).
constexpr uint8_t kHelloRetryRandom[kRandomBytes] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

constexpr char kHexDigits[] = "0123456789abcdef";

// A bounds-checked cursor over message bytes: every read says whether the
// bytes were there, and a failed read leaves the cursor where it was.
class Reader {
 public:
  Reader() = default;
  Reader(const uint8_t* data, size_t len) : pos_(data), left_(len) {}

  size_t left() const { return left_; }
  bool u8(uint8_t& v) {
    if (left_ < 1) return false;
    v = pos_[0];
    skipUnchecked(1);
    return true;
  }
  bool u16(uint16_t& v) {
    if (left_ < 2) return false;
    v = uint16_t(pos_[0] << 8 | pos_[1]);
    skipUnchecked(2);
    return true;
  }
  bool bytes(size_t n, const uint8_t*& out) {
    if (left_ < n) return false;
    out = pos_;
    skipUnchecked(n);
    return true;
  }
  bool sub(size_t n, Reader& out) {
    const uint8_t* p = nullptr;
    if (!bytes(n, p)) return false;
    out = Reader(p, n);
    return true;
  }
  // A list prefixed by its 1- or 2-byte length that fills the rest of this reader exactly.
  bool wholeList8(Reader& out) {
    uint8_t n = 0;
    return u8(n) && n == left_ && sub(n, out);
  }
  bool wholeList16(Reader& out) {
    uint16_t n = 0;
    return u16(n) && n == left_ && sub(n, out);
  }

 private:
  void skipUnchecked(size_t n) {
    pos_ += n;
    left_ -= n;
  }

  const uint8_t* pos_ = nullptr;
  size_t left_ = 0;
};

// Text written both into a bounded buffer and into an MD5: the hash is right
// even when the string is too long to keep.
class HashedText {
 public:
  HashedText(char* buffer, size_t capacity) : buffer_(buffer), capacity_(capacity) {}

  void put(const char* s, size_t n) {
    md5_.update(s, n);
    if (len_ + n <= capacity_ && !overflow_) {
      std::memcpy(buffer_ + len_, s, n);
      len_ += n;
    } else {
      overflow_ = true;
    }
  }
  void put(char c) { put(&c, 1); }
  void putDecimal(uint32_t v) {
    char digits[10];
    size_t n = 0;
    do {
      digits[sizeof(digits) - 1 - n] = char('0' + v % 10);
      v /= 10;
      ++n;
    } while (v != 0);
    put(digits + sizeof(digits) - n, n);
  }
  // Values of a list joined by '-'.
  void putListItem(uint32_t v, bool& first) {
    if (!first) put('-');
    first = false;
    putDecimal(v);
  }

  // The string (empty if it did not fit) and its hash as 32 lowercase hex.
  std::string_view text() const { return overflow_ ? std::string_view() : std::string_view(buffer_, len_); }
  bool overflow() const { return overflow_; }
  std::string_view finishHash(char (&hex)[TlsHelloText::kHashChars]) {
    uint8_t digest[Md5::kDigestBytes];
    md5_.finish(digest);
    hexEncode(digest, sizeof(digest), hex);
    return std::string_view(hex, sizeof(hex));
  }

 private:
  Md5 md5_;
  char* buffer_;
  size_t capacity_;
  size_t len_ = 0;
  bool overflow_ = false;
};

// The ClientHello's parts, located and checked before anything is written to the event.
struct ClientHelloParts {
  uint16_t legacy_version = 0;
  Reader ciphers;     // 2-byte values
  Reader extensions;  // the whole extension block (type, length, data)...
  bool has_extensions = false;
  // ...and the contents of the first occurrence of each extension we read.
  bool has_sni_extension = false, has_alpn = false, has_versions = false, has_groups = false,
       has_point_formats = false, has_signature_algorithms = false;
  Reader sni, alpn, versions, groups, point_formats, signature_algorithms;
};

// server_name (RFC 6066): a list of (type, name); the first host_name is the SNI.
bool readSni(Reader ext, std::string_view& sni) {
  Reader list;
  if (!ext.wholeList16(list) || list.left() == 0) return false;
  std::string_view found;
  while (list.left() > 0) {
    uint8_t type = 0;
    uint16_t len = 0;
    const uint8_t* name = nullptr;
    if (!list.u8(type) || !list.u16(len) || len == 0 || !list.bytes(len, name)) return false;
    if (type == 0 && found.empty()) found = std::string_view(reinterpret_cast<const char*>(name), len);
  }
  sni = found;
  return true;
}

// ALPN (RFC 7301): a non-empty list of non-empty protocol names.
bool checkAlpn(Reader ext, Reader& list) {
  if (!ext.wholeList16(list) || list.left() == 0) return false;
  Reader walk = list;
  while (walk.left() > 0) {
    uint8_t len = 0;
    const uint8_t* name = nullptr;
    if (!walk.u8(len) || len == 0 || !walk.bytes(len, name)) return false;
  }
  return true;
}

// Checks the fixed fields and the extension framing; locates what the event
// and the fingerprints need. Inner extension problems only drop that extension.
bool splitClientHello(const uint8_t* body, size_t len, ClientHelloParts& parts, TlsStats& stats) {
  Reader r(body, len);
  const uint8_t* skipped = nullptr;
  uint8_t session_id_len = 0, compression_len = 0;
  uint16_t ciphers_len = 0;
  if (!r.u16(parts.legacy_version) || !r.bytes(kRandomBytes, skipped) || !r.u8(session_id_len) ||
      session_id_len > kMaxSessionIdBytes || !r.bytes(session_id_len, skipped) || !r.u16(ciphers_len) ||
      ciphers_len % 2 != 0 || !r.sub(ciphers_len, parts.ciphers) || !r.u8(compression_len) ||
      compression_len == 0 || !r.bytes(compression_len, skipped)) {
    return false;
  }
  // Extensions are optional (pre-TLS 1.2 clients); when present they fill the message exactly.
  if (r.left() == 0) return true;
  if (!r.wholeList16(parts.extensions)) return false;
  parts.has_extensions = true;

  // Only the first occurrence of each extension is read; a malformed one is
  // counted once the whole hello is known to be well framed.
  bool seen_alpn = false, seen_versions = false, seen_groups = false, seen_point_formats = false,
       seen_signature_algorithms = false;
  uint32_t bad_extensions = 0;
  Reader walk = parts.extensions;
  while (walk.left() > 0) {
    uint16_t type = 0, ext_len = 0;
    Reader ext;
    if (!walk.u16(type) || !walk.u16(ext_len) || !walk.sub(ext_len, ext)) return false;
    Reader list;
    switch (type) {
      case kExtServerName:
        if (parts.has_sni_extension) break;
        parts.has_sni_extension = true;  // JA4 "d" whatever its contents
        parts.sni = ext;
        break;
      case kExtAlpn:
        if (std::exchange(seen_alpn, true)) break;
        parts.has_alpn = checkAlpn(ext, list);
        if (parts.has_alpn) parts.alpn = list;  // a bad one stays empty
        bad_extensions += !parts.has_alpn;
        break;
      case kExtSupportedVersions:
        if (std::exchange(seen_versions, true)) break;
        parts.has_versions = ext.wholeList8(list) && list.left() >= 2 && list.left() % 2 == 0;
        if (parts.has_versions) parts.versions = list;  // a bad one stays empty
        bad_extensions += !parts.has_versions;
        break;
      case kExtSupportedGroups:
        if (std::exchange(seen_groups, true)) break;
        parts.has_groups = ext.wholeList16(list) && list.left() % 2 == 0;
        if (parts.has_groups) parts.groups = list;  // a bad one stays empty
        bad_extensions += !parts.has_groups;
        break;
      case kExtEcPointFormats:
        if (std::exchange(seen_point_formats, true)) break;
        parts.has_point_formats = ext.wholeList8(list);
        if (parts.has_point_formats) parts.point_formats = list;  // a bad one stays empty
        bad_extensions += !parts.has_point_formats;
        break;
      case kExtSignatureAlgorithms:
        if (std::exchange(seen_signature_algorithms, true)) break;
        parts.has_signature_algorithms = ext.wholeList16(list) && list.left() % 2 == 0;
        if (parts.has_signature_algorithms) parts.signature_algorithms = list;  // a bad one stays empty
        bad_extensions += !parts.has_signature_algorithms;
        break;
      default:
        break;
    }
  }
  stats.malformed_extension.add(bad_extensions);
  return true;
}

void putUint16Values(HashedText& out, Reader list, bool skip_grease) {
  bool first = true;
  uint16_t v = 0;
  while (list.u16(v)) {
    if (!(skip_grease && isTlsGrease(v))) out.putListItem(v, first);
  }
}

void buildJa3(const ClientHelloParts& parts, TlsHello& out, TlsHelloText& text, TlsStats& stats) {
  HashedText ja3(text.ja3, text.ja3_capacity);
  ja3.putDecimal(parts.legacy_version);
  ja3.put(',');
  putUint16Values(ja3, parts.ciphers, true);
  ja3.put(',');
  Reader walk = parts.extensions;
  bool first = true;
  uint16_t type = 0, ext_len = 0;
  const uint8_t* skipped = nullptr;
  while (walk.u16(type) && walk.u16(ext_len) && walk.bytes(ext_len, skipped)) {
    if (!isTlsGrease(type)) ja3.putListItem(type, first);
  }
  ja3.put(',');
  if (parts.has_groups) putUint16Values(ja3, parts.groups, true);
  ja3.put(',');
  if (parts.has_point_formats) {
    Reader formats = parts.point_formats;
    first = true;
    uint8_t format = 0;
    while (formats.u8(format)) ja3.putListItem(format, first);
  }
  if (ja3.overflow()) stats.ja3_too_long.add();
  out.ja3 = ja3.text();
  out.ja3_hash = ja3.finishHash(text.ja3_hash);
}

// Feeds "xxxx,yyyy,..." (4 lowercase hex digits per value) to `hash`.
void hashHexList(Sha256& hash, const uint16_t* values, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    char item[5] = {',', kHexDigits[values[i] >> 12], kHexDigits[(values[i] >> 8) & 15],
                    kHexDigits[(values[i] >> 4) & 15], kHexDigits[values[i] & 15]};
    if (i == 0) {
      hash.update(item + 1, 4);
    } else {
      hash.update(item, 5);
    }
  }
}

// The first 12 hex digits of the hash, or twelve zeros when nothing was hashed (spec).
void putTruncatedHash(Sha256& hash, bool empty, char* out) {
  if (empty) {
    std::memset(out, '0', 12);
    return;
  }
  uint8_t digest[Sha256::kDigestBytes];
  hash.finish(digest);
  hexEncode(digest, 6, out);
}

void putCount(size_t count, char* out) {
  if (count > 99) count = 99;  // spec: two digits, capped
  out[0] = char('0' + count / 10);
  out[1] = char('0' + count % 10);
}

bool isAsciiAlnum(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// JA4 (FoxIO, technical_details/JA4.md), TLS over TCP:
//   a: "t", 2-char version (highest non-GREASE supported_versions, else
//      legacy_version: "13" "12" "11" "10" "s3" "s2", else "00"), "d" if a
//      server_name extension is present else "i", cipher and extension counts
//      without GREASE (SNI and ALPN counted) capped at 99, first and last
//      character of the first ALPN value ("00" without ALPN; the hex digits of
//      its first byte's high and last byte's low nibble when either character
//      is not alphanumeric);
//   b: SHA-256 of the sorted cipher list "002f,0035,...", first 12 hex digits;
//   c: SHA-256 of the sorted extension list without SNI (0000) and ALPN
//      (0010), then "_" and the signature algorithms in their order (no "_"
//      when there are none), first 12 hex digits. An empty list hashes to
//      "000000000000".
void buildJa4(const ClientHelloParts& parts, uint16_t highest_version, TlsHelloText& text, TlsHello& out,
              TlsStats& stats) {
  uint16_t ciphers[kMaxJa4ListEntries];
  uint16_t extensions[kMaxJa4ListEntries];
  uint16_t algorithms[kMaxJa4ListEntries];
  size_t cipher_count = 0, extension_count = 0, hashed_extension_count = 0, algorithm_count = 0;
  bool too_long = false;

  Reader walk = parts.ciphers;
  uint16_t v = 0;
  while (walk.u16(v)) {
    if (isTlsGrease(v)) continue;
    if (cipher_count == kMaxJa4ListEntries) {
      too_long = true;
      break;
    }
    ciphers[cipher_count++] = v;
  }
  walk = parts.extensions;
  uint16_t ext_len = 0;
  const uint8_t* skipped = nullptr;
  while (!too_long && walk.u16(v) && walk.u16(ext_len) && walk.bytes(ext_len, skipped)) {
    if (isTlsGrease(v)) continue;
    ++extension_count;
    if (v == kExtServerName || v == kExtAlpn) continue;
    if (hashed_extension_count == kMaxJa4ListEntries) {
      too_long = true;
      break;
    }
    extensions[hashed_extension_count++] = v;
  }
  walk = parts.signature_algorithms;  // empty when absent or malformed
  while (!too_long && walk.u16(v)) {
    if (isTlsGrease(v)) continue;
    if (algorithm_count == kMaxJa4ListEntries) {
      too_long = true;
      break;
    }
    algorithms[algorithm_count++] = v;
  }
  if (too_long) {
    stats.ja4_list_too_long.add();
    out.ja4 = std::string_view();
    return;
  }

  char* ja4 = text.ja4;
  ja4[0] = 't';
  const uint16_t version = parts.has_versions ? highest_version : parts.legacy_version;
  const char* version_code = "00";
  switch (version) {
    case 0x0304: version_code = "13"; break;
    case 0x0303: version_code = "12"; break;
    case 0x0302: version_code = "11"; break;
    case 0x0301: version_code = "10"; break;
    case 0x0300: version_code = "s3"; break;
    case 0x0002: version_code = "s2"; break;
    default: break;
  }
  ja4[1] = version_code[0];
  ja4[2] = version_code[1];
  ja4[3] = parts.has_sni_extension ? 'd' : 'i';
  putCount(cipher_count, ja4 + 4);
  putCount(extension_count, ja4 + 6);
  if (out.alpn_count == 0) {
    ja4[8] = ja4[9] = '0';
  } else {
    const std::string_view first = out.alpn[0];  // never empty: checkAlpn()
    const uint8_t head = uint8_t(first.front()), tail = uint8_t(first.back());
    if (isAsciiAlnum(head) && isAsciiAlnum(tail)) {
      ja4[8] = char(head);
      ja4[9] = char(tail);
    } else {
      ja4[8] = kHexDigits[head >> 4];
      ja4[9] = kHexDigits[tail & 15];
    }
  }
  ja4[10] = '_';

  std::sort(ciphers, ciphers + cipher_count);
  Sha256 hash;
  hashHexList(hash, ciphers, cipher_count);
  putTruncatedHash(hash, cipher_count == 0, ja4 + 11);
  ja4[23] = '_';

  std::sort(extensions, extensions + hashed_extension_count);
  hash.reset();
  hashHexList(hash, extensions, hashed_extension_count);
  if (algorithm_count > 0) {
    hash.update("_", 1);
    hashHexList(hash, algorithms, algorithm_count);
  }
  putTruncatedHash(hash, hashed_extension_count == 0 && algorithm_count == 0, ja4 + 24);
  out.ja4 = std::string_view(ja4, TlsHelloText::kJa4Chars);
}

}  // namespace

const char* tlsVersionName(uint16_t version) {
  switch (version) {
    case 0x0301: return "1.0";
    case 0x0302: return "1.1";
    case 0x0303: return "1.2";
    case 0x0304: return "1.3";
    default: return nullptr;
  }
}

const char* tlsCipherName(uint16_t cipher) {
  switch (cipher) {
    case 0x0004: return "TLS_RSA_WITH_RC4_128_MD5";
    case 0x0005: return "TLS_RSA_WITH_RC4_128_SHA";
    case 0x000a: return "TLS_RSA_WITH_3DES_EDE_CBC_SHA";
    case 0x002f: return "TLS_RSA_WITH_AES_128_CBC_SHA";
    case 0x0033: return "TLS_DHE_RSA_WITH_AES_128_CBC_SHA";
    case 0x0035: return "TLS_RSA_WITH_AES_256_CBC_SHA";
    case 0x0039: return "TLS_DHE_RSA_WITH_AES_256_CBC_SHA";
    case 0x003c: return "TLS_RSA_WITH_AES_128_CBC_SHA256";
    case 0x003d: return "TLS_RSA_WITH_AES_256_CBC_SHA256";
    case 0x0067: return "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256";
    case 0x006b: return "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256";
    case 0x009c: return "TLS_RSA_WITH_AES_128_GCM_SHA256";
    case 0x009d: return "TLS_RSA_WITH_AES_256_GCM_SHA384";
    case 0x009e: return "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256";
    case 0x009f: return "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384";
    case 0x00ff: return "TLS_EMPTY_RENEGOTIATION_INFO_SCSV";
    case 0x1301: return "TLS_AES_128_GCM_SHA256";
    case 0x1302: return "TLS_AES_256_GCM_SHA384";
    case 0x1303: return "TLS_CHACHA20_POLY1305_SHA256";
    case 0x1304: return "TLS_AES_128_CCM_SHA256";
    case 0x1305: return "TLS_AES_128_CCM_8_SHA256";
    case 0x5600: return "TLS_FALLBACK_SCSV";
    case 0xc009: return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA";
    case 0xc00a: return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA";
    case 0xc011: return "TLS_ECDHE_RSA_WITH_RC4_128_SHA";
    case 0xc012: return "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA";
    case 0xc013: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA";
    case 0xc014: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA";
    case 0xc023: return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256";
    case 0xc024: return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384";
    case 0xc027: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256";
    case 0xc028: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384";
    case 0xc02b: return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";
    case 0xc02c: return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
    case 0xc02f: return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
    case 0xc030: return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384";
    case 0xcca8: return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";
    case 0xcca9: return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
    case 0xccaa: return "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256";
    default: return nullptr;
  }
}

bool parseClientHello(const uint8_t* body, size_t len, TlsHello& out, TlsHelloText& text, TlsStats& stats) {
  ClientHelloParts parts;
  if (!splitClientHello(body, len, parts, stats)) {
    stats.malformed_client_hello.add();
    return false;
  }

  out.has_client_hello = true;
  out.client_version = parts.legacy_version;
  out.sni = std::string_view();
  if (parts.has_sni_extension && !readSni(parts.sni, out.sni)) stats.malformed_extension.add();

  out.alpn_count = 0;
  if (parts.has_alpn) {
    Reader list = parts.alpn;
    uint8_t name_len = 0;
    const uint8_t* name = nullptr;
    bool over_limit = false;
    while (list.u8(name_len) && list.bytes(name_len, name)) {
      if (out.alpn_count == TlsHello::kMaxAlpn) {
        over_limit = true;
        break;
      }
      out.alpn[out.alpn_count++] = std::string_view(reinterpret_cast<const char*>(name), name_len);
    }
    if (over_limit) stats.alpn_over_limit.add();
  }

  out.supported_version_count = 0;
  uint16_t highest_version = 0;
  if (parts.has_versions) {
    Reader list = parts.versions;
    uint16_t version = 0;
    bool over_limit = false;
    while (list.u16(version)) {
      if (isTlsGrease(version)) continue;
      highest_version = std::max(highest_version, version);
      if (out.supported_version_count < TlsHello::kMaxVersions) {
        out.supported_versions[out.supported_version_count++] = version;
      } else {
        over_limit = true;
      }
    }
    if (over_limit) stats.versions_over_limit.add();
  }

  buildJa3(parts, out, text, stats);
  buildJa4(parts, highest_version, text, out, stats);
  stats.client_hellos.add();
  return true;
}

bool parseServerHello(const uint8_t* body, size_t len, TlsHello& out, TlsHelloText& text, TlsStats& stats) {
  Reader r(body, len);
  const uint8_t* random = nullptr;
  const uint8_t* skipped = nullptr;
  uint8_t session_id_len = 0, compression = 0;
  uint16_t legacy_version = 0, cipher = 0;
  Reader extensions;
  bool ok = r.u16(legacy_version) && r.bytes(kRandomBytes, random) && r.u8(session_id_len) &&
            session_id_len <= kMaxSessionIdBytes && r.bytes(session_id_len, skipped) && r.u16(cipher) &&
            r.u8(compression) && (r.left() == 0 || r.wholeList16(extensions));
  // The extension framing must hold before anything is reported.
  uint16_t selected_version = 0;
  bool has_selected_version = false;
  Reader walk = extensions;
  while (ok && walk.left() > 0) {
    uint16_t type = 0, ext_len = 0;
    Reader ext;
    if (!walk.u16(type) || !walk.u16(ext_len) || !walk.sub(ext_len, ext)) {
      ok = false;
    } else if (type == kExtSupportedVersions && !has_selected_version) {
      // In a ServerHello the extension is the one selected version (RFC 8446 4.2.1).
      if (ext.u16(selected_version) && ext.left() == 0) {
        has_selected_version = true;
      } else {
        stats.malformed_extension.add();
      }
    }
  }
  if (!ok) {
    stats.malformed_server_hello.add();
    return false;
  }

  out.has_server_hello = true;
  out.server_version = has_selected_version ? selected_version : legacy_version;
  out.cipher = cipher;
  out.hello_retry_request = std::memcmp(random, kHelloRetryRandom, kRandomBytes) == 0;

  HashedText ja3s(text.ja3, text.ja3_capacity);
  ja3s.putDecimal(legacy_version);
  ja3s.put(',');
  ja3s.putDecimal(cipher);
  ja3s.put(',');
  walk = extensions;
  bool first = true;
  uint16_t type = 0, ext_len = 0;
  while (walk.u16(type) && walk.u16(ext_len) && walk.bytes(ext_len, skipped)) ja3s.putListItem(type, first);
  if (ja3s.overflow()) stats.ja3_too_long.add();
  out.ja3s = ja3s.text();
  out.ja3s_hash = ja3s.finishHash(text.ja3_hash);

  stats.server_hellos.add();
  if (out.hello_retry_request) stats.hello_retry_requests.add();
  return true;
}

}  // namespace tapflow
