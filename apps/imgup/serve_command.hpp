#pragma once
// imgup serve: the local server's composition root.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace imgup::app {

struct ServeOptions {
  /// "local" (the data directory's folder and SQLite) or "aws" (S3 + DynamoDB).
  std::string storage = "local";
  std::string data_dir = "data";  // local: the stores; both: the pixel workers' temp files
  std::string bucket;             // aws: the S3 bucket
  std::string table;              // aws: the DynamoDB table
  std::string cursor_secret;      // aws: seals DynamoDB continuation tokens (aws_backend.hpp)
  std::string host = "127.0.0.1";
  int port = 8080;
  std::size_t max_body_bytes = 10 * 1024 * 1024;
  /// POST /uploads: the largest image it takes, and how long its form works.
  std::uint64_t max_upload_bytes = 64ull << 20;
  std::int64_t upload_form_ttl_s = 900;
  std::uint64_t max_pixels = 100'000'000;
  std::size_t threads = 0;  // request handler threads; 0: one per CPU
  bool fsync = false;
  std::size_t workers = 2;  // image processing threads
  std::size_t queue_capacity = 10'000;
  std::uint32_t max_frames = 1000;
  std::uint32_t max_decode_ms = 30'000;
  std::uint64_t processing_memory_mb = 1024;
  std::uint64_t processing_temp_mb = 256;
  bool keep_gps = false;
  std::string failed_originals = "remove";
  /// GET /images/{id}/content redirects to a one-time presigned URL instead of answering with
  /// the bytes (what the Lambda deployment does).
  bool content_redirect = false;
  /// Origins (`http(s)://host[:port]`) whose pages may call the API (CORS); none by default.
  std::vector<std::string> cors_origins;
};

/// Opens the stores (under options.data_dir, or the bucket and table, checked first: a bucket or
/// table that does not answer ends the process with a message naming it), wires the image pipeline
/// (pixel workers), the image API and the HTTP server, and serves until SIGINT or SIGTERM. Returns
/// the exit code.
int Serve(const ServeOptions& options);

}  // namespace imgup::app
