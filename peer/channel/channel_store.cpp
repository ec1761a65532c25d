#include "peer/channel/channel_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string_view>

#include "common/core/limits.hpp"
#include "common/core/numbers.hpp"
#include "peer/channel/heard_file.hpp"
#include "peer/channel/local_view.hpp"

namespace seedshare {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStateMagic = "seedshare-channel-state 1";
constexpr std::string_view kJournalMagic = "seedshare-channel-journal 1";

StoreError io_error(const IoError& e) {
    if (e.code == EFBIG)
        return {StoreError::Kind::kTooLarge,
                fmt::format("{} (a channel state file is at most {} bytes)", e.text(),
                            limits::kMaxChannelStateBytes)};
    return {StoreError::Kind::kIo, e.text()};
}

// Reads a text line by line, each line ended by '\n', remembering where it is.
class Lines {
  public:
    explicit Lines(std::string_view text) : text_(text) {}
    bool done() const { return at_ == text_.size(); }
    std::size_t number() const { return line_; }
    // The next whole line (without its '\n'); nullopt at the end or when the
    // rest has no '\n' (`torn()` then says so).
    std::optional<std::string_view> next() {
        if (done()) return std::nullopt;
        const auto end = text_.find('\n', at_);
        if (end == std::string_view::npos) {
            torn_ = true;
            return std::nullopt;
        }
        const auto line = text_.substr(at_, end - at_);
        at_ = end + 1;
        ++line_;
        return line;
    }
    // The next `n` bytes then a '\n' (a length-prefixed blob).
    std::optional<std::string_view> blob(std::size_t n) {
        if (n >= text_.size() - at_ || text_[at_ + n] != '\n') return std::nullopt;
        const auto b = text_.substr(at_, n);
        at_ += n + 1;
        line_ += static_cast<std::size_t>(std::count(b.begin(), b.end(), '\n')) + 1;
        return b;
    }
    bool torn() const { return torn_; }
    std::size_t offset() const { return at_; }

  private:
    std::string_view text_;
    std::size_t at_ = 0;
    std::size_t line_ = 0;
    bool torn_ = false;
};

std::optional<std::string_view> after(std::string_view line, std::string_view key) {
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ')
        return std::nullopt;
    return line.substr(key.size() + 1);
}

std::optional<std::int64_t> parse_i64(std::string_view t) {
    const bool negative = !t.empty() && t[0] == '-';
    const auto v = parse_u64(negative ? t.substr(1) : t);
    if (!v || (negative && *v == 0)) return std::nullopt;
    if (*v > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return negative ? -static_cast<std::int64_t>(*v) : static_cast<std::int64_t>(*v);
}

// "<seed id> <size> <mtime ns> <dev> <ino> <path>": the file, its seed id.
struct FileLine {
    SeedId seed;
    std::string path;
    FileStamp stamp;
};

std::string format_file_line(const SeedId& id, const FileStamp& s, std::string_view path) {
    return fmt::format("{} {} {} {} {} {}\n", id.hex(), s.size, s.mtime_ns, s.dev, s.ino, path);
}

std::optional<FileLine> parse_file_line(std::string_view line) {
    std::string_view fields[5];
    for (auto& f : fields) {
        const auto space = line.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        f = line.substr(0, space);
        line.remove_prefix(space + 1);
    }
    const auto id = SeedId::from_hex_string(fields[0]);
    const auto size = parse_u64(fields[1]);
    const auto mtime = parse_i64(fields[2]);
    const auto dev = parse_u64(fields[3]);
    const auto ino = parse_u64(fields[4]);
    if (!id || !size || !mtime || !dev || !ino || !check_relative_path(line, "path").ok())
        return std::nullopt;
    return FileLine{*id, std::string(line), FileStamp{*size, *mtime, *dev, *ino}};
}

// STATE/heard: peer/channel/heard_file.hpp.
constexpr std::string_view kHeardKey = "seedshare-channel-heard 1";

// A path that can be written on one line of a state file.
bool recordable(std::string_view path) {
    return check_relative_path(path, "path").ok() &&
           std::none_of(path.begin(), path.end(), [](char c) { return c == '\n' || c == '\r'; });
}

}  // namespace

std::variant<ChannelStore, StoreError> ChannelStore::open(fs::path dir, Env& env) {
    const fs::path state = dir / kStateDirName;
    for (const fs::path& d : {state, state / "tmp", state / "seeds"})
        if (auto made = env.create_directories(d); !made) return io_error(made.error());
    auto lock = env.lock(state / "lock");
    if (!lock) {
        const int code = lock.error().code;
        if (code == EWOULDBLOCK || code == EAGAIN)
            return StoreError{StoreError::Kind::kBusy,
                              fmt::format("{} is in use by another seedshare process (or another "
                                          "command of this one); one at a time",
                                          dir.string())};
        return io_error(lock.error());
    }
    ChannelStore store(std::move(dir), env, std::move(lock).value());
    if (auto failed = store.load()) return *failed;
    return store;
}

std::variant<ChannelStore::View, StoreError> ChannelStore::inspect(const fs::path& dir, Env& env) {
    if (auto st = env.stat(dir / kStateDirName); !st) {
        if (st.error().code == ENOENT) return View{};
        return io_error(st.error());
    }
    ChannelStore store(dir, env, FileLock{});
    if (auto failed = store.load()) return *failed;
    View view{store.channel_, store.manifest_, store.recorded_, std::nullopt};
    const fs::path heard = store.state_dir() / "heard";
    auto text = env.read_file(heard, kMaxHeardBytes);
    if (!text) {
        if (text.error().code != ENOENT) return io_error(text.error());
        return view;
    }
    view.last_heard = parse_heard(*text);
    if (!view.last_heard)
        return StoreError{StoreError::Kind::kCorrupt,
                          fmt::format("{}: not \"{} <unix seconds>\"", heard.string(), kHeardKey)};
    return view;
}

std::variant<std::optional<Seed>, StoreError> ChannelStore::inspect_seed(const fs::path& dir,
                                                                         const SeedId& id,
                                                                         Env& env) {
    ChannelStore store(dir, env, FileLock{});
    return store.seed(id);
}

IoStatus ChannelStore::set_last_heard(std::int64_t unix_seconds) {
    return env_->write_file_atomically(state_dir() / "heard", format_heard(unix_seconds));
}

fs::path ChannelStore::seed_path(const SeedId& id) const {
    return state_dir() / "seeds" / (id.hex() + ".seed");
}

std::optional<StoreError> ChannelStore::load() {
    const fs::path path = state_dir() / "state";
    auto text = env_->read_file(path, limits::kMaxChannelStateBytes);
    if (!text) {
        if (text.error().code == ENOENT) return load_journal();  // a new channel directory
        return io_error(text.error());
    }
    Lines lines(*text);
    auto corrupt = [&](std::string_view what) {
        return StoreError{StoreError::Kind::kCorrupt,
                          fmt::format("{}: line {}: {}", path.string(), lines.number(), what)};
    };
    if (lines.next() != kStateMagic) return corrupt("not a seedshare channel state (version 1)");
    const auto channel_line = lines.next();
    const auto channel = channel_line ? after(*channel_line, "channel") : std::nullopt;
    if (!channel) return corrupt("expected 'channel <id>'");
    if (*channel != "-") {
        channel_ = ChannelId::from_hex_string(*channel);
        if (!channel_ || channel->size() != 2 * ChannelId::kSize)
            return corrupt("the channel id is not 64 hex digits");
    }
    const auto generation_line = lines.next();
    const auto generation = generation_line ? after(*generation_line, "generation") : std::nullopt;
    const auto g = generation ? parse_u64(*generation) : std::nullopt;
    if (!g) return corrupt("expected 'generation <number>'");
    generation_ = *g;
    const auto manifest_line = lines.next();
    const auto manifest = manifest_line ? after(*manifest_line, "manifest") : std::nullopt;
    if (!manifest) return corrupt("expected 'manifest <bytes>'");
    if (*manifest != "-") {
        const auto bytes = parse_u64(*manifest);
        if (!bytes) return corrupt("the manifest's length is not a number");
        const auto blob = lines.blob(*bytes);
        if (!blob) return corrupt("the manifest is cut short");
        manifest_ = std::string(*blob);
    }
    const auto files_line = lines.next();
    const auto files = files_line ? after(*files_line, "files") : std::nullopt;
    const auto count = files ? parse_u64(*files) : std::nullopt;
    if (!count) return corrupt("expected 'files <count>'");
    std::map<SeedId, Seed> seeds;
    std::vector<FileLine> listed;
    std::set<std::string> paths;
    for (std::uint64_t i = 0; i < *count; ++i) {
        const auto line = lines.next();
        if (!line) return corrupt(fmt::format("{} of {} files listed", i, *count));
        auto f = parse_file_line(*line);
        if (!f) return corrupt("expected '<seed id> <size> <mtime> <dev> <ino> <path>'");
        if (!paths.insert(f->path).second)
            return corrupt(fmt::format("'{}' is listed twice", f->path));
        listed.push_back(std::move(*f));
    }
    if (!lines.done()) return corrupt("more than the files counted");
    for (auto& f : listed) {
        auto known = seeds.find(f.seed);
        if (known == seeds.end()) {
            auto s = seed(f.seed);
            if (auto* e = std::get_if<StoreError>(&s)) return *e;
            auto& found = std::get<std::optional<Seed>>(s);
            if (!found)
                return StoreError{StoreError::Kind::kCorrupt,
                                  fmt::format("{}: the seed of '{}' is missing",
                                              seed_path(f.seed).string(), f.path)};
            known = seeds.emplace(f.seed, std::move(*found)).first;
            stored_seeds_.insert(f.seed);
        }
        put_recorded(RecordedFile{std::move(f.path), known->second, f.stamp});
    }
    return load_journal();
}

std::optional<StoreError> ChannelStore::load_journal() {
    const fs::path path = state_dir() / "journal";
    auto text = env_->read_file(path, limits::kMaxChannelStateBytes);
    if (!text) {
        if (text.error().code == ENOENT) return std::nullopt;
        return io_error(text.error());
    }
    Lines lines(*text);
    auto corrupt = [&](std::string_view what) {
        return StoreError{StoreError::Kind::kCorrupt,
                          fmt::format("{}: line {}: {}", path.string(), lines.number(), what)};
    };
    const auto header = lines.next();
    const auto generation = header ? after(*header, kJournalMagic) : std::nullopt;
    if (!generation) {
        if (lines.torn()) return std::nullopt;  // cut while it was being made: nothing in it
        return corrupt("not a seedshare channel journal (version 1)");
    }
    const auto g = parse_u64(*generation);
    if (!g) return corrupt("the generation is not a number");
    if (*g != generation_) return std::nullopt;  // extends an older state: obsolete
    while (const auto line = lines.next()) {
        if (const auto installed = after(*line, "+")) {
            auto f = parse_file_line(*installed);
            if (!f) return corrupt("expected '+ <seed id> <size> <mtime> <dev> <ino> <path>'");
            auto s = seed(f->seed);
            if (auto* e = std::get_if<StoreError>(&s)) return *e;
            auto& found = std::get<std::optional<Seed>>(s);
            if (!found)
                return StoreError{StoreError::Kind::kCorrupt,
                                  fmt::format("{}: the seed of '{}' is missing",
                                              seed_path(f->seed).string(), f->path)};
            stored_seeds_.insert(f->seed);
            put_recorded(RecordedFile{std::move(f->path), std::move(*found), f->stamp});
        } else if (const auto deleted = after(*line, "-")) {
            if (!recordable(*deleted)) return corrupt("expected '- <path>'");
            drop_recorded(std::string(*deleted));
        } else {
            return corrupt("expected '+ ...' or '- <path>'");
        }
    }
    journal_open_ = true;
    journal_bytes_ = lines.offset();
    if (lines.torn()) {
        // The crash cut the last line: keep what came before, so that the
        // next line appended starts on a line of its own.
        const std::string whole = text->substr(0, lines.offset());
        if (auto kept = env_->write_file_atomically(path, whole); !kept)
            return io_error(kept.error());
    }
    return std::nullopt;
}

std::string ChannelStore::state_text() const {
    std::string out = fmt::format("{}\nchannel {}\ngeneration {}\n", kStateMagic,
                                  channel_ ? channel_->hex() : "-", generation_);
    if (manifest_)
        out += fmt::format("manifest {}\n{}\n", manifest_->size(), *manifest_);
    else
        out += "manifest -\n";
    out += fmt::format("files {}\n", recorded_.size());
    for (const auto& r : recorded_)
        out += format_file_line(r.seed.id(), r.stamp, r.path);
    return out;
}

IoStatus ChannelStore::write_state() {
    const fs::path path = state_dir() / "state";
    const std::string text = state_text();
    // Never write what open() would refuse to read.
    if (text.size() > limits::kMaxChannelStateBytes)
        return IoError{EFBIG, "write", path, text.size()};
    return env_->write_file_atomically(path, text);
}

// The journal folded into STATE/state (same manifest, the files as recorded
// now, the next generation): the journal is then obsolete. For a journal
// that grew to its limit, or whose last append failed halfway.
IoStatus ChannelStore::compact() {
    ++generation_;
    if (auto written = write_state(); !written) {
        --generation_;
        return written;
    }
    journal_open_ = false;
    journal_broken_ = false;
    (void)env_->remove(state_dir() / "journal");
    return Ok{};
}

IoStatus ChannelStore::set_channel(const ChannelId& id) {
    const auto before = channel_;
    channel_ = id;
    auto written = write_state();
    if (!written) channel_ = before;
    return written;
}

IoStatus ChannelStore::store_seed_once(const Seed& s) {
    const SeedId id = s.id();
    if (stored_seeds_.contains(id)) return Ok{};
    if (auto put = put_seed(s); !put) return put;
    return Ok{};
}

IoStatus ChannelStore::append_journal(const std::string& line) {
    const fs::path path = state_dir() / "journal";
    if (journal_open_ &&
        (journal_broken_ || journal_bytes_ + line.size() > limits::kMaxChannelStateBytes))
        if (auto compacted = compact(); !compacted) return compacted;
    if (!journal_open_) {
        // A fresh journal for this generation (over any obsolete one).
        const std::string text = fmt::format("{} {}\n{}", kJournalMagic, generation_, line);
        auto made = env_->write_file_atomically(path, text);
        if (made) {
            journal_open_ = true;
            journal_bytes_ = text.size();
        }
        return made;
    }
    auto fd = env_->open(path, O_WRONLY | O_APPEND);
    if (!fd) return fd.error();
    // Appending to one open file is like its pwrite: not an Env call.
    std::size_t done = 0;
    // A failure may leave part of the line: the next append compacts first.
    journal_broken_ = true;
    while (done < line.size()) {
        const ssize_t n = ::write(fd->get(), line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return IoError{errno, "write", path, 0};
        done += static_cast<std::size_t>(n);
    }
    if (::fdatasync(fd->get()) != 0) return IoError{errno, "fsync", path, 0};
    journal_broken_ = false;
    journal_bytes_ += line.size();
    return Ok{};
}

void ChannelStore::put_recorded(RecordedFile file) {
    const auto [it, fresh] = recorded_at_.emplace(file.path, recorded_.size());
    if (fresh)
        recorded_.push_back(std::move(file));
    else
        recorded_[it->second] = std::move(file);
}

void ChannelStore::drop_recorded(const std::string& path) {
    const auto it = recorded_at_.find(path);
    if (it == recorded_at_.end()) return;
    const std::size_t at = it->second;
    recorded_at_.erase(it);
    if (at + 1 != recorded_.size()) {
        recorded_[at] = std::move(recorded_.back());
        recorded_at_[recorded_[at].path] = at;
    }
    recorded_.pop_back();
}

void ChannelStore::index_recorded() {
    recorded_at_.clear();
    for (std::size_t i = 0; i < recorded_.size(); ++i)
        recorded_at_[recorded_[i].path] = i;
}

IoStatus ChannelStore::record_installed(const RecordedFile& file) {
    if (!recordable(file.path)) return IoError{EINVAL, "record", file.path, 0};
    if (auto stored = store_seed_once(file.seed); !stored) return stored;
    if (auto appended =
            append_journal("+ " + format_file_line(file.seed.id(), file.stamp, file.path));
        !appended)
        return appended;
    put_recorded(file);
    return Ok{};
}

IoStatus ChannelStore::forget(const std::string& path) {
    if (!recordable(path)) return IoError{EINVAL, "forget", path, 0};
    if (!recorded_at_.contains(path)) return Ok{};
    if (auto appended = append_journal(fmt::format("- {}\n", path)); !appended) return appended;
    drop_recorded(path);
    return Ok{};
}

IoStatus ChannelStore::set_applied(std::string manifest_text, std::vector<RecordedFile> files) {
    for (const auto& f : files) {
        if (!recordable(f.path)) return IoError{EINVAL, "record", f.path, 0};
        if (auto stored = store_seed_once(f.seed); !stored) return stored;
    }
    std::optional<std::string> manifest(std::move(manifest_text));
    std::swap(manifest, manifest_);
    std::swap(files, recorded_);
    index_recorded();
    ++generation_;
    auto written = write_state();
    if (!written) {
        --generation_;
        std::swap(manifest, manifest_);
        std::swap(files, recorded_);
        index_recorded();
        return written;
    }
    // Obsolete now (it names the previous generation): removed, or ignored.
    journal_open_ = false;
    (void)env_->remove(state_dir() / "journal");
    return Ok{};
}

std::variant<std::optional<Seed>, StoreError> ChannelStore::seed(const SeedId& id) const {
    const fs::path path = seed_path(id);
    auto text = env_->read_file(path, limits::kMaxSeedBytes);
    if (!text) {
        if (text.error().code == ENOENT) return std::optional<Seed>();
        if (text.error().code == EFBIG)
            return StoreError{StoreError::Kind::kTooLarge,
                              fmt::format("{} (a seed is at most {} bytes)", text.error().text(),
                                          limits::kMaxSeedBytes)};
        return io_error(text.error());
    }
    auto parsed = parse_seed(*text);
    if (!parsed)
        return StoreError{StoreError::Kind::kCorrupt,
                          fmt::format("{}: {}", path.string(), parsed.error().message)};
    if (parsed->id() != id)
        return StoreError{StoreError::Kind::kCorrupt,
                          fmt::format("{}: not the seed of id {}", path.string(), id.hex())};
    return std::optional<Seed>(std::move(parsed).value());
}

IoStatus ChannelStore::put_seed(const Seed& s) {
    const SeedId id = s.id();
    if (auto written = env_->write_file_atomically(seed_path(id), format_seed(s)); !written)
        return written;
    stored_seeds_.insert(id);
    return Ok{};
}

}  // namespace seedshare
