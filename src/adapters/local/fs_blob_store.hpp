#pragma once
// Blobs as files under one root directory. A Put writes a unique temporary file under
// root/.tmp/ and rename()s it into place, so readers (and a restart after kill -9) see either
// the previous object or the whole new one. Keys are validated strictly, so no key can name a
// path outside the root.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <utility>

#include "domain/blob_keys.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/signed_urls.hpp"

namespace imgup {

/// One limit beyond the BlobStore contract: as a file cannot also be a directory, a key cannot
/// be both an object and a proper prefix of another object's key ("a/b" and "a/b/c"); such a
/// Put fails with kInvalidArgument "key_conflict". imgup's keys (originals/{owner}/{id},
/// variants/{owner}/{id}/{name}.webp) never clash.
class FsBlobStore final : public BlobStore {
 public:
  struct Options {
    /// fsync the file before the rename and its directory after it: the object survives a power
    /// loss once Put returns. Without it, it survives a process crash (kill -9) but possibly not
    /// a power loss.
    bool fsync = false;
    /// Signs the presigned URLs, which the local server answers (not owned). Without it,
    /// PresignGet and PresignPost fail with kInternal "presign_unavailable".
    SignedUrls* urls = nullptr;
  };

  /// Uses (creating if needed) `root` and root/.tmp. Errors: kUnavailable when the directories
  /// cannot be created or are not directories.
  static Result<std::unique_ptr<FsBlobStore>> Open(std::filesystem::path root, Options options);

  Result<void> Put(std::string_view key, std::string_view data,
                   std::string_view content_type) override;
  Result<std::string> Get(std::string_view key) override;
  Result<BlobEntry> Head(std::string_view key) override;
  Result<void> Delete(std::string_view key) override;
  Result<BlobPage> List(std::string_view prefix, std::string_view token,
                        std::size_t limit) override;
  Result<std::string> PresignGet(std::string_view key, std::int64_t expires_in_s,
                                 const GetUrlOptions& options) override;
  Result<PresignedPost> PresignPost(const UploadPolicy& policy) override;

  /// Removes the temporary files in root/.tmp last modified before `older_than_ms_epoch`
  /// (leftovers of writes that died mid-way); returns how many were removed.
  Result<std::size_t> RemoveTempFiles(std::int64_t older_than_ms_epoch);

  /// The file that holds `key`, for serving it without copying; an empty path when the key is
  /// invalid. The file may not exist.
  std::filesystem::path PathFor(std::string_view key) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  FsBlobStore(std::filesystem::path root, Options options);

  std::filesystem::path root_;
  std::filesystem::path NewTempName();
  /// Puts .tmp back after someone removed it; false when it cannot be created.
  bool RestoreTmpDir();
  /// An unnamed file in .tmp (O_TMPFILE), open for writing; -1 with errno when it cannot be had
  /// (and unnamed_files_ cleared when the file system has no O_TMPFILE).
  int OpenUnnamed();
  /// A new named temp file in .tmp, open for writing.
  Result<std::pair<int, std::filesystem::path>> CreateTempFile();

  std::filesystem::path tmp_dir_;
  Options options_;
  std::atomic<std::uint64_t> temp_counter_{0};
  // O_TMPFILE works here (Linux >= 3.11 on ext4, xfs, btrfs, tmpfs, ...) and /proc is mounted
  // (linkat names the unnamed file through /proc/self/fd); cleared at the first refusal.
  std::atomic<bool> unnamed_files_{true};
};

}  // namespace imgup
