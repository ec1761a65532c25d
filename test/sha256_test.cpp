#include <doctest/doctest.h>

#include <string>

#include "common/crypto/sha256.hpp"

namespace sha256_test {

using namespace seedshare;

// FIPS 180-2 / NIST CSRC example vectors for SHA-256.
TEST_CASE("sha256: NIST vectors") {
    CHECK(sha256(std::string_view("")).hex() ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256(std::string_view("abc")).hex() ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
              .hex() == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(sha256(std::string_view(
                     "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
                     "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"))
              .hex() == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    const std::string million(1'000'000, 'a');
    CHECK(sha256(std::string_view(million)).hex() ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: incremental updates equal one-shot, and finish resets") {
    const std::string text(100'003, 'x');
    Sha256 h;
    for (std::size_t i = 0; i < text.size(); i += 997)
        h.update(std::string_view(text).substr(i, 997));
    CHECK(h.finish() == sha256(std::string_view(text)));
    h.update(std::string_view("abc"));
    CHECK(h.finish().hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace sha256_test
