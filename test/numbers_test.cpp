#include <doctest/doctest.h>

#include "common/numbers.hpp"

using namespace seedshare;

TEST_CASE("numbers: parse_u64 is strict") {
    CHECK(parse_u64("0") == 0u);
    CHECK(parse_u64("18446744073709551615") == 18446744073709551615ull);
    CHECK_FALSE(parse_u64("18446744073709551616"));
    CHECK_FALSE(parse_u64(""));
    CHECK_FALSE(parse_u64("01"));
    CHECK_FALSE(parse_u64("+1"));
    CHECK_FALSE(parse_u64("-1"));
    CHECK_FALSE(parse_u64(" 1"));
    CHECK_FALSE(parse_u64("1 "));
    CHECK_FALSE(parse_u64("0x10"));
}

TEST_CASE("numbers: parse_size takes binary suffixes") {
    CHECK(parse_size("4096") == 4096u);
    CHECK(parse_size("256K") == 256u * 1024);
    CHECK(parse_size("1MiB") == 1u << 20);
    CHECK(parse_size("2G") == 2ull << 30);
    CHECK_FALSE(parse_size("K"));
    CHECK_FALSE(parse_size("1.5M"));
    CHECK_FALSE(parse_size("1T"));
    CHECK_FALSE(parse_size("17179869184G"));  // overflows 64 bits
}

TEST_CASE("numbers: format_bytes") {
    CHECK(format_bytes(0) == "0 B");
    CHECK(format_bytes(1023) == "1023 B");
    CHECK(format_bytes(1024) == "1.00 KiB");
    CHECK(format_bytes(1536ull << 20) == "1.50 GiB");
}
