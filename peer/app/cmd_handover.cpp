// peer handover DIR --key FILE --to KEY -o RECORD: the channel's current key
// hands publishing over to another key (seeds/MANIFEST.md, "Hand-over"). DIR
// is the publisher's directory: its last version (DIR/.seedshare/published)
// names the channel, its hand-overs so far, and the number after which the
// new key publishes.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include "common/core/limits.hpp"
#include "common/model/manifest.hpp"
#include "peer/app/commands.hpp"
#include "peer/storage/channel_key_file.hpp"

namespace seedshare {

namespace {

// Created, never over an existing file; fsynced.
Status write_new_file(const std::filesystem::path& path, std::string_view text) {
    auto fd = Env::posix().open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (!fd) return Error{fd.error().text()};
    std::size_t done = 0;
    while (done < text.size()) {
        const auto n = ::write(fd->get(), text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            const Error e{fmt::format("{}: cannot write: {}", path.string(), std::strerror(errno))};
            (void)Env::posix().remove(path);
            return e;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd->get()) != 0) {
        (void)Env::posix().remove(path);
        return Error{fmt::format("{}: cannot write: {}", path.string(), std::strerror(errno))};
    }
    return Ok{};
}

}  // namespace

Result<HandoverRecord> read_handover_record(const std::filesystem::path& path) {
    auto text = Env::posix().read_file(path, limits::kMaxHandoverBytes);
    if (!text) return Error{text.error().text()};
    auto r = parse_handover(*text);
    if (!r) return Error{fmt::format("{}: {}", path.string(), r.error().message)};
    if (auto ok = verify_handover_signature(*r); !ok)
        return Error{fmt::format("{}: {}", path.string(), ok.error().message)};
    return r;
}

int run_handover(const HandoverCommand& cmd) {
    auto key = read_channel_key(cmd.key);
    if (!key) {
        fmt::print(stderr, "peer: {}\n", key.error().message);
        return kExitUsage;
    }
    const auto to = PublicKey::from_hex_string(cmd.to);
    if (!to || !is_acceptable_public_key(*to)) {
        fmt::print(stderr,
                   "peer: --to: not a public key (64 lowercase hex digits, as peer "
                   "keygen prints)\n");
        return kExitUsage;
    }
    const auto state = cmd.dir / ".seedshare" / "published";
    auto text = Env::posix().read_file(state, limits::kMaxManifestBytes);
    if (!text) {
        fmt::print(stderr, "peer: {}: not a publisher's directory ({})\n", cmd.dir.string(),
                   text.error().text());
        return kExitUsage;
    }
    auto m = parse_manifest(*text);
    if (m) {
        if (auto ok = verify_manifest_signature(*m); !ok) m = ok.error();
    }
    if (!m) {
        fmt::print(stderr, "peer: {}: {}\n", state.string(), m.error().message);
        return kExitFailure;
    }
    const PublicKey current = publishing_key(m->channel, m->handovers);
    if (current != key->public_key()) {
        fmt::print(stderr, "peer: {}: version {} of channel {} is signed by key {}, not this one\n",
                   cmd.dir.string(), m->version, m->channel.hex(), current.hex());
        return kExitUsage;
    }
    if (*to == current) {
        fmt::print(stderr, "peer: --to: that is this key\n");
        return kExitUsage;
    }
    if (m->version >= limits::kMaxManifestVersion || m->handovers.size() >= limits::kMaxHandovers) {
        fmt::print(stderr, "peer: channel {} can be handed over no more\n", m->channel.hex());
        return kExitFailure;
    }
    const auto record = sign_handover(m->channel, m->version + 1, *key, *to);
    if (auto ok = append_handover(m->channel, m->handovers, record); !ok) {
        fmt::print(stderr, "peer: {}\n", ok.error().message);
        return kExitFailure;
    }
    if (auto ok = write_new_file(cmd.out, format_handover(record)); !ok) {
        fmt::print(stderr, "peer: {}\n", ok.error().message);
        return kExitFailure;
    }
    fmt::print("{}\n", m->channel.hex());
    fmt::print(stderr,
               "wrote {}: key {} publishes channel {} from version {} on; stop publishing here "
               "and run: peer publish DIR --key NEWKEY --handover {}\n",
               cmd.out.string(), to->hex(), m->channel.hex(), record.from, cmd.out.string());
    return kExitOk;
}

}  // namespace seedshare
