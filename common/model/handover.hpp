// A hand-over: publishing a channel passes from one key to another. The
// channel's id stays its first key; the current key signs a record naming
// the next key and the version number from which it publishes, and every
// version after that carries the chain of records from the first key to the
// one that signed it (a version 2 manifest, common/model/manifest.hpp). Both
// texts are specified byte for byte in seeds/MANIFEST.md ("Hand-over"). Pure:
// no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/ids.hpp"
#include "common/core/result.hpp"
#include "common/crypto/ed25519.hpp"

namespace seedshare {

// One link of the chain as a manifest carries it: who signed it is implied
// by its place (the channel's key for the first, the `to` of the one before
// for the others).
struct Handover {
    std::uint64_t from = 0;  // the first version `to` may sign
    PublicKey to;            // the key that publishes from `from` on
    Signature signature;     // by the key before, over kHandoverSignaturePrefix + the record body

    bool operator==(const Handover&) const = default;
};

// A hand-over on its own: what `peer handover` writes and `peer publish
// --handover` reads. Names everything its signature covers.
struct HandoverRecord {
    ChannelId channel;
    std::uint64_t from = 0;
    PublicKey by;  // the key that signed it: the one handing over
    PublicKey to;
    Signature signature;

    bool operator==(const HandoverRecord&) const = default;
};

// The bytes a hand-over's signature covers start with this prefix (32 bytes,
// the last one NUL): never taken for a manifest's signature, or the reverse.
inline constexpr std::string_view kHandoverSignaturePrefix{"seedshare handover signature v1\0", 32};

// The canonical record text without, and with, its signature line.
std::string format_handover_body(const HandoverRecord& r);
std::string format_handover(const HandoverRecord& r);
// Strict parser (size first, one spelling, every line named on error). Does
// NOT check the signature: verify_handover_signature.
Result<HandoverRecord> parse_handover(std::string_view text);
// Ok when the signature is canonical and by `by` over the record body, `by`
// and `to` are usable public keys and differ, and `from` is in range.
Status verify_handover_signature(const HandoverRecord& r);
HandoverRecord sign_handover(const ChannelId& channel, std::uint64_t from, const ChannelKey& by,
                             const PublicKey& to);

// Link `i` of a manifest's chain as a record.
HandoverRecord handover_record(const ChannelId& channel, const std::vector<Handover>& chain,
                               std::size_t i);
Handover link_of(const HandoverRecord& r);
// The key that signs the channel's versions at the end of `chain`.
PublicKey publishing_key(const ChannelId& channel, const std::vector<Handover>& chain);
// Ok when every link is signed by the key before it, numbers strictly
// increase, and the chain is at most limits::kMaxHandovers long.
Status verify_handover_chain(const ChannelId& channel, const std::vector<Handover>& chain);
// The chain's identity after each link: ids[i] names links 0..i (SHA-256 over
// the id before and link i's record body; never over signature bytes). Two
// chains agree up to link i exactly when their ids[i] are equal.
std::vector<Digest> handover_chain_ids(const ChannelId& channel,
                                       const std::vector<Handover>& chain);
// `chain` with `r` appended when `r` is the next link (signed by the chain's
// current key, for a later number); `chain` unchanged when it already holds
// `r`; an error otherwise (another channel, another key, a fork).
Result<std::vector<Handover>> append_handover(const ChannelId& channel, std::vector<Handover> chain,
                                              const HandoverRecord& r);

}  // namespace seedshare
