// MD5 against the RFC 1321 appendix A.5 test suite, one-shot and streamed.
#include "proto/tls/md5.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "ops/hex.h"

namespace tapflow {
namespace {

std::string md5Hex(std::string_view text) {
  uint8_t digest[Md5::kDigestBytes];
  md5(reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest);
  return hexString(digest, sizeof(digest));
}

TEST_CASE("md5 of the RFC 1321 test suite strings matches the published digests") {
  CHECK(md5Hex("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5Hex("a") == "0cc175b9c0f1b6a831c399e269772661");
  CHECK(md5Hex("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(md5Hex("message digest") == "f96b697d7cb7938d525a2f31aaf161d0");
  CHECK(md5Hex("abcdefghijklmnopqrstuvwxyz") == "c3fcd3d76192e4007dfb496cca67e13b");
  CHECK(md5Hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
        "d174ab98d277d9f5a5611c2c9f419d9f");
  CHECK(md5Hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890") ==
        "57edf4a22be3c955ac49da2e2107b67a");
}

TEST_CASE("md5 padding boundaries at 55, 56, 63 and 64 bytes give the known digests") {
  // Lengths where the length field just fits, just does not fit, and a whole block.
  CHECK(md5Hex(std::string(55, 'a')) == "ef1772b6dff9a122358552954ad0df65");
  CHECK(md5Hex(std::string(56, 'a')) == "3b0c8ac703f828b04c6c197006d17218");
  CHECK(md5Hex(std::string(63, 'a')) == "b06521f39153d618550606be297466d5");
  CHECK(md5Hex(std::string(64, 'a')) == "014842d480b571495a4a0363793f7367");
}

TEST_CASE("md5 fed in uneven pieces equals md5 of the whole input") {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += char('a' + i % 26);
  const std::string whole = md5Hex(text);
  for (size_t piece : {1u, 3u, 63u, 64u, 65u, 200u}) {
    Md5 h;
    for (size_t pos = 0; pos < text.size(); pos += piece) {
      h.update(text.data() + pos, std::min(piece, text.size() - pos));
    }
    uint8_t digest[Md5::kDigestBytes];
    h.finish(digest);
    CHECK(hexString(digest, sizeof(digest)) == whole);
  }
}

TEST_CASE("md5 of a million 'a' matches the well-known digest") {
  const std::string text(1000000, 'a');
  CHECK(md5Hex(text) == "7707d6ae4e027c70eea2a935c2296f21");
}

}  // namespace
}  // namespace tapflow
