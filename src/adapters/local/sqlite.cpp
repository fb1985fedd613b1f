#include "adapters/local/sqlite.hpp"

#include <sqlite3.h>

#include <climits>
#include <unordered_map>
#include <utility>

namespace imgup::sqlite {

Error MakeError(int rc, std::string_view what, sqlite3* db) {
  std::string detail(what);
  detail += ": ";
  detail += sqlite3_errstr(rc);
  if (db != nullptr && sqlite3_errcode(db) != SQLITE_OK) {
    detail += " (";
    detail += sqlite3_errmsg(db);
    detail += ")";
  }
  const int primary = rc & 0xff;
  const bool transient = primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
                         primary == SQLITE_IOERR || primary == SQLITE_FULL;
  return StorageFailure(transient, "metadata store", std::move(detail));
}

// ---- Statement ----------------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

namespace {
Result<void> Check(int rc, std::string_view what, sqlite3* db) {
  if (rc == SQLITE_OK) return {};
  return tl::unexpected(MakeError(rc, what, db));
}
}  // namespace

Result<void> Statement::BindText(int index, std::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer need not outlive the statement.
  return Check(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      "bind text", db_);
}

Result<void> Statement::BindBlob(int index, std::string_view bytes) {
  return Check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT),
               "bind blob", db_);
}

Result<void> Statement::BindInt64(int index, std::int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value), "bind int64", db_);
}

Result<void> Statement::BindNull(int index) {
  return Check(sqlite3_bind_null(stmt_, index), "bind null", db_);
}

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(MakeError(rc, sqlite3_sql(stmt_), db_));
}

Result<void> Statement::Run() {
  IMGUP_ASSIGN_OR_RETURN(const bool has_row, Step());
  if (has_row) {
    return Fail(ErrorCode::kInternal, "storage_error", "The metadata store failed.",
                std::string("statement returned rows: ") + sqlite3_sql(stmt_));
  }
  return {};
}

void Statement::Reset() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::ColumnText(int column) const { return std::string(ColumnView(column)); }

std::string_view Statement::ColumnView(int column) const {
  // column_blob then column_bytes, in that order, as SQLite documents.
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string_view(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

// ---- StatementLease -----------------------------------------------------------------------

StatementLease::StatementLease(StatementLease&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      busy_(std::exchange(other.busy_, nullptr)),
      owned_(std::move(other.owned_)) {}

StatementLease::~StatementLease() {
  if (stmt_ != nullptr) stmt_->Reset();
  if (busy_ != nullptr) *busy_ = false;
}

// ---- Db -----------------------------------------------------------------------------------

struct Db::State {
  struct Slot {
    Statement statement;
    bool busy = false;
  };
  sqlite3* db = nullptr;
  // unique_ptr values: leases point into slots, which must not move when the map rehashes.
  std::unordered_map<std::string, std::unique_ptr<Slot>> cache;

  ~State() {
    cache.clear();  // statements must be finalized before the connection is closed
    sqlite3_close_v2(db);
  }
};

Db::Db() = default;
Db::Db(std::unique_ptr<State> state) : state_(std::move(state)) {}
Db::Db(Db&&) noexcept = default;
Db& Db::operator=(Db&&) noexcept = default;
Db::~Db() = default;

Result<Db> Db::Open(const std::filesystem::path& file, int extra_flags) {
  auto state = std::make_unique<State>();
  const int rc = sqlite3_open_v2(file.c_str(), &state->db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | extra_flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error = MakeError(rc, "open " + file.string(), state->db);
    return tl::unexpected(std::move(error));  // ~State closes the half-open handle
  }
  sqlite3_extended_result_codes(state->db, 1);
  return Db(std::move(state));
}

Result<void> Db::Exec(std::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(state_->db, text.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);  // the same text is available through sqlite3_errmsg
  if (rc == SQLITE_OK) return {};
  return tl::unexpected(MakeError(rc, text, state_->db));
}

Result<Statement> Db::Prepare(std::string_view sql) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) {
    return Fail(ErrorCode::kInternal, "storage_error", "The metadata store failed.",
                "statement too long");
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(state_->db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return tl::unexpected(MakeError(rc, "prepare " + std::string(sql), state_->db));
  }
  if (stmt == nullptr) {  // only whitespace or a comment
    return Fail(ErrorCode::kInternal, "storage_error", "The metadata store failed.",
                "empty statement: " + std::string(sql));
  }
  return Statement(state_->db, stmt);
}

Result<StatementLease> Db::Cached(const std::string& sql) {
  auto it = state_->cache.find(sql);
  if (it == state_->cache.end()) {
    IMGUP_ASSIGN_OR_RETURN(Statement prepared, Prepare(sql));
    auto slot = std::make_unique<State::Slot>();
    slot->statement = std::move(prepared);
    it = state_->cache.emplace(sql, std::move(slot)).first;
  }
  State::Slot& slot = *it->second;
  if (slot.busy) {
    // The same SQL is already being stepped higher up the call stack: use a private copy.
    IMGUP_ASSIGN_OR_RETURN(Statement prepared, Prepare(sql));
    auto owned = std::make_unique<Statement>(std::move(prepared));
    Statement* raw = owned.get();
    return StatementLease(raw, nullptr, std::move(owned));
  }
  slot.busy = true;
  return StatementLease(&slot.statement, &slot.busy, nullptr);
}

Result<std::int64_t> Db::QueryInt64(const std::string& sql) {
  IMGUP_ASSIGN_OR_RETURN(auto stmt, Cached(sql));
  IMGUP_ASSIGN_OR_RETURN(const bool has_row, stmt->Step());
  if (!has_row) {
    return Fail(ErrorCode::kInternal, "storage_error", "The metadata store failed.",
                "no row from: " + sql);
  }
  return stmt->ColumnInt64(0);
}

std::int64_t Db::Changes() const { return sqlite3_changes64(state_->db); }

int Db::ExtendedErrorCode() const { return sqlite3_extended_errcode(state_->db); }

sqlite3* Db::handle() const { return state_ ? state_->db : nullptr; }

// ---- Transaction --------------------------------------------------------------------------

namespace {
Result<void> RunCached(Db& db, const std::string& sql) {
  IMGUP_ASSIGN_OR_RETURN(auto stmt, db.Cached(sql));
  return stmt->Run();
}
}  // namespace

Result<Transaction> Transaction::Begin(Db& db, Mode mode) {
  IMGUP_RETURN_IF_ERROR(
      RunCached(db, mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Transaction(&db);
}

Result<void> Transaction::Commit() {
  Db* db = std::exchange(db_, nullptr);
  auto committed = RunCached(*db, "COMMIT");
  if (!committed) {
    // A failed COMMIT may leave the transaction open (e.g. SQLITE_BUSY): do not leave it so.
    if (sqlite3_get_autocommit(db->handle()) == 0) (void)RunCached(*db, "ROLLBACK");
    return committed;
  }
  return {};
}

Transaction::~Transaction() {
  if (db_ != nullptr && sqlite3_get_autocommit(db_->handle()) == 0) {
    // Nothing to report from a destructor; SQLite rolls back on close at the latest.
    (void)RunCached(*db_, "ROLLBACK");
  }
}

}  // namespace imgup::sqlite
