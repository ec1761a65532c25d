#include <doctest/doctest.h>

#include "common/core/bytes.hpp"

namespace bytes_test {

using namespace seedshare;

TEST_CASE("bytes: writer and reader round trip, big-endian") {
    Bytes buf;
    ByteWriter w(buf);
    w.u8(0x12);
    w.u16(0x3456);
    w.u32(0x789abcde);
    w.u64(0x0102030405060708ull);
    w.str16("hello");
    w.str32("world!");
    CHECK(buf[1] == 0x34);
    CHECK(buf[2] == 0x56);

    ByteReader r(buf);
    std::uint8_t a = 0;
    std::uint16_t b = 0;
    std::uint32_t c = 0;
    std::uint64_t d = 0;
    std::string s1, s2;
    CHECK(r.u8(a));
    CHECK(r.u16(b));
    CHECK(r.u32(c));
    CHECK(r.u64(d));
    CHECK(r.str16(16, s1));
    CHECK(r.str32(16, s2));
    CHECK(r.done());
    CHECK(a == 0x12);
    CHECK(b == 0x3456);
    CHECK(c == 0x789abcde);
    CHECK(d == 0x0102030405060708ull);
    CHECK(s1 == "hello");
    CHECK(s2 == "world!");
}

TEST_CASE("bytes: reader refuses to read past the end and stays failed") {
    const Bytes buf{0x00, 0x01, 0x02};
    ByteReader r(buf);
    std::uint32_t v = 0;
    CHECK_FALSE(r.u32(v));
    CHECK_FALSE(r.ok());
    std::uint8_t b = 0;
    CHECK_FALSE(r.u8(b));  // even though one byte would be there
    CHECK(r.remaining() == 0);
}

TEST_CASE("bytes: string lengths are checked against the limit and the input") {
    Bytes buf;
    ByteWriter w(buf);
    w.str16("0123456789");
    {
        ByteReader r(buf);
        std::string s;
        CHECK_FALSE(r.str16(9, s));  // over the caller's limit
    }
    {
        Bytes truncated(buf.begin(), buf.end() - 1);
        ByteReader r(truncated);
        std::string s;
        CHECK_FALSE(r.str16(100, s));  // length says 10, only 9 there
    }
    {
        // A 4 GiB length prefix with 2 bytes behind it: refused, nothing allocated.
        const Bytes huge{0xff, 0xff, 0xff, 0xff, 'a', 'b'};
        ByteReader r(huge);
        std::string s;
        CHECK_FALSE(r.str32(1u << 30, s));
        CHECK(s.empty());
    }
}

TEST_CASE("bytes: raw views and fixed fields") {
    const Bytes buf{1, 2, 3, 4, 5};
    ByteReader r(buf);
    ByteSpan view;
    CHECK(r.raw(2, view));
    CHECK(view.size() == 2);
    CHECK(view[1] == 2);
    std::array<std::uint8_t, 3> fixed{};
    CHECK(r.into(fixed));
    CHECK(fixed[2] == 5);
    CHECK(r.done());
}

}  // namespace bytes_test
