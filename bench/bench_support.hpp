#pragma once
// Helpers shared by the benchmark programs: a temporary directory and realistic image records
// for seeding a metadata store.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

#include "codecs/sha256.hpp"
#include "domain/image_record.hpp"
#include "services/image_service.hpp"

namespace imgup::bench {

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::random_device device;
    const auto base = std::filesystem::temp_directory_path();
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto candidate = base / (prefix + "-" + std::to_string(device()));
      std::error_code ec;
      if (std::filesystem::create_directory(candidate, ec)) {
        path_ = std::move(candidate);
        return;
      }
    }
    throw std::filesystem::filesystem_error("cannot create a temp dir", base,
                                            std::make_error_code(std::errc::file_exists));
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// The bytes of the (small) blob that stands for record `index` in the seeded stores.
inline std::string SeedBlobBytes(std::size_t index) {
  return "imgup bench record " + std::to_string(index);
}

/// A fully processed ("ready") JPEG record as the upload pipeline would leave it: variants,
/// EXIF, placeholder, dominant colour, pHash, two tags. `id` must be a ULID; records seeded in
/// id order list newest first like real uploads.
inline ImageRecord SeedRecord(std::size_t index, const std::string& id, std::int64_t uploaded_ms,
                              const std::string& owner) {
  ImageRecord record;
  record.id = id;
  record.owner = owner;
  record.filename = "IMG_" + std::to_string(100000 + index) + ".jpg";
  record.content_type = "image/jpeg";
  record.format = "jpeg";
  record.uploaded_at_ms = uploaded_ms;
  record.key = OriginalKey(owner, id);
  record.size_bytes = SeedBlobBytes(index).size();
  record.width = 4032;
  record.height = 3024;
  record.sha256 = Sha256Hex(SeedBlobBytes(index));
  record.status = ImageStatus::kReady;
  record.variants["thumb"] =
      VariantInfo{256, 192, 9'731, "image/webp", VariantKey(owner, id, "thumb"), ""};
  record.variants["medium"] =
      VariantInfo{1600, 1200, 148'220, "image/webp", VariantKey(owner, id, "medium"), ""};
  record.exif_json =
      R"({"make":"Canon","model":"EOS R6","lens":"RF24-105mm F4 L IS USM",)"
      R"("taken_at":"2026-07-14T09:31:02Z","exposure":"1/250","iso":200,"focal_length_mm":50})";
  record.placeholder = "LEHV6nWB2yk8pyo0adR*.7kCMdnj";
  record.dominant_color = "#6b8e23";
  record.phash = "c3a1f0e07c3e1f0f";
  record.tags = {"holiday", "2026"};
  record.description = "Benchmark record " + std::to_string(index);
  return record;
}

/// Milliseconds since the Unix epoch, now.
inline std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace imgup::bench
