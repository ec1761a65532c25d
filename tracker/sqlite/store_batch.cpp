// The Store's write batch: changes collect in one open transaction,
// committed by flush() (every commit_interval, or early at kMaxBatchWrites
// changes) and at close(); heartbeats reach the users table here, a step at
// a time (write_last_seen).
#include "common/core/limits.hpp"
#include "tracker/sqlite/store.hpp"
#include "tracker/sqlite/store_statements.hpp"

namespace seedshare::tracker {

using sqlite::Use;
using namespace store_detail;

namespace {
// A batch commits early when it holds this many changes, bounding the WAL.
constexpr std::size_t kMaxBatchWrites = 20000;
}  // namespace

void Store::begin_write() {
    if (!db_.in_transaction()) Use(st_->begin)->run();
}

void Store::note_write() {
    if (++pending_writes_ >= kMaxBatchWrites) flush();
}

void Store::write_last_seen(bool all) {
    auto write = [&](const UserId& id, User& u) {
        begin_write();
        u.dirty = false;
        u.queued = false;
        u.stored_last_seen = u.last_seen;
        Use(st_->user_seen)->bind(1, u.last_seen).bind_blob(2, id.span()).run();
        ++last_seen_writes_;
    };
    if (all) {  // (at close: every heartbeat's value, however recent)
        for (auto& [id, u] : users_)
            if (u.dirty) write(id, u);
    } else {
        for (const auto& id : dirty_) {
            const auto it = users_.find(id);
            // (left or swept meanwhile, or written and queued again)
            if (it != users_.end() && it->second.queued) write(id, it->second);
        }
    }
    dirty_.clear();
}

void Store::flush() {
    pending_writes_ = 0;
    write_last_seen(false);
    commit();
}

void Store::close() {
    write_last_seen(true);
    commit();
}

void Store::commit() {
    if (!db_.in_transaction()) return;
    try {
        Use(st_->commit)->run();
    } catch (const sqlite::DbError&) {
        if (db_.in_transaction()) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

bool Store::has_pending() const {
    return db_.in_transaction();
}

}  // namespace seedshare::tracker
