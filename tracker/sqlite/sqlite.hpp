// A small RAII layer over the SQLite C API, for the tracker's store.
//
// Ownership: a Db owns one connection and closes it on destruction; a
// Statement owns one prepared statement and finalizes it; both are move-only
// and a Statement must be destroyed before the Db it came from.
// Statements are prepared once and reused: a Use of one binds, steps and
// resets on scope exit, so a statement is ready again even after a throw.
//
// Errors: the database failing (I/O error, disk full, locked, corrupt) throws
// DbError; these are rare and end one request, not the tracker.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/core/bytes.hpp"
#include "common/core/result.hpp"
#include "tracker/core/registry_types.hpp"

namespace seedshare::sqlite {

// A RegistryFailure, so the handler can answer it without knowing SQLite.
struct DbError : tracker::RegistryFailure {
    DbError(int code, const std::string& message) : tracker::RegistryFailure(message), code(code) {}
    int code;  // the SQLite (extended) result code
};

class Statement {
  public:
    Statement() = default;
    Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    Statement(Statement&&) noexcept = default;
    Statement& operator=(Statement&&) noexcept = default;

    // Binding borrows the caller's bytes until the statement is reset: the
    // caller keeps them alive for the duration of one Use.
    Statement& bind(int i, std::int64_t v);
    Statement& bind(int i, std::string_view text);
    Statement& bind_blob(int i, ByteSpan blob);
    Statement& bind_null(int i);

    // Steps once: true when a row is ready, false when done.
    bool step();
    // Steps to the end, for statements that return no rows.
    void run();
    // Resets and clears the bindings (never throws).
    void reset() noexcept;

    std::int64_t int64(int col) const;
    bool is_null(int col) const;
    std::string text(int col) const;
    // Valid until the next step or reset.
    ByteSpan blob(int col) const;

    sqlite3_stmt* get() const { return stmt_.get(); }

  private:
    struct Finalize {
        void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
    };
    sqlite3* db_ = nullptr;
    std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

// One use of a prepared statement: resets it when the scope ends.
class Use {
  public:
    explicit Use(Statement& s) : s_(s) {}
    ~Use() { s_.reset(); }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    Statement* operator->() { return &s_; }

  private:
    Statement& s_;
};

class Db {
  public:
    // Opens (creating if needed) a database file, or ":memory:".
    static Result<Db> open(const std::string& path);

    Db(Db&&) noexcept = default;
    Db& operator=(Db&&) noexcept = default;

    void exec(const char* sql);
    Statement prepare(std::string_view sql);
    // A single integer from a query such as "PRAGMA user_version".
    std::int64_t query_int(const char* sql);
    std::string query_text(const char* sql);

    int changes() const { return sqlite3_changes(db_.get()); }
    bool in_transaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }
    sqlite3* get() const { return db_.get(); }

  private:
    struct Close {
        void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
    };
    explicit Db(sqlite3* db) : db_(db) {}
    std::unique_ptr<sqlite3, Close> db_;
};

// A savepoint: nests inside an open transaction, or starts one. Rolls back
// everything done since it began unless commit() was called.
class Savepoint {
  public:
    Savepoint(Db& db, const char* name);
    ~Savepoint();
    Savepoint(const Savepoint&) = delete;
    Savepoint& operator=(const Savepoint&) = delete;
    void commit();

  private:
    Db& db_;
    std::string name_;
    bool done_ = false;
};

// Throws DbError for a result code other than SQLITE_OK.
void check(sqlite3* db, int rc, std::string_view what);

}  // namespace seedshare::sqlite
