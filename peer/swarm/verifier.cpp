#include "peer/swarm/verifier.hpp"

#include "common/crypto/sha256.hpp"

namespace seedshare {

Verifier::Verifier(const Seed& seed, std::shared_ptr<Storage> storage, const Bitfield& have)
    : seed_(seed), storage_(std::move(storage)), hasher_(seed_, *storage_) {
    for (std::uint32_t i = 0; i < have.size(); ++i)
        if (have.test(ChunkIndex{i})) hasher_.mark_written(ChunkIndex{i});
}

Verifier::Verdict Verifier::check_and_write(ChunkIndex c, std::span<const std::uint8_t> data) {
    if (c.value >= seed_.chunk_count() || data.size() != seed_.chunk_length(c) ||
        sha256(data) != seed_.chunk_hashes[c.value])
        return Verdict{Outcome::kBadHash, std::nullopt, false};
    if (auto st = storage_->write(seed_.chunk_offset(c), data); !st)
        return Verdict{Outcome::kWriteFailed, st.error(), false};
    const bool drain = hasher_.chunk_written(c, data);
    ++verified_chunks_;
    verified_bytes_ += data.size();
    return Verdict{Outcome::kOk, std::nullopt, drain};
}

Result<Digest> Verifier::finish() {
    auto d = hasher_.finish();
    if (!d) return d;
    if (auto st = storage_->sync(); !st) return st.error();
    return d;
}

}  // namespace seedshare
