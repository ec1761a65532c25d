#include <doctest/doctest.h>

#include "common/core/limits.hpp"
#include "common/crypto/sha256.hpp"
#include "common/wire/channel_protocol.hpp"
#include "common/wire/frame.hpp"

namespace channel_protocol_test {

using namespace seedshare;
namespace cp = seedshare::channel_proto;

namespace {

Result<cp::Message> roundtrip(const Bytes& frame) {
    REQUIRE(frame.size() <= cp::max_frame_bytes() + 4);
    auto h = decode_frame_header(ByteSpan(frame.data(), limits::kFrameHeaderBytes),
                                 cp::max_frame_bytes());
    REQUIRE(h);
    REQUIRE(cp::check_header(*h));
    return cp::decode(h->type,
                      ByteSpan(frame.data() + limits::kFrameHeaderBytes, h->payload_size()));
}

cp::VersionRef ref(std::uint64_t n, std::string_view text) {
    return cp::VersionRef{n, sha256(text), {}};
}

SeedId seed_id(std::string_view text) {
    SeedId id;
    id.bytes = sha256(text).bytes;
    return id;
}

Bytes payload_of(const Bytes& frame) {
    return Bytes(frame.begin() + static_cast<std::ptrdiff_t>(limits::kFrameHeaderBytes),
                 frame.end());
}

}  // namespace

TEST_CASE("channel protocol: every message round trips") {
    ChannelId channel;
    channel.bytes = sha256(std::string_view("key")).bytes;
    const UserId user = random_user_id();
    const std::vector<cp::Message> messages{
        cp::ChannelHello{cp::kVersion, channel, user, 4242, ref(7, "v7")},
        cp::ChannelHello{cp::kVersion, channel, user, 0, cp::VersionRef{}},
        cp::Announce{ref(8, "v8")},
        cp::ManifestRequest{ref(8, "v8")},
        cp::PeerList{{PeerAddress{asio::ip::make_address("10.0.0.1"), 1},
                      PeerAddress{asio::ip::make_address("::1"), 65535}}},
        cp::KeepAlive{},
        cp::Goodbye{},
        cp::SeedRequest{seed_id("a")},
        cp::SeedUnknown{seed_id("b")},
        cp::FileRequest{seed_id("c")},
        cp::FileUnknown{seed_id("d")},
        cp::ErrorMsg{cp::ErrorCode::kNoSuchVersion, "version 8 is gone"},
    };
    for (const auto& m : messages) {
        CAPTURE(m.index());
        auto back = roundtrip(cp::encode(m));
        REQUIRE(back);
        CHECK(*back == m);
    }
}

TEST_CASE("channel protocol: a manifest part round trips and stays inside its manifest") {
    const Bytes data(1000, std::uint8_t{'m'});
    const cp::ManifestPart part{ref(3, "v3"), 5000, 4000, data};
    const Bytes frame = cp::encode(part);  // the decoded data is a view into it
    auto back = roundtrip(frame);
    REQUIRE(back);
    const auto& p = std::get<cp::ManifestPart>(*back);
    CHECK(p.of == part.of);
    CHECK(p.total == 5000);
    CHECK(p.offset == 4000);
    CHECK(Bytes(p.data.begin(), p.data.end()) == data);

    // Past the end of the manifest.
    auto over =
        cp::decode(static_cast<std::uint8_t>(cp::Type::kManifestPart),
                   payload_of(cp::encode(cp::ManifestPart{ref(3, "v3"), 4500, 4000, data})));
    REQUIRE_FALSE(over);
    CHECK(over.error().message.find("past the end of the manifest") != std::string::npos);
    // A manifest over the limit.
    auto huge = cp::decode(
        static_cast<std::uint8_t>(cp::Type::kManifestPart),
        payload_of(cp::encode(cp::ManifestPart{
            ref(3, "v3"), static_cast<std::uint32_t>(limits::kMaxManifestBytes + 1), 0, data})));
    CHECK_FALSE(huge);
    // No data at all.
    auto empty = cp::decode(static_cast<std::uint8_t>(cp::Type::kManifestPart),
                            payload_of(cp::encode(cp::ManifestPart{ref(3, "v3"), 10, 0, {}})));
    CHECK_FALSE(empty);
}

TEST_CASE("channel protocol: a file part round trips and stays inside a small file") {
    const Bytes data(700, std::uint8_t{'f'});
    const cp::FilePart part{seed_id("x"), 900, 200, data};
    const Bytes frame = cp::encode(part);
    auto back = roundtrip(frame);
    REQUIRE(back);
    const auto& p = std::get<cp::FilePart>(*back);
    CHECK(p.id == part.id);
    CHECK(p.total == 900);
    CHECK(p.offset == 200);
    CHECK(Bytes(p.data.begin(), p.data.end()) == data);
    const auto type = static_cast<std::uint8_t>(cp::Type::kFilePart);
    auto over =
        cp::decode(type, payload_of(cp::encode(cp::FilePart{seed_id("x"), 899, 200, data})));
    REQUIRE_FALSE(over);
    CHECK(over.error().message.find("past the end of the file") != std::string::npos);
    // Only small files cross a channel connection: a larger total is refused.
    auto large = cp::decode(
        type,
        payload_of(cp::encode(cp::FilePart{seed_id("x"), limits::kMaxMeshFileBytes + 1, 0, data})));
    REQUIRE_FALSE(large);
    CHECK(large.error().message.find("FilePart") != std::string::npos);
    CHECK(large.error().message.find("total") != std::string::npos);
    CHECK(cp::decode(type, payload_of(cp::encode(
                               cp::FilePart{seed_id("x"), limits::kMaxMeshFileBytes, 0, data}))));
    CHECK_FALSE(cp::decode(type, payload_of(cp::encode(cp::FilePart{seed_id("x"), 10, 0, {}}))));
}

TEST_CASE("channel protocol: a seed part round trips and stays inside its seed") {
    const Bytes data(700, std::uint8_t{'s'});
    const cp::SeedPart part{seed_id("x"), 900, 200, data};
    const Bytes frame = cp::encode(part);  // the decoded data is a view into it
    auto back = roundtrip(frame);
    REQUIRE(back);
    const auto& p = std::get<cp::SeedPart>(*back);
    CHECK(p.id == part.id);
    CHECK(p.total == 900);
    CHECK(p.offset == 200);
    CHECK(Bytes(p.data.begin(), p.data.end()) == data);
    const auto type = static_cast<std::uint8_t>(cp::Type::kSeedPart);

    // Past the end of the seed.
    auto over =
        cp::decode(type, payload_of(cp::encode(cp::SeedPart{seed_id("x"), 899, 200, data})));
    REQUIRE_FALSE(over);
    CHECK(over.error().message.find("past the end of the seed") != std::string::npos);
    // A seed over the limit: refused before anything is kept.
    auto huge = cp::decode(
        type, payload_of(cp::encode(cp::SeedPart{
                  seed_id("x"), static_cast<std::uint32_t>(limits::kMaxSeedBytes + 1), 0, data})));
    REQUIRE_FALSE(huge);
    CHECK(huge.error().message.find("total") != std::string::npos);
    // No data, and a truncated id.
    CHECK_FALSE(cp::decode(type, payload_of(cp::encode(cp::SeedPart{seed_id("x"), 10, 0, {}}))));
    const Bytes request = payload_of(cp::encode(cp::SeedRequest{seed_id("y")}));
    CHECK_FALSE(cp::decode(static_cast<std::uint8_t>(cp::Type::kSeedRequest),
                           ByteSpan(request.data(), request.size() - 1)));
    // A part larger than a frame may carry is refused by its header.
    FrameHeader h;
    h.type = type;
    h.length = static_cast<std::uint32_t>(1 + 40 + limits::kMaxManifestPartBytes + 1);
    CHECK_FALSE(cp::check_header(h));
}

TEST_CASE("channel protocol: version references are checked") {
    // Announcing "none", or a number without its hash, or a hash without a
    // number; a chain id of zeros, more links than a manifest may have.
    const Digest x = sha256(std::string_view("x"));
    for (const auto& bad :
         {cp::VersionRef{}, cp::VersionRef{5, Digest{}, {}}, cp::VersionRef{0, x, {}},
          cp::VersionRef{1ull << 63, x, {}}, cp::VersionRef{5, x, {x, Digest{}}},
          cp::VersionRef{5, x, std::vector<Digest>(limits::kMaxHandovers + 1, x)}}) {
        CAPTURE(bad.number);
        CAPTURE(bad.chain.size());
        auto m = cp::decode(static_cast<std::uint8_t>(cp::Type::kAnnounce),
                            payload_of(cp::encode(cp::Announce{bad})));
        CHECK_FALSE(m);
    }
    // A hello may hold none, but not a half reference, nor none with a chain.
    ChannelId channel;
    for (const auto& bad : {cp::VersionRef{3, Digest{}, {}}, cp::VersionRef{0, Digest{}, {x}}}) {
        auto half = cp::decode(
            static_cast<std::uint8_t>(cp::Type::kChannelHello),
            payload_of(cp::encode(cp::ChannelHello{cp::kVersion, channel, UserId{}, 1, bad})));
        CHECK_FALSE(half);
    }
    // A version on the longest hand-over chain: it goes and comes back.
    std::vector<Digest> chain;
    for (std::size_t i = 0; i < limits::kMaxHandovers; ++i)
        chain.push_back(sha256(std::string_view("chain " + std::to_string(i))));
    const cp::VersionRef chained{5, x, chain};
    auto back = cp::decode(static_cast<std::uint8_t>(cp::Type::kAnnounce),
                           payload_of(cp::encode(cp::Announce{chained})));
    REQUIRE(back);
    CHECK(std::get<cp::Announce>(*back).held == chained);
}

TEST_CASE("channel protocol: a hello of another version decodes to its version only") {
    Bytes frame = cp::encode(cp::ChannelHello{});
    frame[limits::kFrameHeaderBytes + 4 + 1] = 9;  // version 9
    frame.resize(limits::kFrameHeaderBytes + 6);   // and nothing after it
    auto m = cp::decode(static_cast<std::uint8_t>(cp::Type::kChannelHello), payload_of(frame));
    REQUIRE(m);
    CHECK(std::get<cp::ChannelHello>(*m).version == 9);
}

TEST_CASE("channel protocol: headers are checked against each type's limit") {
    CHECK_FALSE(cp::check_header(
        FrameHeader{1 + 8 + 32 + 1 + 64 * 32 + 1, static_cast<std::uint8_t>(cp::Type::kAnnounce)}));
    CHECK_FALSE(cp::check_header(FrameHeader{1, 0x01}));  // a peer Hello is not a channel message
    CHECK(cp::check_header(FrameHeader{static_cast<std::uint32_t>(cp::max_frame_bytes()),
                                       static_cast<std::uint8_t>(cp::Type::kManifestPart)}));
    CHECK(cp::max_frame_bytes() <= limits::kMaxPeerFrameBytes);
    // Unknown error codes and trailing bytes are refused.
    Bytes err = payload_of(cp::encode(cp::ErrorMsg{cp::ErrorCode::kBusy, "busy"}));
    err[1] = 99;
    CHECK_FALSE(cp::decode(static_cast<std::uint8_t>(cp::Type::kError), err));
    Bytes bye{0};
    CHECK_FALSE(cp::decode(static_cast<std::uint8_t>(cp::Type::kGoodbye), bye));
    CHECK(cp::type_name(0x41) == "ChannelHello");
}

}  // namespace channel_protocol_test
