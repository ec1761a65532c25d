// The tracker protocol's responses (tracker -> peer): payload writers and
// decoders. Byte layouts: docs/PROTOCOL.md ("Tracker protocol"); keep the two
// in step.
#include <fmt/format.h>

#include "common/wire/tracker_codec.hpp"

namespace seedshare::tracker_proto::codec {

void write_body(ByteWriter& w, const Joined& m) {
    put(w, m.token);
    w.u32(m.heartbeat_ms);
    w.u32(m.ttl_ms);
    wire::put_address(w, m.observed);
    if (m.trackers.empty()) return;
    w.u16(static_cast<std::uint16_t>(m.trackers.size()));
    for (const auto& t : m.trackers) {
        w.str16(t.host);
        w.u16(t.port);
    }
}
void write_body(ByteWriter&, const OkReply&) {}
void write_body(ByteWriter& w, const FileListOk& m) {
    w.u32(static_cast<std::uint32_t>(m.need_seed.size()));
    for (const auto& id : m.need_seed)
        put(w, id);
}
void write_body(ByteWriter& w, const Peers& m) {
    put(w, m.id);
    w.u16(static_cast<std::uint16_t>(m.peers.size()));
    for (const auto& p : m.peers) {
        wire::put_address(w, p.address);
        w.u16(p.port);
        put(w, p.user);
        w.u8(static_cast<std::uint8_t>((p.complete ? kHolderComplete : 0) |
                                       (p.backup ? kHolderBackup : 0)));
    }
}
void write_body(ByteWriter& w, const Files& m) {
    put_bool(w, m.more);
    w.u16(static_cast<std::uint16_t>(m.files.size()));
    for (const auto& f : m.files) {
        put(w, f.id);
        w.str16(f.name);
        w.u64(f.length);
        w.u32(f.holders);
        w.u32(f.complete_holders);
    }
}
void write_body(ByteWriter& w, const SeedText& m) {
    put(w, m.id);
    w.str32(m.text);
}
void write_body(ByteWriter& w, const ErrorReply& m) {
    w.u16(static_cast<std::uint16_t>(m.code));
    // The message is informative; never let it push the frame over a limit.
    w.str16(std::string_view(m.message).substr(0, limits::kMaxMessageTextBytes));
}

void write_body(ByteWriter& w, const ManifestText& m) {
    put(w, m.channel);
    w.str32(m.text);
}
void write_body(ByteWriter& w, const ChannelPeers& m) {
    put(w, m.channel);
    w.u16(static_cast<std::uint16_t>(m.peers.size()));
    for (const auto& p : m.peers) {
        wire::put_address(w, p.address);
        w.u16(p.port);
        put(w, p.user);
        w.u64(p.version);
    }
}
void write_body(ByteWriter& w, const Channels& m) {
    put_bool(w, m.more);
    w.u16(static_cast<std::uint16_t>(m.channels.size()));
    for (const auto& c : m.channels) {
        put(w, c.channel);
        w.str16(c.name);
        w.u64(c.version);
        w.u32(c.files);
        w.u64(c.size);
        w.u32(c.followers);
    }
}

Result<Response> decode_ok(ByteSpan p) {
    return wire::MessageReader(p, "Ok").finish(Response{OkReply{}});
}

Result<Response> decode_joined(ByteSpan p) {
    wire::MessageReader r(p, "Joined");
    Joined m;
    r.id(m.token, "token");
    r.u32(m.heartbeat_ms, "heartbeat_ms");
    r.u32(m.ttl_ms, "ttl_ms");
    r.address(m.observed, "observed address");
    std::uint16_t n = 0;
    if (r.ok() && r.remaining() > 0 && r.u16(n, "trackers") &&
        r.count(n, limits::kMaxClusterTrackers, 5, "trackers")) {
        if (n == 0) r.fail("an empty tracker list is left out, not sent");
        m.trackers.resize(n);
        for (auto& t : m.trackers) {
            if (!r.str16(t.host, limits::kMaxTrackerHostBytes, "tracker host") ||
                !r.u16(t.port, "tracker port"))
                break;
            if (t.host.empty() || t.port == 0) {
                r.fail("a tracker of the cluster has no host or port 0");
                break;
            }
        }
    }
    if (r.ok() && (m.heartbeat_ms == 0 || m.ttl_ms == 0 || m.heartbeat_ms > m.ttl_ms))
        r.fail(fmt::format("heartbeat {} ms and ttl {} ms: expected 0 < heartbeat <= ttl",
                           m.heartbeat_ms, m.ttl_ms));
    return r.finish(Response{m});
}

Result<Response> decode_file_list_ok(ByteSpan p) {
    wire::MessageReader r(p, "FileListOk");
    FileListOk m;
    std::uint32_t n = 0;
    if (r.u32(n, "count") && r.count(n, limits::kMaxFileListEntries, kIdBytes, "ids")) {
        m.need_seed.resize(n);
        for (auto& id : m.need_seed)
            r.id(id, "seed id");
    }
    return r.finish(Response{std::move(m)});
}

Result<Response> decode_peers(ByteSpan p) {
    wire::MessageReader r(p, "Peers");
    Peers m;
    r.id(m.id, "seed id");
    std::uint16_t n = 0;
    if (r.u16(n, "count") && r.count(n, limits::kMaxNumWant, kMinPeerEntryBytes, "peers")) {
        m.peers.reserve(n);
        for (std::uint16_t i = 0; i < n && r.ok(); ++i) {
            PeerEntry e;
            r.address(e.address, "peer address");
            if (r.u16(e.port, "peer port") && e.port == 0) r.fail("a peer with port 0");
            r.id(e.user, "peer userid");
            std::uint8_t holder = 0;
            if (r.u8(holder, "peer flags") && (holder & ~(kHolderComplete | kHolderBackup)) != 0)
                r.fail(fmt::format("peer flags 0x{:02x}: only 0x01 and 0x02 are known", holder));
            e.complete = (holder & kHolderComplete) != 0;
            e.backup = (holder & kHolderBackup) != 0;
            m.peers.push_back(e);
        }
    }
    return r.finish(Response{std::move(m)});
}

Result<Response> decode_files(ByteSpan p) {
    wire::MessageReader r(p, "Files");
    Files m;
    r.flag(m.more, "more");
    std::uint16_t n = 0;
    if (r.u16(n, "count") && r.count(n, limits::kMaxListFilesPage, kMinFileInfoBytes, "files")) {
        m.files.reserve(n);
        for (std::uint16_t i = 0; i < n && r.ok(); ++i) {
            FileInfo f;
            const std::string field = fmt::format("file {}", i);
            r.id(f.id, field);
            read_name(r, f.name, field + " name");
            r.u64(f.length, field + " length");
            r.u32(f.holders, field + " holders");
            if (r.u32(f.complete_holders, field + " complete holders") &&
                f.complete_holders > f.holders)
                r.fail(fmt::format("{}: {} complete holders of {} holders", field,
                                   f.complete_holders, f.holders));
            if (r.ok() && !m.files.empty() && !(m.files.back().id < f.id))
                r.fail(fmt::format("{}: ids are not in increasing order", field));
            m.files.push_back(std::move(f));
        }
    }
    return r.finish(Response{std::move(m)});
}

Result<Response> decode_seed_text(ByteSpan p) {
    wire::MessageReader r(p, "SeedText");
    SeedText m;
    r.id(m.id, "seed id");
    r.str32(m.text, limits::kMaxSeedBytes, "seed text");
    return r.finish(Response{std::move(m)});
}

Result<Response> decode_error(ByteSpan p) {
    wire::MessageReader r(p, "Error");
    ErrorReply m;
    std::uint16_t code = 0;
    if (r.u16(code, "code") && (code < static_cast<std::uint16_t>(ErrorCode::kVersionMismatch) ||
                                code > static_cast<std::uint16_t>(kLastErrorCode)))
        r.fail(fmt::format("unknown error code {}", code));
    m.code = static_cast<ErrorCode>(code);
    r.str16(m.message, limits::kMaxMessageTextBytes, "message");
    return r.finish(Response{std::move(m)});
}

Result<Response> decode_manifest_text(ByteSpan p) {
    wire::MessageReader r(p, "ManifestText");
    ManifestText m;
    r.id(m.channel, "channel");
    r.str32(m.text, limits::kMaxManifestBytes, "manifest text");
    return r.finish(Response{std::move(m)});
}

Result<Response> decode_channel_peers(ByteSpan p) {
    wire::MessageReader r(p, "ChannelPeers");
    ChannelPeers m;
    r.id(m.channel, "channel");
    std::uint16_t n = 0;
    if (r.u16(n, "count") && r.count(n, limits::kMaxNumWant, kMinChannelPeerBytes, "peers")) {
        m.peers.reserve(n);
        for (std::uint16_t i = 0; i < n && r.ok(); ++i) {
            ChannelPeerEntry e;
            r.address(e.address, "peer address");
            if (r.u16(e.port, "peer port") && e.port == 0) r.fail("a peer with port 0");
            r.id(e.user, "peer userid");
            r.u64(e.version, "peer version");
            m.peers.push_back(e);
        }
    }
    return r.finish(Response{std::move(m)});
}

Result<Response> decode_channels(ByteSpan p) {
    wire::MessageReader r(p, "Channels");
    Channels m;
    r.flag(m.more, "more");
    std::uint16_t n = 0;
    if (r.u16(n, "count") &&
        r.count(n, limits::kMaxListChannelsPage, kMinChannelInfoBytes, "channels")) {
        m.channels.reserve(n);
        for (std::uint16_t i = 0; i < n && r.ok(); ++i) {
            ChannelInfo c;
            const std::string field = fmt::format("channel {}", i);
            r.id(c.channel, field);
            read_channel_name(r, c.name, field + " name");
            r.u64(c.version, field + " version");
            r.u32(c.files, field + " files");
            r.u64(c.size, field + " size");
            r.u32(c.followers, field + " followers");
            if (r.ok() && !m.channels.empty() && !(m.channels.back().channel < c.channel))
                r.fail(fmt::format("{}: ids are not in increasing order", field));
            m.channels.push_back(std::move(c));
        }
    }
    return r.finish(Response{std::move(m)});
}

}  // namespace seedshare::tracker_proto::codec
