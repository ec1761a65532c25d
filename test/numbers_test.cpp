#include <doctest/doctest.h>

#include <vector>

#include "common/core/numbers.hpp"

namespace numbers_test {

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
    CHECK(*parse_size("4096") == 4096u);
    CHECK(*parse_size("256K") == 256u * 1024);
    CHECK(*parse_size("1MiB") == 1u << 20);
    CHECK(*parse_size("2G") == 2ull << 30);
    CHECK_FALSE(parse_size("K"));
    CHECK_FALSE(parse_size("1T"));
    CHECK_FALSE(parse_size("17179869184G"));  // overflows 64 bits
}

TEST_CASE("numbers: parse_size takes what users type") {
    for (const char* ten_k : {"10k", "10K", "10kb", "10KB", "10KiB", "10kib", "10240", "10240B"}) {
        CAPTURE(ten_k);
        const auto v = parse_size(ten_k);
        REQUIRE(v);
        CHECK(*v == 10240u);
    }
    CHECK(*parse_size("1.5M") == 3u << 19);
    CHECK(*parse_size("1.5m") == 3u << 19);
    CHECK(*parse_size("2G") == 2ull << 30);
    CHECK(*parse_size("2GB") == 2ull << 30);
    CHECK(*parse_size("2gib") == 2ull << 30);
    CHECK(*parse_size("0.5K") == 512u);
    CHECK(*parse_size(".5K") == 512u);
    CHECK(*parse_size("0.3K") == 307u);     // 307.2, rounded down
    CHECK(*parse_size("1.999K") == 2046u);  // 2046.976, rounded down
    CHECK(*parse_size("0.1G") == 107374182u);
    CHECK(*parse_size("007") == 7u);
    CHECK(*parse_size("2.0") == 2u);  // no fraction of a byte
    CHECK(*parse_size("0") == 0u);
    CHECK(*parse_size("18446744073709551615") == 18446744073709551615ull);
    CHECK(*parse_size("17179869183.999999999G") == 18446744073709551614ull);
}

TEST_CASE("numbers: parse_size says why it refuses") {
    struct Case {
        const char* text;
        NumberError error;
    };
    for (const auto& c : std::vector<Case>{
             {"", NumberError::kNotANumber},
             {"K", NumberError::kNotANumber},
             {".", NumberError::kNotANumber},
             {"abc", NumberError::kNotANumber},
             {"10x", NumberError::kNotANumber},
             {"1T", NumberError::kNotANumber},
             {"10 K", NumberError::kNotANumber},
             {" 10K", NumberError::kNotANumber},
             {"1.2.3K", NumberError::kNotANumber},
             {"0x10", NumberError::kNotANumber},
             {"+1K", NumberError::kNotANumber},
             {"1e6", NumberError::kNotANumber},
             {"-1", NumberError::kNegative},
             {"-1.5M", NumberError::kNegative},
             {"1.5", NumberError::kFraction},
             {"1.5B", NumberError::kFraction},
             {"18446744073709551616", NumberError::kTooLarge},
             {"17179869184G", NumberError::kTooLarge},
             {"18014398509481984K", NumberError::kTooLarge},
             {"99999999999999999999999K", NumberError::kTooLarge},
         }) {
        CAPTURE(c.text);
        const auto v = parse_size(c.text);
        REQUIRE_FALSE(v);
        CHECK(v.error() == c.error);
    }
}

TEST_CASE("numbers: parse_whole and parse_decimal name the problem") {
    CHECK(*parse_whole("50") == 50u);
    CHECK(*parse_whole("050") == 50u);
    CHECK(parse_whole("abc").error() == NumberError::kNotANumber);
    CHECK(parse_whole("").error() == NumberError::kNotANumber);
    CHECK(parse_whole("-1").error() == NumberError::kNegative);
    CHECK(parse_whole("1.5").error() == NumberError::kFraction);
    CHECK(parse_whole("18446744073709551616").error() == NumberError::kTooLarge);

    CHECK(*parse_decimal("2") == 2.0);
    CHECK(*parse_decimal("0.5") == 0.5);
    CHECK(*parse_decimal(".25") == 0.25);
    CHECK(parse_decimal("abc").error() == NumberError::kNotANumber);
    CHECK(parse_decimal("1e3").error() == NumberError::kNotANumber);
    CHECK(parse_decimal("inf").error() == NumberError::kNotANumber);
    CHECK(parse_decimal("-0.5").error() == NumberError::kNegative);
    CHECK(parse_decimal("1234567890123").error() == NumberError::kTooLarge);
    CHECK(describe(NumberError::kNotANumber) == "not a number");
}

TEST_CASE("numbers: format_bytes") {
    CHECK(format_bytes(0) == "0 B");
    CHECK(format_bytes(1023) == "1023 B");
    CHECK(format_bytes(1024) == "1.00 KiB");
    CHECK(format_bytes(1536ull << 20) == "1.50 GiB");
}

}  // namespace numbers_test
