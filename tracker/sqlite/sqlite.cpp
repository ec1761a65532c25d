#include "tracker/sqlite/sqlite.hpp"

#include <fmt/format.h>

namespace seedshare::sqlite {

void check(sqlite3* db, int rc, std::string_view what) {
    if (rc == SQLITE_OK) return;
    const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    throw DbError(rc, fmt::format("{}: {}", what, msg));
}

Statement& Statement::bind(int i, std::int64_t v) {
    check(db_, sqlite3_bind_int64(stmt_.get(), i, v), "bind");
    return *this;
}

Statement& Statement::bind(int i, std::string_view text) {
    check(db_,
          sqlite3_bind_text64(stmt_.get(), i, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8),
          "bind");
    return *this;
}

Statement& Statement::bind_blob(int i, ByteSpan blob) {
    // A zero-length blob must still bind as a blob, not NULL.
    static const std::uint8_t kEmpty = 0;
    const void* data = blob.empty() ? &kEmpty : blob.data();
    check(db_, sqlite3_bind_blob64(stmt_.get(), i, data, blob.size(), SQLITE_STATIC), "bind");
    return *this;
}

Statement& Statement::bind_null(int i) {
    check(db_, sqlite3_bind_null(stmt_.get(), i), "bind");
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw DbError(rc, fmt::format("{}: {}", sqlite3_errmsg(db_), sqlite3_sql(stmt_.get())));
}

void Statement::run() {
    while (step()) {
    }
}

void Statement::reset() noexcept {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Statement::int64(int col) const {
    return sqlite3_column_int64(stmt_.get(), col);
}

bool Statement::is_null(int col) const {
    return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL;
}

std::string Statement::text(int col) const {
    const auto* p = sqlite3_column_text(stmt_.get(), col);
    const int n = sqlite3_column_bytes(stmt_.get(), col);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

ByteSpan Statement::blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_.get(), col);
    const int n = sqlite3_column_bytes(stmt_.get(), col);
    if (p == nullptr) return {};
    return ByteSpan(static_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n));
}

Result<Db> Db::open(const std::string& path) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(
        path.c_str(), &raw,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
        nullptr);
    Db db(raw);  // closes even on failure
    if (rc != SQLITE_OK) return Error{raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)};
    return db;
}

void Db::exec(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw DbError(rc, msg);
    }
}

Statement Db::prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    check(db_.get(),
          sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                             SQLITE_PREPARE_PERSISTENT, &stmt, nullptr),
          fmt::format("prepare '{}'", sql));
    return Statement(db_.get(), stmt);
}

std::int64_t Db::query_int(const char* sql) {
    Statement s = prepare(sql);
    return s.step() ? s.int64(0) : 0;
}

std::string Db::query_text(const char* sql) {
    Statement s = prepare(sql);
    return s.step() ? s.text(0) : std::string();
}

Savepoint::Savepoint(Db& db, const char* name) : db_(db), name_(name) {
    db_.exec(fmt::format("SAVEPOINT {}", name_).c_str());
}

void Savepoint::commit() {
    db_.exec(fmt::format("RELEASE {}", name_).c_str());
    done_ = true;
}

Savepoint::~Savepoint() {
    if (done_) return;
    // If SQLite already rolled the whole transaction back (disk full, I/O
    // error), the savepoint is gone and these fail: nothing is left to undo.
    const std::string sql = fmt::format("ROLLBACK TO {0}; RELEASE {0}", name_);
    sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr);
}

}  // namespace seedshare::sqlite
