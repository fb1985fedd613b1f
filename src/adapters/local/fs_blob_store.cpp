#include "adapters/local/fs_blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <string>
#include <system_error>
#include <utility>

namespace imgup {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTmpDirName = ".tmp";

tl::unexpected<Error> InvalidKey(std::string_view key) {
  std::string shown(key.substr(0, 200));
  std::ranges::replace(shown, '\0', '?');
  return Fail(ErrorCode::kInvalidArgument, "invalid_key", "The storage key is not valid.",
              "invalid blob key: " + shown);
}

tl::unexpected<Error> KeyConflict(std::string_view key) {
  return Fail(ErrorCode::kInvalidArgument, "key_conflict",
              "The storage key clashes with another key.",
              "blob key is a prefix of another key or extends one: " + std::string(key));
}

Error ErrnoError(int err, std::string_view what, const fs::path& path) {
  std::string detail(what);
  detail += " ";
  detail += path.string();
  detail += ": ";
  detail += std::generic_category().message(err);
  const bool transient = err == ENOSPC || err == EDQUOT || err == EIO || err == EROFS ||
                         err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN;
  return StorageFailure(transient, "blob store", std::move(detail));
}

Error FsError(const std::error_code& ec, std::string_view what, const fs::path& path) {
  if (ec.category() == std::generic_category() || ec.category() == std::system_category()) {
    return ErrnoError(ec.value(), what, path);
  }
  return StorageFailure(false, "blob store",
                        std::string(what) + " " + path.string() + ": " + ec.message());
}

tl::unexpected<Error> NotFound() {
  return Fail(ErrorCode::kNotFound, "not_found", "No object under this key.");
}

std::int64_t MtimeMs(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 +
         static_cast<std::int64_t>(st.st_mtim.tv_nsec) / 1'000'000;
}

/// Closes `fd` on scope exit unless released.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  /// Closes now and reports the error. On Linux the descriptor is gone even when close()
  /// fails with EINTR, so it is never retried.
  int Close() {
    const int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 || errno == EINTR ? 0 : errno;
  }

 private:
  int fd_;
};

int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return 0;
}

int FsyncRetrying(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

int FsyncDirectory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  FdGuard guard(fd);
  return FsyncRetrying(fd);
}

struct WalkContext {
  std::string_view prefix;
  std::string_view after;  // only keys greater than this one (empty: every key)
  std::vector<BlobEntry>* out;
};

/// Adds every regular file under `dir` (whose key is `dir_key`) matching the prefix.
/// Symbolic links and names that are not valid key segments are skipped: they were not made
/// by Put. Directories that vanish during the walk (a concurrent Delete) are skipped too.
Result<void> Walk(const fs::path& dir, const std::string& dir_key, const WalkContext& ctx) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) {
      return {};
    }
    return tl::unexpected(FsError(ec, "list", dir));
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    // Files no valid key can name (the .tmp folder, stray names) are not objects.
    std::string key = dir_key.empty() ? name : dir_key + "/" + name;
    if (!IsValidBlobKey(key)) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return tl::unexpected(ErrnoError(errno, "stat", it->path()));
    }
    if (S_ISDIR(st.st_mode)) {
      const std::string as_dir = key + "/";
      if (!as_dir.starts_with(ctx.prefix) && !ctx.prefix.starts_with(as_dir)) continue;
      // A folder that sorts before `after` and does not hold it: earlier pages listed it all.
      if (!ctx.after.empty() && as_dir < ctx.after && !ctx.after.starts_with(as_dir)) continue;
      IMGUP_RETURN_IF_ERROR(Walk(it->path(), key, ctx));
    } else if (S_ISREG(st.st_mode) && key.starts_with(ctx.prefix) &&
               (ctx.after.empty() || key > ctx.after)) {
      ctx.out->push_back(
          BlobEntry{std::move(key), static_cast<std::uint64_t>(st.st_size), MtimeMs(st)});
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return tl::unexpected(FsError(ec, "list", dir));
  }
  return {};
}

}  // namespace

FsBlobStore::FsBlobStore(fs::path root, Options options)
    : root_(std::move(root)), tmp_dir_(root_ / kTmpDirName), options_(options) {
  // linkat names an unnamed file through /proc/self/fd.
  unnamed_files_ = ::access("/proc/self/fd", F_OK) == 0;
  // Distinguishes temp files of several stores (or processes) sharing one root.
  std::random_device random;
  temp_counter_ = (static_cast<std::uint64_t>(random()) << 32) ^ random();
}

Result<std::unique_ptr<FsBlobStore>> FsBlobStore::Open(fs::path root, Options options) {
  std::error_code ec;
  fs::path absolute_root = fs::absolute(root, ec).lexically_normal();
  if (ec) return tl::unexpected(FsError(ec, "resolve", root));
  if (!absolute_root.has_filename()) absolute_root = absolute_root.parent_path();  // "dir/"
  const fs::path tmp = absolute_root / kTmpDirName;
  fs::create_directories(tmp, ec);
  if (ec) return tl::unexpected(FsError(ec, "create", tmp));
  if (!fs::is_directory(absolute_root) || !fs::is_directory(tmp)) {
    return Fail(ErrorCode::kUnavailable, "storage_unavailable",
                "The blob store is temporarily unavailable.",
                absolute_root.string() + " is not a directory");
  }
  return std::unique_ptr<FsBlobStore>(new FsBlobStore(std::move(absolute_root), options));
}

fs::path FsBlobStore::PathFor(std::string_view key) const {
  if (!IsValidBlobKey(key)) return {};
  return root_ / fs::path(std::string(key));
}

Result<void> FsBlobStore::Put(std::string_view key, std::string_view data,
                              std::string_view /*content_type*/) {
  if (!IsValidBlobKey(key)) return InvalidKey(key);
  const fs::path target = PathFor(key);

  // The bytes go to an unnamed file in .tmp (O_TMPFILE), linked under its key once complete: one
  // directory operation for a new key instead of a create in .tmp plus a rename out of it, and
  // nothing to clean up if the process dies before the link. Where the file system has no
  // O_TMPFILE, a named temp file is written and renamed instead.
  int fd = unnamed_files_ ? OpenUnnamed() : -1;
  if (fd < 0 && unnamed_files_) return tl::unexpected(ErrnoError(errno, "create in", tmp_dir_));
  fs::path tmp;  // the named temp file, once there is one
  if (fd < 0) {
    IMGUP_ASSIGN_OR_RETURN(std::tie(fd, tmp), CreateTempFile());
  }
  FdGuard file(fd);
  auto discard = [&] {
    if (file.get() >= 0) (void)file.Close();
    if (!tmp.empty()) ::unlink(tmp.c_str());
  };
  auto fail = [&](int err, std::string_view what, const fs::path& path) {
    Error error = ErrnoError(err, what, path);
    discard();
    return tl::unexpected(std::move(error));
  };
  const fs::path& written = tmp.empty() ? tmp_dir_ : tmp;
  if (int err = WriteAll(fd, data); err != 0) return fail(err, "write to", written);
  if (options_.fsync) {
    if (int err = FsyncRetrying(fd); err != 0) return fail(err, "fsync", written);
  }
  // A named file is closed before it is published, so that a late write error is not published.
  if (!tmp.empty()) {
    if (int err = file.Close(); err != 0) return fail(err, "close", tmp);
  }

  bool created_dirs = false;
  for (int attempt = 0;; ++attempt) {
    std::error_code ec;
    created_dirs = fs::create_directories(target.parent_path(), ec) || created_dirs;
    // ENOENT: a concurrent Delete removed an empty directory of the path while it was created.
    if (ec == std::errc::no_such_file_or_directory && attempt < 10) continue;
    if (ec) {
      discard();
      // A file where a directory must go: the key extends another object's key.
      if (ec == std::errc::not_a_directory || ec == std::errc::file_exists) {
        return KeyConflict(key);
      }
      return tl::unexpected(FsError(ec, "create", target.parent_path()));
    }
    if (tmp.empty()) {
      // The unnamed file takes the key as its first name. A key that exists already is replaced
      // atomically instead: the file is named in .tmp and renamed over the old object below.
      const std::string self = "/proc/self/fd/" + std::to_string(fd);
      if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, target.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        if (int err = file.Close(); err != 0) {
          ::unlink(target.c_str());  // a new name, just made: no one else's object
          return fail(err, "close", target);
        }
        break;
      }
      const int err = errno;
      if (err == ENOENT && attempt < 10) continue;  // the parent went (a concurrent Delete)
      if (err != EEXIST) return fail(err, "link to", target);
      const fs::path named = NewTempName();
      if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, named.c_str(), AT_SYMLINK_FOLLOW) != 0) {
        return fail(errno, "link to", named);
      }
      tmp = named;
      if (int close_err = file.Close(); close_err != 0) return fail(close_err, "close", tmp);
    }
    if (::rename(tmp.c_str(), target.c_str()) == 0) break;
    const int err = errno;
    // ENOENT: a concurrent Delete removed the (then empty) parent directory in between.
    if (err == ENOENT && attempt < 10) continue;
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST || err == ENOTDIR) {
      discard();
      return KeyConflict(key);  // a directory where the file must go: the key is a prefix
    }
    return fail(err, "rename to", target);
  }

  if (options_.fsync) {
    // The new name is durable once the directory holding it is; new directories are entries
    // of their own parents, up to the root.
    std::string_view dir = key;
    do {
      const auto slash = dir.rfind('/');
      dir = slash == std::string_view::npos ? std::string_view() : dir.substr(0, slash);
      const fs::path path = dir.empty() ? root_ : PathFor(dir);
      if (int err = FsyncDirectory(path); err != 0) {
        return tl::unexpected(ErrnoError(err, "fsync", path));
      }
    } while (created_dirs && !dir.empty());
  }
  return {};
}

int FsBlobStore::OpenUnnamed() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(tmp_dir_.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) return fd;
    const int err = errno;
    if (err == EINTR || (err == ENOENT && RestoreTmpDir())) continue;
    if (err == EOPNOTSUPP || err == EISDIR || err == EINVAL) unnamed_files_ = false;
    errno = err;
    return -1;
  }
  return -1;
}

bool FsBlobStore::RestoreTmpDir() {
  std::error_code ec;
  fs::create_directories(tmp_dir_, ec);
  return !ec;
}

fs::path FsBlobStore::NewTempName() {
  return tmp_dir_ / (std::to_string(::getpid()) + "-" + std::to_string(temp_counter_++) + ".part");
}

Result<std::pair<int, fs::path>> FsBlobStore::CreateTempFile() {
  for (int attempt = 0;; ++attempt) {
    fs::path tmp = NewTempName();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) return std::pair<int, fs::path>{fd, std::move(tmp)};
    const int err = errno;
    if (err == EINTR || (err == EEXIST && attempt < 100)) continue;
    if (err == ENOENT && attempt < 100 && RestoreTmpDir()) continue;
    return tl::unexpected(ErrnoError(err, "create", tmp));
  }
}

Result<std::string> FsBlobStore::Get(std::string_view key) {
  if (!IsValidBlobKey(key)) return InvalidKey(key);
  const fs::path path = PathFor(key);
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return NotFound();
    return tl::unexpected(ErrnoError(errno, "open", path));
  }
  FdGuard file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return tl::unexpected(ErrnoError(errno, "stat", path));
  if (!S_ISREG(st.st_mode)) return NotFound();  // a directory: a prefix, not an object

  // Put replaces objects by rename and never writes into one, so an open file keeps its size.
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t got = ::read(fd, bytes.data() + filled, bytes.size() - filled);
    if (got < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(ErrnoError(errno, "read", path));
    }
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  bytes.resize(filled);
  return bytes;
}

Result<BlobEntry> FsBlobStore::Head(std::string_view key) {
  if (!IsValidBlobKey(key)) return InvalidKey(key);
  const fs::path path = PathFor(key);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return NotFound();
    return tl::unexpected(ErrnoError(errno, "stat", path));
  }
  if (!S_ISREG(st.st_mode)) return NotFound();
  return BlobEntry{std::string(key), static_cast<std::uint64_t>(st.st_size), MtimeMs(st)};
}

Result<void> FsBlobStore::Delete(std::string_view key) {
  if (!IsValidBlobKey(key)) return InvalidKey(key);
  const fs::path path = PathFor(key);
  if (::unlink(path.c_str()) != 0) {
    // ENOENT/ENOTDIR: nothing there. EISDIR: a directory is a prefix, not an object.
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) return {};
    return tl::unexpected(ErrnoError(errno, "delete", path));
  }
  // Drop the per-image directories the delete left empty (variants/{owner}/{id}/), deepest
  // first; rmdir fails harmlessly on the first one that still holds something. The shared ones
  // near the root (originals/{owner}/) stay: removing them would race every Put into them.
  constexpr std::size_t kSharedLevels = 2;
  std::string_view dir = key;
  for (auto slash = dir.rfind('/'); slash != std::string_view::npos; slash = dir.rfind('/')) {
    dir = dir.substr(0, slash);
    if (static_cast<std::size_t>(std::count(dir.begin(), dir.end(), '/')) + 1 <= kSharedLevels) {
      break;
    }
    if (::rmdir(PathFor(dir).c_str()) != 0) break;
  }
  return {};
}

Result<BlobPage> FsBlobStore::List(std::string_view prefix, std::string_view token,
                                   std::size_t limit) {
  if (!IsValidBlobPrefix(prefix)) return InvalidKey(prefix);
  if (limit == 0) return Fail(ErrorCode::kInvalidArgument, "invalid_limit", "limit is 0");
  // The token is the last key returned: the page starts after it.
  if (!token.empty() && (!token.starts_with(prefix) || !IsValidBlobKey(token))) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_token", "Not a token of this prefix.");
  }
  const auto slash = prefix.rfind('/');
  const std::string dir_key(slash == std::string_view::npos ? std::string_view()
                                                            : prefix.substr(0, slash));
  std::vector<BlobEntry> entries;
  const WalkContext ctx{prefix, token, &entries};
  IMGUP_RETURN_IF_ERROR(Walk(dir_key.empty() ? root_ : PathFor(dir_key), dir_key, ctx));
  std::ranges::sort(entries, {}, &BlobEntry::key);
  BlobPage page;
  if (entries.size() > limit) {
    entries.resize(limit);
    page.next_token = entries.back().key;
  }
  page.items = std::move(entries);
  return page;
}

Result<std::size_t> FsBlobStore::RemoveTempFiles(std::int64_t older_than_ms_epoch) {
  std::error_code ec;
  fs::directory_iterator it(tmp_dir_, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return std::size_t{0};
    return tl::unexpected(FsError(ec, "list", tmp_dir_));
  }
  std::size_t removed = 0;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return tl::unexpected(FsError(ec, "list", tmp_dir_));
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return tl::unexpected(ErrnoError(errno, "stat", it->path()));
    }
    if (!S_ISREG(st.st_mode) || MtimeMs(st) >= older_than_ms_epoch) continue;
    if (::unlink(it->path().c_str()) != 0) {
      if (errno == ENOENT) continue;
      return tl::unexpected(ErrnoError(errno, "delete", it->path()));
    }
    ++removed;
  }
  if (ec) return tl::unexpected(FsError(ec, "list", tmp_dir_));
  return removed;
}

Result<std::string> FsBlobStore::PresignGet(std::string_view key, std::int64_t expires_in_s,
                                            const GetUrlOptions& options) {
  if (options_.urls == nullptr) {
    return Fail(ErrorCode::kInternal, "presign_unavailable", "Presigned URLs are not set up");
  }
  return options_.urls->SignGet(key, expires_in_s, options);
}

Result<PresignedPost> FsBlobStore::PresignPost(const UploadPolicy& policy) {
  if (options_.urls == nullptr) {
    return Fail(ErrorCode::kInternal, "presign_unavailable", "Presigned URLs are not set up");
  }
  return options_.urls->SignPost(policy);
}

}  // namespace imgup
