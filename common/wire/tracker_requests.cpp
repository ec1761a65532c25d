// The tracker protocol's requests (peer -> tracker): payload writers and
// decoders. Byte layouts: docs/PROTOCOL.md ("Tracker protocol"); keep the two
// in step. Each decoder checks every count against its limit and against the
// bytes left before reserving memory, and refuses trailing bytes.
#include <fmt/format.h>

#include <algorithm>

#include "common/model/manifest.hpp"
#include "common/model/seed.hpp"
#include "common/wire/tracker_codec.hpp"

namespace seedshare::tracker_proto::codec {

namespace {

// Two entries for one id in one message are ambiguous: refused.
template <class Id>
bool check_unique(wire::MessageReader& r, std::vector<Id> ids, std::string_view kind,
                  std::string_view what) {
    std::sort(ids.begin(), ids.end());
    const auto dup = std::adjacent_find(ids.begin(), ids.end());
    if (dup != ids.end())
        return r.fail(fmt::format("{} {} appears twice in {}", kind, dup->hex(), what));
    return true;
}

}  // namespace

bool read_name(wire::MessageReader& r, std::string& name, std::string_view field) {
    if (!r.str16(name, limits::kMaxNameBytes, field)) return false;
    if (auto v = validate_file_name(name); !v)
        return r.fail(fmt::format("{}: {}", field, v.error().message));
    return true;
}

bool read_channel_name(wire::MessageReader& r, std::string& name, std::string_view field) {
    if (!r.str16(name, limits::kMaxChannelNameBytes, field)) return false;
    if (auto v = validate_channel_name(name); !v)
        return r.fail(fmt::format("{}: {}", field, v.error().message));
    return true;
}

bool check_numwant(wire::MessageReader& r, std::uint16_t numwant) {
    if (numwant == 0 || numwant > limits::kMaxNumWant)
        return r.fail(
            fmt::format("numwant {} is out of range 1..{}", numwant, limits::kMaxNumWant));
    return true;
}

void write_body(ByteWriter& w, const Join& m) {
    w.u32(kMagic);
    w.u16(m.version);
    put(w, m.user);
    put(w, m.token);
    w.u16(m.port);
    const std::uint8_t flags = static_cast<std::uint8_t>((m.wants_cluster ? kJoinWantsCluster : 0) |
                                                         (m.backup ? kJoinBackup : 0) |
                                                         (m.reads_roles ? kJoinReadsRoles : 0));
    if (flags != 0) w.u8(flags);
}
void write_body(ByteWriter& w, const Heartbeat& m) {
    put(w, m.token);
}
void write_body(ByteWriter& w, const FileList& m) {
    put(w, m.token);
    w.u8(m.replace_all ? 1 : 0);
    w.u32(static_cast<std::uint32_t>(m.add.size()));
    for (const auto& e : m.add) {
        put(w, e.id);
        w.str16(e.name);
        w.u64(e.length);
        put_bool(w, e.complete);
    }
    w.u32(static_cast<std::uint32_t>(m.remove.size()));
    for (const auto& id : m.remove)
        put(w, id);
}
void write_body(ByteWriter& w, const PutSeed& m) {
    put(w, m.token);
    w.str32(m.seed_text);
}
void write_body(ByteWriter& w, const GetPeers& m) {
    put(w, m.token);
    put(w, m.id);
    w.u16(m.numwant);
}
void write_body(ByteWriter& w, const ListFiles& m) {
    put(w, m.token);
    put_bool(w, m.from_start);
    put(w, m.after);
    w.u16(m.limit);
}
void write_body(ByteWriter& w, const GetSeed& m) {
    put(w, m.token);
    put(w, m.id);
}
void write_body(ByteWriter& w, const Leave& m) {
    put(w, m.token);
}
void write_body(ByteWriter& w, const PutManifest& m) {
    put(w, m.token);
    w.str32(m.text);
}
void write_body(ByteWriter& w, const GetManifest& m) {
    put(w, m.token);
    put(w, m.channel);
}
void write_body(ByteWriter& w, const FollowChannels& m) {
    put(w, m.token);
    w.u8(m.replace_all ? 1 : 0);
    w.u32(static_cast<std::uint32_t>(m.add.size()));
    for (const auto& e : m.add) {
        put(w, e.channel);
        w.u64(e.version);
    }
    w.u32(static_cast<std::uint32_t>(m.remove.size()));
    for (const auto& c : m.remove)
        put(w, c);
}
void write_body(ByteWriter& w, const GetChannelPeers& m) {
    put(w, m.token);
    put(w, m.channel);
    w.u16(m.numwant);
}
void write_body(ByteWriter& w, const ListChannels& m) {
    put(w, m.token);
    put_bool(w, m.from_start);
    put(w, m.after);
    w.u16(m.limit);
}

Result<Request> decode_join(ByteSpan p) {
    wire::MessageReader r(p, "Join");
    Join m;
    std::uint32_t magic = 0;
    if (r.u32(magic, "magic") && magic != kMagic)
        r.fail(fmt::format("magic 0x{:08x} is not 0x{:08x} (not a seedshare tracker client)", magic,
                           kMagic));
    r.u16(m.version, "version");
    if (r.ok() && m.version != kVersion) {
        Join other;  // only the version: the rest may be laid out differently
        other.version = m.version;
        return Request{other};
    }
    r.id(m.user, "userid");
    r.id(m.token, "token");
    r.u16(m.port, "port");
    if (r.ok() && r.remaining() > 0) {
        std::uint8_t flags = 0;
        r.u8(flags, "flags");
        // Sent only when a flag is set, and only flags this version knows.
        if (r.ok() && (flags == 0 || (flags & ~kJoinKnownFlags) != 0))
            r.fail(fmt::format("flags 0x{:02x}: expected a nonzero combination of 0x{:02x}", flags,
                               kJoinKnownFlags));
        m.wants_cluster = (flags & kJoinWantsCluster) != 0;
        m.backup = (flags & kJoinBackup) != 0;
        m.reads_roles = (flags & kJoinReadsRoles) != 0;
    }
    if (r.ok() && m.user.is_zero()) r.fail("userid is all zero");
    return r.finish(Request{m});
}

Result<Request> decode_heartbeat(ByteSpan p) {
    wire::MessageReader r(p, "Heartbeat");
    Heartbeat m;
    r.id(m.token, "token");
    return r.finish(Request{m});
}

Result<Request> decode_leave(ByteSpan p) {
    wire::MessageReader r(p, "Leave");
    Leave m;
    r.id(m.token, "token");
    return r.finish(Request{m});
}

Result<Request> decode_file_list(ByteSpan p) {
    wire::MessageReader r(p, "FileList");
    FileList m;
    r.id(m.token, "token");
    std::uint8_t flags = 0;
    if (r.u8(flags, "flags") && (flags & ~1u) != 0)
        r.fail(fmt::format("unknown flags 0x{:02x}", flags));
    m.replace_all = (flags & 1u) != 0;
    std::uint32_t n_add = 0;
    if (r.u32(n_add, "add count") &&
        r.count(n_add, limits::kMaxFileListEntries, kMinFileEntryBytes, "entries to add")) {
        m.add.reserve(n_add);
        for (std::uint32_t i = 0; i < n_add && r.ok(); ++i) {
            FileEntry e;
            const std::string field = fmt::format("entry {}", i);
            r.id(e.id, field);
            read_name(r, e.name, field + " name");
            if (r.u64(e.length, field + " length") && e.length > kMaxFileLength)
                r.fail(fmt::format("{} length {} is over the largest file a seed describes ({})",
                                   field, e.length, kMaxFileLength));
            r.flag(e.complete, field + " complete");
            m.add.push_back(std::move(e));
        }
    }
    std::uint32_t n_remove = 0;
    if (r.u32(n_remove, "remove count") &&
        r.count(n_remove, limits::kMaxFileListEntries - m.add.size(), kIdBytes,
                "ids to remove (with the entries to add)")) {
        m.remove.resize(n_remove);
        for (auto& id : m.remove)
            r.id(id, "removed id");
    }
    if (r.ok() && m.replace_all && !m.remove.empty())
        r.fail("a full list (replace_all) cannot also remove ids");
    if (r.ok()) {
        std::vector<SeedId> ids;
        ids.reserve(m.add.size() + m.remove.size());
        for (const auto& e : m.add)
            ids.push_back(e.id);
        ids.insert(ids.end(), m.remove.begin(), m.remove.end());
        check_unique(r, std::move(ids), "seed", "the list");
    }
    return r.finish(Request{std::move(m)});
}

Result<Request> decode_put_seed(ByteSpan p) {
    wire::MessageReader r(p, "PutSeed");
    PutSeed m;
    r.id(m.token, "token");
    r.str32(m.seed_text, limits::kMaxSeedBytes, "seed text");
    return r.finish(Request{std::move(m)});
}

Result<Request> decode_get_peers(ByteSpan p) {
    wire::MessageReader r(p, "GetPeers");
    GetPeers m;
    r.id(m.token, "token");
    r.id(m.id, "seed id");
    if (r.u16(m.numwant, "numwant")) check_numwant(r, m.numwant);
    return r.finish(Request{m});
}

Result<Request> decode_list_files(ByteSpan p) {
    wire::MessageReader r(p, "ListFiles");
    ListFiles m;
    r.id(m.token, "token");
    r.flag(m.from_start, "from_start");
    r.id(m.after, "after");
    if (r.u16(m.limit, "limit") && (m.limit == 0 || m.limit > limits::kMaxListFilesPage))
        r.fail(fmt::format("limit {} is out of range 1..{}", m.limit, limits::kMaxListFilesPage));
    return r.finish(Request{m});
}

Result<Request> decode_get_seed(ByteSpan p) {
    wire::MessageReader r(p, "GetSeed");
    GetSeed m;
    r.id(m.token, "token");
    r.id(m.id, "seed id");
    return r.finish(Request{m});
}

Result<Request> decode_put_manifest(ByteSpan p) {
    wire::MessageReader r(p, "PutManifest");
    PutManifest m;
    r.id(m.token, "token");
    r.str32(m.text, limits::kMaxManifestBytes, "manifest text");
    return r.finish(Request{std::move(m)});
}

Result<Request> decode_get_manifest(ByteSpan p) {
    wire::MessageReader r(p, "GetManifest");
    GetManifest m;
    r.id(m.token, "token");
    r.id(m.channel, "channel");
    return r.finish(Request{m});
}

Result<Request> decode_follow_channels(ByteSpan p) {
    wire::MessageReader r(p, "FollowChannels");
    FollowChannels m;
    r.id(m.token, "token");
    std::uint8_t flags = 0;
    if (r.u8(flags, "flags") && (flags & ~1u) != 0)
        r.fail(fmt::format("unknown flags 0x{:02x}", flags));
    m.replace_all = (flags & 1u) != 0;
    std::uint32_t n_add = 0;
    if (r.u32(n_add, "add count") &&
        r.count(n_add, limits::kMaxFollowEntries, kFollowEntryBytes, "channels to follow")) {
        m.add.resize(n_add);
        for (auto& e : m.add) {
            r.id(e.channel, "channel");
            if (r.u64(e.version, "version") && e.version > limits::kMaxManifestVersion)
                r.fail(fmt::format("version {} is over the largest, {}", e.version,
                                   limits::kMaxManifestVersion));
        }
    }
    std::uint32_t n_remove = 0;
    if (r.u32(n_remove, "remove count") &&
        r.count(n_remove, limits::kMaxFollowEntries - m.add.size(), kChannelBytes,
                "channels to unfollow (with the channels to follow)")) {
        m.remove.resize(n_remove);
        for (auto& c : m.remove)
            r.id(c, "removed channel");
    }
    if (r.ok() && m.replace_all && !m.remove.empty())
        r.fail("a full list (replace_all) cannot also remove channels");
    if (r.ok()) {
        std::vector<ChannelId> ids;
        ids.reserve(m.add.size() + m.remove.size());
        for (const auto& e : m.add)
            ids.push_back(e.channel);
        ids.insert(ids.end(), m.remove.begin(), m.remove.end());
        check_unique(r, std::move(ids), "channel", "the list");
    }
    return r.finish(Request{std::move(m)});
}

Result<Request> decode_get_channel_peers(ByteSpan p) {
    wire::MessageReader r(p, "GetChannelPeers");
    GetChannelPeers m;
    r.id(m.token, "token");
    r.id(m.channel, "channel");
    if (r.u16(m.numwant, "numwant")) check_numwant(r, m.numwant);
    return r.finish(Request{m});
}

Result<Request> decode_list_channels(ByteSpan p) {
    wire::MessageReader r(p, "ListChannels");
    ListChannels m;
    r.id(m.token, "token");
    r.flag(m.from_start, "from_start");
    r.id(m.after, "after");
    if (r.u16(m.limit, "limit") && (m.limit == 0 || m.limit > limits::kMaxListChannelsPage))
        r.fail(
            fmt::format("limit {} is out of range 1..{}", m.limit, limits::kMaxListChannelsPage));
    return r.finish(Request{m});
}

}  // namespace seedshare::tracker_proto::codec
