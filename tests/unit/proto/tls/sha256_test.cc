// SHA-256 against the FIPS 180-2 appendix B examples, one-shot and streamed.
#include "proto/tls/sha256.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "ops/hex.h"

namespace tapflow {
namespace {

std::string sha256Hex(std::string_view text) {
  uint8_t digest[Sha256::kDigestBytes];
  sha256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest);
  return hexString(digest, sizeof(digest));
}

TEST_CASE("sha256 of the FIPS 180-2 examples matches the published digests") {
  CHECK(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256Hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256 of the empty string and of 55, 56 and 64 bytes gives the known digests") {
  CHECK(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256Hex(std::string(55, 'a')) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(sha256Hex(std::string(56, 'a')) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(sha256Hex(std::string(64, 'a')) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("sha256 fed in uneven pieces equals sha256 of the whole input") {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += char('A' + i % 26);
  const std::string whole = sha256Hex(text);
  for (size_t piece : {1u, 7u, 63u, 64u, 65u, 300u}) {
    Sha256 h;
    for (size_t pos = 0; pos < text.size(); pos += piece) {
      h.update(text.data() + pos, std::min(piece, text.size() - pos));
    }
    uint8_t digest[Sha256::kDigestBytes];
    h.finish(digest);
    CHECK(hexString(digest, sizeof(digest)) == whole);
  }
}

TEST_CASE("sha256 reset() starts a new digest") {
  Sha256 h;
  h.update("garbage", 7);
  h.reset();
  h.update("abc", 3);
  uint8_t digest[Sha256::kDigestBytes];
  h.finish(digest);
  CHECK(hexString(digest, sizeof(digest)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace tapflow
