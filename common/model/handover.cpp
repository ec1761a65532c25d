#include "common/model/handover.hpp"

#include <fmt/format.h>

#include <array>

#include "common/core/limits.hpp"
#include "common/core/numbers.hpp"
#include "common/crypto/sha256.hpp"

namespace seedshare {

namespace {

constexpr std::string_view kMagic = "seedshare-handover 1";
constexpr std::string_view kChainIdPrefix{"seedshare handover chain v1\0", 28};

}  // namespace

std::string format_handover_body(const HandoverRecord& r) {
    return fmt::format("{}\nchannel {}\nfrom {}\nby {}\nto {}\n", kMagic, r.channel.hex(), r.from,
                       r.by.hex(), r.to.hex());
}

std::string format_handover(const HandoverRecord& r) {
    return format_handover_body(r) + fmt::format("signature {}\n", r.signature.hex());
}

Result<HandoverRecord> parse_handover(std::string_view text) {
    if (text.size() > limits::kMaxHandoverBytes)
        return Error{fmt::format("hand-over record is {} bytes, more than the limit of {}",
                                 text.size(), limits::kMaxHandoverBytes)};
    if (text.empty() || text.back() != '\n')
        return Error{"hand-over record: missing newline at the end of the file"};
    // Exactly six lines, in this order.
    constexpr std::array<std::string_view, 6> kKeys{"", "channel", "from", "by", "to", "signature"};
    std::array<std::string_view, 6> values{};
    std::size_t pos = 0;
    for (std::size_t i = 0; i < kKeys.size(); ++i) {
        const std::size_t line_no = i + 1;
        if (pos >= text.size())
            return Error{
                fmt::format("line {}: unexpected end of file: missing '{}'", line_no, kKeys[i])};
        const auto nl = text.find('\n', pos);
        const auto line = text.substr(pos, nl - pos);
        pos = nl + 1;
        for (const char ch : line) {
            const auto c = static_cast<unsigned char>(ch);
            if (c < 0x20 || c == 0x7f)
                return Error{fmt::format(
                    "line {}: control character (byte 0x{:02x}) in line (CR: records use LF "
                    "line endings only)",
                    line_no, c)};
        }
        if (i == 0) {
            if (line != kMagic)
                return Error{fmt::format("line 1: not a seedshare hand-over record (expected '{}')",
                                         kMagic)};
            continue;
        }
        const auto space = line.find(' ');
        if (space == std::string_view::npos || line.substr(0, space) != kKeys[i])
            return Error{fmt::format("line {}: expected '{} VALUE'", line_no, kKeys[i])};
        values[i] = line.substr(space + 1);
    }
    if (pos < text.size()) return Error{"line 7: unexpected text after the signature"};
    HandoverRecord r;
    if (!from_hex(values[1], r.channel.bytes))
        return Error{"line 2: channel must be 64 lowercase hex digits"};
    const auto from = parse_u64(values[2]);
    if (!from || *from == 0 || *from > limits::kMaxManifestVersion)
        return Error{fmt::format("line 3: from must be a version number, 1 to {}",
                                 limits::kMaxManifestVersion)};
    r.from = *from;
    if (!from_hex(values[3], r.by.bytes))
        return Error{"line 4: by must be 64 lowercase hex digits (a public key)"};
    if (!from_hex(values[4], r.to.bytes))
        return Error{"line 5: to must be 64 lowercase hex digits (a public key)"};
    if (!from_hex(values[5], r.signature.bytes))
        return Error{"line 6: signature must be 128 lowercase hex digits"};
    return r;
}

Status verify_handover_signature(const HandoverRecord& r) {
    if (r.from == 0 || r.from > limits::kMaxManifestVersion)
        return Error{fmt::format("hand-over from version {}: not a version number", r.from)};
    if (!is_acceptable_public_key(r.by))
        return Error{"the hand-over's signing key is not a usable Ed25519 public key"};
    if (!is_acceptable_public_key(r.to))
        return Error{"the hand-over's new key is not a usable Ed25519 public key"};
    if (r.by == r.to) return Error{"the hand-over names the key that signed it"};
    if (!is_canonical_signature(r.signature))
        return Error{"the hand-over's signature is not canonical (S is not below the group order)"};
    std::string signed_bytes(kHandoverSignaturePrefix);
    signed_bytes += format_handover_body(r);
    if (!verify(r.by, signed_bytes, r.signature))
        return Error{fmt::format("the hand-over's signature does not match key {}", r.by.hex())};
    return Ok{};
}

HandoverRecord sign_handover(const ChannelId& channel, std::uint64_t from, const ChannelKey& by,
                             const PublicKey& to) {
    HandoverRecord r;
    r.channel = channel;
    r.from = from;
    r.by = by.public_key();
    r.to = to;
    std::string signed_bytes(kHandoverSignaturePrefix);
    signed_bytes += format_handover_body(r);
    r.signature = by.sign(signed_bytes);
    return r;
}

HandoverRecord handover_record(const ChannelId& channel, const std::vector<Handover>& chain,
                               std::size_t i) {
    HandoverRecord r;
    r.channel = channel;
    r.from = chain[i].from;
    r.by = i == 0 ? PublicKey{channel.bytes} : chain[i - 1].to;
    r.to = chain[i].to;
    r.signature = chain[i].signature;
    return r;
}

Handover link_of(const HandoverRecord& r) {
    return Handover{r.from, r.to, r.signature};
}

PublicKey publishing_key(const ChannelId& channel, const std::vector<Handover>& chain) {
    return chain.empty() ? PublicKey{channel.bytes} : chain.back().to;
}

Status verify_handover_chain(const ChannelId& channel, const std::vector<Handover>& chain) {
    if (chain.size() > limits::kMaxHandovers)
        return Error{fmt::format("{} hand-overs is above the limit of {}", chain.size(),
                                 limits::kMaxHandovers)};
    for (std::size_t i = 0; i < chain.size(); ++i) {
        if (i > 0 && chain[i].from <= chain[i - 1].from)
            return Error{fmt::format(
                "hand-over {} is from version {}, not after hand-over {} (from version {})", i + 1,
                chain[i].from, i, chain[i - 1].from)};
        if (auto ok = verify_handover_signature(handover_record(channel, chain, i)); !ok)
            return Error{fmt::format("hand-over {}: {}", i + 1, ok.error().message)};
    }
    return Ok{};
}

std::vector<Digest> handover_chain_ids(const ChannelId& channel,
                                       const std::vector<Handover>& chain) {
    std::vector<Digest> ids;
    ids.reserve(chain.size());
    Digest id;  // zeros: the empty chain
    for (std::size_t i = 0; i < chain.size(); ++i) {
        std::string bytes(kChainIdPrefix);
        bytes.append(reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size());
        bytes += format_handover_body(handover_record(channel, chain, i));
        id = sha256(bytes);
        ids.push_back(id);
    }
    return ids;
}

Result<std::vector<Handover>> append_handover(const ChannelId& channel, std::vector<Handover> chain,
                                              const HandoverRecord& r) {
    if (r.channel != channel)
        return Error{
            fmt::format("the hand-over is for channel {}, not {}", r.channel.hex(), channel.hex())};
    for (std::size_t i = 0; i < chain.size(); ++i)
        if (handover_record(channel, chain, i) == r) return chain;  // already in it
    if (r.by != publishing_key(channel, chain))
        return Error{fmt::format(
            "the hand-over is signed by {}, but the channel's versions are signed by {} (a "
            "hand-over that forks the chain, or one from before another)",
            r.by.hex(), publishing_key(channel, chain).hex())};
    if (!chain.empty() && r.from <= chain.back().from)
        return Error{fmt::format("the hand-over is from version {}, not after the last one ({})",
                                 r.from, chain.back().from)};
    if (chain.size() >= limits::kMaxHandovers)
        return Error{
            fmt::format("the channel has had {} hand-overs, the limit", limits::kMaxHandovers)};
    if (auto ok = verify_handover_signature(r); !ok) return ok.error();
    chain.push_back(link_of(r));
    return chain;
}

}  // namespace seedshare
