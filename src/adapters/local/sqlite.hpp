#pragma once
// A small RAII wrapper over the SQLite C API: a connection (Db) with a cache of prepared
// statements, a Statement with bind/step/column helpers and a Transaction guard. Every SQLite
// error return is checked and turned into an imgup::Error: kUnavailable for the transient kinds
// (SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL), kInternal for everything else.
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace imgup::sqlite {

/// The imgup::Error for SQLite result code `rc` (primary or extended) while doing `what`.
/// `db` (may be null) supplies the connection's error message for Error::detail.
Error MakeError(int rc, std::string_view what, sqlite3* db);

/// One prepared statement. Parameters are 1-based, columns 0-based (as in SQLite).
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Result<void> BindText(int index, std::string_view text);
  Result<void> BindBlob(int index, std::string_view bytes);
  Result<void> BindInt64(int index, std::int64_t value);
  Result<void> BindNull(int index);
  /// Any integer type; values that do not fit in int64 are rejected (kInvalidArgument).
  template <std::integral T>
  Result<void> Bind(int index, T value) {
    if constexpr (std::is_unsigned_v<T>) {
      if (static_cast<std::uint64_t>(value) >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return Fail(ErrorCode::kInvalidArgument, "value_out_of_range",
                    "A number is too large to store.");
      }
    }
    return BindInt64(index, static_cast<std::int64_t>(value));
  }
  Result<void> Bind(int index, std::string_view text) { return BindText(index, text); }
  Result<void> Bind(int index, const char* text) { return BindText(index, text); }
  Result<void> Bind(int index, const std::string& text) { return BindText(index, text); }

  /// Binds `values` to parameters 1, 2, ... in order.
  template <class... Args>
  Result<void> BindAll(const Args&... values) {
    int index = 0;
    Result<void> result;
    // Stops at the first failure: later binds are skipped once `result` holds an error.
    ((result = result ? Bind(++index, values) : result), ...);
    return result;
  }

  /// Advances: true when a row is available, false when the statement is done.
  Result<bool> Step();
  /// Steps a statement that returns no rows to completion.
  Result<void> Run();
  /// Resets the statement so that it can run again and clears its bindings. Never fails: the
  /// error of the last step, if any, was already reported by Step().
  void Reset();

  bool IsNull(int column) const;
  std::int64_t ColumnInt64(int column) const;
  /// Text (or blob) bytes of the column; "" for NULL.
  std::string ColumnText(int column) const;
  /// The same bytes without a copy; valid until the next Step, Reset or column call.
  std::string_view ColumnView(int column) const;

  sqlite3_stmt* handle() const { return stmt_; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

/// A statement borrowed from a Db's cache. Reset (and its bindings cleared) when the lease
/// ends, so that no read transaction stays open behind a half-stepped statement.
class StatementLease {
 public:
  StatementLease(Statement* stmt, bool* busy, std::unique_ptr<Statement> owned)
      : stmt_(stmt), busy_(busy), owned_(std::move(owned)) {}
  StatementLease(StatementLease&& other) noexcept;
  StatementLease& operator=(StatementLease&&) = delete;
  StatementLease(const StatementLease&) = delete;
  StatementLease& operator=(const StatementLease&) = delete;
  ~StatementLease();

  Statement* operator->() const { return stmt_; }
  Statement& operator*() const { return *stmt_; }

 private:
  Statement* stmt_;
  bool* busy_;                        // the cache slot's in-use flag (null if not cached)
  std::unique_ptr<Statement> owned_;  // set when the cached one was already in use
};

/// One connection. Not thread-safe: a Db must be used by one thread at a time.
class Db {
 public:
  /// Opens (creating if needed) the database file. `flags` are extra sqlite3_open_v2 flags
  /// beyond READWRITE|CREATE (for example SQLITE_OPEN_NOMUTEX).
  static Result<Db> Open(const std::filesystem::path& file, int extra_flags = 0);

  Db();
  Db(Db&&) noexcept;
  Db& operator=(Db&&) noexcept;
  ~Db();

  /// Runs one or more statements that return no rows (schema, pragmas).
  Result<void> Exec(std::string_view sql);
  /// A new, uncached statement.
  Result<Statement> Prepare(std::string_view sql);
  /// A statement prepared once per connection and reused; see StatementLease.
  Result<StatementLease> Cached(const std::string& sql);
  /// Runs a query that yields one integer (e.g. "PRAGMA user_version").
  Result<std::int64_t> QueryInt64(const std::string& sql);
  /// Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  std::int64_t Changes() const;
  /// The extended result code of the last failed call on this connection.
  int ExtendedErrorCode() const;
  sqlite3* handle() const;

 private:
  struct State;
  explicit Db(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

/// BEGIN ... COMMIT; rolls back on destruction unless committed.
class Transaction {
 public:
  enum class Mode { kDeferred, kImmediate };
  /// kImmediate takes the write lock at once, so that a later write cannot fail with BUSY
  /// half-way through (and busy_timeout applies to the wait).
  static Result<Transaction> Begin(Db& db, Mode mode = Mode::kImmediate);

  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Result<void> Commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;  // null once committed or rolled back
};

}  // namespace imgup::sqlite
