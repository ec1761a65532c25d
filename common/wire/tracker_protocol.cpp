// The tracker protocol codec. The byte layout of every message is documented
// in docs/PROTOCOL.md ("Tracker protocol"); keep the two in step.
//
// Decoders read a whole message with a ByteReader (which fails instead of
// reading past the end), check every count against its limit and against the
// bytes actually left before reserving memory, and refuse trailing bytes.
#include "common/wire/tracker_protocol.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

#include "common/core/limits.hpp"
#include "common/model/seed.hpp"
#include "common/wire/frame.hpp"

namespace seedshare::tracker_proto {

namespace {

// Largest file a seed can describe: every chunk at the largest size.
constexpr std::uint64_t kMaxFileLength =
    std::uint64_t{limits::kMaxChunkCount} * limits::kMaxChunkSize;

constexpr std::size_t kIdBytes = SeedId::kSize;
constexpr std::size_t kTokenBytes = Token::kSize;
constexpr std::size_t kUserBytes = UserId::kSize;
// id, name length (u16, name >= 1 byte), length u64, complete u8.
constexpr std::size_t kMinFileEntryBytes = kIdBytes + 2 + 1 + 8 + 1;
constexpr std::size_t kMaxFileEntryBytes = kIdBytes + 2 + limits::kMaxNameBytes + 8 + 1;
// family u8, IPv4 address, port, userid, complete.
constexpr std::size_t kMinPeerEntryBytes = 1 + 4 + 2 + kUserBytes + 1;
constexpr std::size_t kMinFileInfoBytes = kIdBytes + 2 + 1 + 8 + 4 + 4;

constexpr std::uint8_t kFamilyV4 = 4;
constexpr std::uint8_t kFamilyV6 = 6;

// --- writing ----------------------------------------------------------------

template <std::size_t N, class Tag>
void put(ByteWriter& w, const FixedId<N, Tag>& id) {
    w.raw(id.span());
}

void put_bool(ByteWriter& w, bool b) {
    w.u8(b ? 1 : 0);
}

void put_address(ByteWriter& w, const asio::ip::address& a) {
    if (a.is_v6()) {
        w.u8(kFamilyV6);
        const auto b = a.to_v6().to_bytes();
        w.raw(ByteSpan(b.data(), b.size()));
    } else {
        w.u8(kFamilyV4);
        const auto b = a.to_v4().to_bytes();
        w.raw(ByteSpan(b.data(), b.size()));
    }
}

void write_body(ByteWriter& w, const Join& m) {
    w.u32(kMagic);
    w.u16(m.version);
    put(w, m.user);
    put(w, m.token);
    w.u16(m.port);
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

void write_body(ByteWriter& w, const Joined& m) {
    put(w, m.token);
    w.u32(m.heartbeat_ms);
    w.u32(m.ttl_ms);
    put_address(w, m.observed);
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
        put_address(w, p.address);
        w.u16(p.port);
        put(w, p.user);
        put_bool(w, p.complete);
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

template <class M>
constexpr Type type_of();
template <>
constexpr Type type_of<Join>() {
    return Type::kJoin;
}
template <>
constexpr Type type_of<Heartbeat>() {
    return Type::kHeartbeat;
}
template <>
constexpr Type type_of<FileList>() {
    return Type::kFileList;
}
template <>
constexpr Type type_of<PutSeed>() {
    return Type::kPutSeed;
}
template <>
constexpr Type type_of<GetPeers>() {
    return Type::kGetPeers;
}
template <>
constexpr Type type_of<ListFiles>() {
    return Type::kListFiles;
}
template <>
constexpr Type type_of<GetSeed>() {
    return Type::kGetSeed;
}
template <>
constexpr Type type_of<Leave>() {
    return Type::kLeave;
}
template <>
constexpr Type type_of<Joined>() {
    return Type::kJoined;
}
template <>
constexpr Type type_of<OkReply>() {
    return Type::kOk;
}
template <>
constexpr Type type_of<FileListOk>() {
    return Type::kFileListOk;
}
template <>
constexpr Type type_of<Peers>() {
    return Type::kPeers;
}
template <>
constexpr Type type_of<Files>() {
    return Type::kFiles;
}
template <>
constexpr Type type_of<SeedText>() {
    return Type::kSeedText;
}
template <>
constexpr Type type_of<ErrorReply>() {
    return Type::kError;
}

template <class V>
Bytes encode_variant(const V& v) {
    Bytes out;
    std::visit(
        [&](const auto& m) {
            FrameWriter fw(out, static_cast<std::uint8_t>(type_of<std::decay_t<decltype(m)>>()));
            write_body(fw.body(), m);
            fw.finish();
        },
        v);
    return out;
}

// --- reading ----------------------------------------------------------------

// Reads one message, remembering the first problem with its context, so each
// decoder reads straight through and reports once at the end.
class Reader {
  public:
    Reader(ByteSpan payload, std::string_view what) : r_(payload), what_(what) {}

    template <std::size_t N, class Tag>
    bool id(FixedId<N, Tag>& out, std::string_view field) {
        return check(r_.into(out.bytes), field);
    }
    bool u8(std::uint8_t& out, std::string_view field) { return check(r_.u8(out), field); }
    bool u16(std::uint16_t& out, std::string_view field) { return check(r_.u16(out), field); }
    bool u32(std::uint32_t& out, std::string_view field) { return check(r_.u32(out), field); }
    bool u64(std::uint64_t& out, std::string_view field) { return check(r_.u64(out), field); }
    bool flag(bool& out, std::string_view field) {
        std::uint8_t v = 0;
        if (!u8(v, field)) return false;
        if (v > 1) return fail(fmt::format("{} is {} (expected 0 or 1)", field, v));
        out = v == 1;
        return true;
    }
    // A u16/u32 length then text of at most max_len bytes.
    bool str16(std::string& out, std::size_t max_len, std::string_view field) {
        return text(out, max_len, field, 2);
    }
    bool str32(std::string& out, std::size_t max_len, std::string_view field) {
        return text(out, max_len, field, 4);
    }
    bool address(asio::ip::address& out, std::string_view field) {
        std::uint8_t family = 0;
        if (!u8(family, field)) return false;
        if (family == kFamilyV4) {
            asio::ip::address_v4::bytes_type b{};
            if (!check(r_.into(b), field)) return false;
            out = asio::ip::address_v4(b);
            return true;
        }
        if (family == kFamilyV6) {
            asio::ip::address_v6::bytes_type b{};
            if (!check(r_.into(b), field)) return false;
            out = asio::ip::address_v6(b);
            return true;
        }
        return fail(fmt::format("{}: address family {} (expected 4 or 6)", field, family));
    }
    // A count that must be <= limit and leave room for `count` entries of at
    // least min_entry_bytes each: checked before anything is reserved.
    bool count(std::size_t n, std::size_t limit, std::size_t min_entry_bytes,
               std::string_view field) {
        if (!ok()) return false;
        if (n > limit) return fail(fmt::format("{} {} is over the limit of {}", n, field, limit));
        if (n * min_entry_bytes > r_.remaining())
            return fail(
                fmt::format("{} {} do not fit in the {} bytes left", n, field, r_.remaining()));
        return true;
    }

    bool fail(std::string message) {
        if (!error_) error_ = fmt::format("{}: {}", what_, message);
        r_.fail();
        return false;
    }
    bool ok() const { return !error_; }
    // Ok when everything was read without a problem and nothing is left.
    template <class T>
    Result<T> finish(T value) {
        if (!error_ && r_.remaining() != 0)
            error_ =
                fmt::format("{}: {} unexpected bytes after the message", what_, r_.remaining());
        if (error_) return Error{*error_};
        return value;
    }

  private:
    bool check(bool read, std::string_view field) {
        if (read || error_) return read;
        return fail(fmt::format("truncated in {}", field));
    }
    bool text(std::string& out, std::size_t max_len, std::string_view field, int width) {
        if (!ok()) return false;
        std::uint32_t n = 0;
        if (width == 2) {
            std::uint16_t n16 = 0;
            if (!u16(n16, field)) return false;
            n = n16;
        } else if (!u32(n, field)) {
            return false;
        }
        if (n > max_len)
            return fail(fmt::format("{} of {} bytes is over the limit of {}", field, n, max_len));
        ByteSpan s;
        if (!check(r_.raw(n, s), field)) return false;
        out.assign(reinterpret_cast<const char*>(s.data()), s.size());
        return true;
    }

    ByteReader r_;
    std::string_view what_;
    std::optional<std::string> error_;
};

bool read_name(Reader& r, std::string& name, std::string_view field) {
    if (!r.str16(name, limits::kMaxNameBytes, field)) return false;
    if (auto v = validate_file_name(name); !v)
        return r.fail(fmt::format("{}: {}", field, v.error().message));
    return true;
}

// Two entries for one seed id in one message are ambiguous: refused.
bool check_unique(Reader& r, std::vector<SeedId> ids, std::string_view what) {
    std::sort(ids.begin(), ids.end());
    const auto dup = std::adjacent_find(ids.begin(), ids.end());
    if (dup != ids.end())
        return r.fail(fmt::format("seed {} appears twice in {}", dup->hex(), what));
    return true;
}

Result<Request> decode_join(ByteSpan p) {
    Reader r(p, "Join");
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
    if (r.ok() && m.user.is_zero()) r.fail("userid is all zero");
    return r.finish(Request{m});
}

Result<Request> decode_token_only(ByteSpan p, std::string_view what, bool leave) {
    Reader r(p, what);
    Token t;
    r.id(t, "token");
    if (leave) return r.finish(Request{Leave{t}});
    return r.finish(Request{Heartbeat{t}});
}

Result<Request> decode_file_list(ByteSpan p) {
    Reader r(p, "FileList");
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
        check_unique(r, std::move(ids), "the list");
    }
    return r.finish(Request{std::move(m)});
}

Result<Request> decode_put_seed(ByteSpan p) {
    Reader r(p, "PutSeed");
    PutSeed m;
    r.id(m.token, "token");
    r.str32(m.seed_text, limits::kMaxSeedBytes, "seed text");
    return r.finish(Request{std::move(m)});
}

Result<Request> decode_get_peers(ByteSpan p) {
    Reader r(p, "GetPeers");
    GetPeers m;
    r.id(m.token, "token");
    r.id(m.id, "seed id");
    if (r.u16(m.numwant, "numwant") && (m.numwant == 0 || m.numwant > limits::kMaxNumWant))
        r.fail(fmt::format("numwant {} is out of range 1..{}", m.numwant, limits::kMaxNumWant));
    return r.finish(Request{m});
}

Result<Request> decode_list_files(ByteSpan p) {
    Reader r(p, "ListFiles");
    ListFiles m;
    r.id(m.token, "token");
    r.flag(m.from_start, "from_start");
    r.id(m.after, "after");
    if (r.u16(m.limit, "limit") && (m.limit == 0 || m.limit > limits::kMaxListFilesPage))
        r.fail(fmt::format("limit {} is out of range 1..{}", m.limit, limits::kMaxListFilesPage));
    return r.finish(Request{m});
}

Result<Request> decode_get_seed(ByteSpan p) {
    Reader r(p, "GetSeed");
    GetSeed m;
    r.id(m.token, "token");
    r.id(m.id, "seed id");
    return r.finish(Request{m});
}

Result<Response> decode_joined(ByteSpan p) {
    Reader r(p, "Joined");
    Joined m;
    r.id(m.token, "token");
    r.u32(m.heartbeat_ms, "heartbeat_ms");
    r.u32(m.ttl_ms, "ttl_ms");
    r.address(m.observed, "observed address");
    if (r.ok() && (m.heartbeat_ms == 0 || m.ttl_ms == 0 || m.heartbeat_ms > m.ttl_ms))
        r.fail(fmt::format("heartbeat {} ms and ttl {} ms: expected 0 < heartbeat <= ttl",
                           m.heartbeat_ms, m.ttl_ms));
    return r.finish(Response{m});
}

Result<Response> decode_file_list_ok(ByteSpan p) {
    Reader r(p, "FileListOk");
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
    Reader r(p, "Peers");
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
            r.flag(e.complete, "peer complete");
            m.peers.push_back(e);
        }
    }
    return r.finish(Response{std::move(m)});
}

Result<Response> decode_files(ByteSpan p) {
    Reader r(p, "Files");
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
    Reader r(p, "SeedText");
    SeedText m;
    r.id(m.id, "seed id");
    r.str32(m.text, limits::kMaxSeedBytes, "seed text");
    return r.finish(Response{std::move(m)});
}

Result<Response> decode_error(ByteSpan p) {
    Reader r(p, "Error");
    ErrorReply m;
    std::uint16_t code = 0;
    if (r.u16(code, "code") && (code < static_cast<std::uint16_t>(ErrorCode::kVersionMismatch) ||
                                code > static_cast<std::uint16_t>(ErrorCode::kInternal)))
        r.fail(fmt::format("unknown error code {}", code));
    m.code = static_cast<ErrorCode>(code);
    r.str16(m.message, limits::kMaxMessageTextBytes, "message");
    return r.finish(Response{std::move(m)});
}

}  // namespace

Bytes encode(const Request& r) {
    return encode_variant(r);
}
Bytes encode(const Response& r) {
    return encode_variant(r);
}

Result<Request> decode_request(std::uint8_t type, ByteSpan payload) {
    switch (static_cast<Type>(type)) {
        case Type::kJoin:
            return decode_join(payload);
        case Type::kHeartbeat:
            return decode_token_only(payload, "Heartbeat", false);
        case Type::kFileList:
            return decode_file_list(payload);
        case Type::kPutSeed:
            return decode_put_seed(payload);
        case Type::kGetPeers:
            return decode_get_peers(payload);
        case Type::kListFiles:
            return decode_list_files(payload);
        case Type::kGetSeed:
            return decode_get_seed(payload);
        case Type::kLeave:
            return decode_token_only(payload, "Leave", true);
        default:
            return Error{fmt::format("unknown request type {}", type_name(type))};
    }
}

Result<Response> decode_response(std::uint8_t type, ByteSpan payload) {
    switch (static_cast<Type>(type)) {
        case Type::kJoined:
            return decode_joined(payload);
        case Type::kOk:
            return Reader(payload, "Ok").finish(Response{OkReply{}});
        case Type::kFileListOk:
            return decode_file_list_ok(payload);
        case Type::kPeers:
            return decode_peers(payload);
        case Type::kFiles:
            return decode_files(payload);
        case Type::kSeedText:
            return decode_seed_text(payload);
        case Type::kError:
            return decode_error(payload);
        default:
            return Error{fmt::format("unknown response type {}", type_name(type))};
    }
}

std::size_t max_request_payload(std::uint8_t type) {
    switch (static_cast<Type>(type)) {
        // Room for a longer Join from a newer version, so it can be told apart.
        case Type::kJoin:
            return 256;
        case Type::kHeartbeat:
        case Type::kLeave:
            return kTokenBytes;
        case Type::kFileList:
            return kTokenBytes + 1 + 4 + 4 + limits::kMaxFileListEntries * kMaxFileEntryBytes;
        case Type::kPutSeed:
            return kTokenBytes + 4 + limits::kMaxSeedBytes;
        case Type::kGetPeers:
            return kTokenBytes + kIdBytes + 2;
        case Type::kListFiles:
            return kTokenBytes + 1 + kIdBytes + 2;
        case Type::kGetSeed:
            return kTokenBytes + kIdBytes;
        default:
            return 0;
    }
}

std::string type_name(std::uint8_t type) {
    switch (static_cast<Type>(type)) {
        case Type::kJoin:
            return "Join";
        case Type::kHeartbeat:
            return "Heartbeat";
        case Type::kFileList:
            return "FileList";
        case Type::kPutSeed:
            return "PutSeed";
        case Type::kGetPeers:
            return "GetPeers";
        case Type::kListFiles:
            return "ListFiles";
        case Type::kGetSeed:
            return "GetSeed";
        case Type::kLeave:
            return "Leave";
        case Type::kJoined:
            return "Joined";
        case Type::kOk:
            return "Ok";
        case Type::kFileListOk:
            return "FileListOk";
        case Type::kPeers:
            return "Peers";
        case Type::kFiles:
            return "Files";
        case Type::kSeedText:
            return "SeedText";
        case Type::kError:
            return "Error";
    }
    return fmt::format("0x{:02x}", type);
}

bool ends_connection(ErrorCode code) {
    switch (code) {
        case ErrorCode::kVersionMismatch:
        case ErrorCode::kMalformed:
        case ErrorCode::kJoinFirst:
        case ErrorCode::kBadToken:
        case ErrorCode::kUserIdInUse:
        case ErrorCode::kUnknownPeer:
            return true;
        case ErrorCode::kUnknownSeed:
        case ErrorCode::kSeedMismatch:
        case ErrorCode::kLimit:
        case ErrorCode::kInternal:
            return false;
    }
    return true;
}

std::string_view error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::kVersionMismatch:
            return "VersionMismatch";
        case ErrorCode::kMalformed:
            return "Malformed";
        case ErrorCode::kJoinFirst:
            return "JoinFirst";
        case ErrorCode::kBadToken:
            return "BadToken";
        case ErrorCode::kUserIdInUse:
            return "UserIdInUse";
        case ErrorCode::kUnknownPeer:
            return "UnknownPeer";
        case ErrorCode::kUnknownSeed:
            return "UnknownSeed";
        case ErrorCode::kSeedMismatch:
            return "SeedMismatch";
        case ErrorCode::kLimit:
            return "Limit";
        case ErrorCode::kInternal:
            return "Internal";
    }
    return "Unknown";
}

}  // namespace seedshare::tracker_proto
