// POST /upload in process: parsing the seed's JSON body and decoding its base64 (target: a 4 MB
// image in <= 10 ms), against OpenSSL's EVP_DecodeBlock on the same base64 as the peer for the
// decode part; and, to show where the time of an upload goes, every further stage of the
// request (sniff, SHA-256, the upload service over the real local stores, the whole router).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "adapters/local/fs_blob_store.hpp"
#include "adapters/local/sqlite_metadata_store.hpp"
#include "api/auth.hpp"
#include "api/handlers.hpp"
#include "api/router.hpp"
#include "bench_support.hpp"
#include "codecs/base64.hpp"
#include "codecs/sha256.hpp"
#include "codecs/sniff.hpp"
#include "domain/ulid.hpp"
#include "services/image_service.hpp"

namespace {

using imgup::bench::TempDir;

constexpr std::size_t kComPayloadOffset = 6;  // SOI (2) + COM marker and length (4)
constexpr std::size_t kTagBytes = 6;          // bytes 6..11: base64 characters 8..15

/// `size` bytes that sniff as a 4032x3024 JPEG: SOI, a COM segment whose first payload bytes
/// vary per upload, a baseline frame header, then pseudo-random "entropy-coded data" and EOI.
/// Only the headers are read by the code measured here.
std::string MakeJpeg(std::size_t size) {
  std::string jpeg = "\xFF\xD8";
  const std::string comment(64, 'c');
  jpeg += "\xFF\xFE";
  jpeg += static_cast<char>((comment.size() + 2) >> 8);
  jpeg += static_cast<char>((comment.size() + 2) & 0xFF);
  jpeg += comment;
  // SOF0: length 17, precision 8, height 3024, width 4032, 3 components.
  jpeg += std::string(
      "\xFF\xC0\x00\x11\x08\x0B\xD0\x0F\xC0\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 19);
  std::mt19937_64 rng(20261125);
  while (jpeg.size() + 2 < size) jpeg += static_cast<char>(rng() & 0xFF);
  jpeg += "\xFF\xD9";
  return jpeg;
}

/// Writes `n` into the COM payload bytes 6..11 (big-endian): a different image each time.
void TagJpeg(std::string& jpeg, std::uint64_t n) {
  for (std::size_t i = 0; i < kTagBytes; ++i) {
    jpeg[kComPayloadOffset + i] = static_cast<char>((n >> (8 * (kTagBytes - 1 - i))) & 0xFF);
  }
}

/// Throughput counter: `bytes` per iteration.
void SetBytes(benchmark::State& state, std::size_t bytes) {
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

std::string JsonBody(const std::string& image) {
  return R"({"filename":"bench.jpg","content_type":"image/jpeg","image_base64":")" +
         imgup::EncodeBase64(image) + "\"}";
}

imgup::HttpRequest UploadRequest(std::string body) {
  imgup::HttpRequest request;
  request.method = "POST";
  request.path = "/upload";
  request.headers = {{"content-type", "application/json"},
                     {"content-length", std::to_string(body.size())}};
  request.body = std::move(body);
  request.remote_addr = "127.0.0.1";
  request.request_id = "bench";
  return request;
}

// ---- parse + decode (target 2) ---------------------------------------------------------------

void BM_ParseUploadRequest(benchmark::State& state) {
  const auto image_bytes = static_cast<std::size_t>(state.range(0));
  const imgup::HttpRequest request = UploadRequest(JsonBody(MakeJpeg(image_bytes)));
  {
    auto parsed = imgup::ParseUploadRequest(request);
    if (!parsed || parsed->bytes.size() != image_bytes) {
      state.SkipWithError("ParseUploadRequest failed");
      return;
    }
  }
  for (auto _ : state) {
    auto parsed = imgup::ParseUploadRequest(request);
    benchmark::DoNotOptimize(parsed);
  }
  SetBytes(state, request.body.size());
  state.counters["body_bytes"] = static_cast<double>(request.body.size());
}
BENCHMARK(BM_ParseUploadRequest)->Arg(200 * 1024)->Arg(4 << 20)->Unit(benchmark::kMillisecond);

// The JSON half alone: simdjson's DOM parse of the same body (what ParseUploadRequest uses).
void BM_SimdjsonParseBody(benchmark::State& state) {
  const std::string body = JsonBody(MakeJpeg(static_cast<std::size_t>(state.range(0))));
  simdjson::dom::parser parser;
  for (auto _ : state) {
    simdjson::dom::element doc;
    if (parser.parse(body.data(), body.size(), true).get(doc) != simdjson::SUCCESS) {
      state.SkipWithError("simdjson parse failed");
      return;
    }
    benchmark::DoNotOptimize(doc);
  }
  SetBytes(state, body.size());
}
BENCHMARK(BM_SimdjsonParseBody)->Arg(4 << 20)->Unit(benchmark::kMillisecond);

// The base64 half alone: imgup's strict decoder (returns a new std::string).
void BM_ImgupDecodeBase64(benchmark::State& state) {
  const std::string b64 = imgup::EncodeBase64(MakeJpeg(static_cast<std::size_t>(state.range(0))));
  for (auto _ : state) {
    auto decoded = imgup::DecodeBase64(b64);
    benchmark::DoNotOptimize(decoded);
  }
  SetBytes(state, b64.size());
}
BENCHMARK(BM_ImgupDecodeBase64)->Arg(4 << 20)->Unit(benchmark::kMillisecond);

// The peer: OpenSSL's EVP_DecodeBlock on the same base64, into a buffer allocated once.
void BM_OpenSslEvpDecodeBlock(benchmark::State& state) {
  const std::string b64 = imgup::EncodeBase64(MakeJpeg(static_cast<std::size_t>(state.range(0))));
  std::string out(b64.size() / 4 * 3, '\0');
  for (auto _ : state) {
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    if (n < 0) {
      state.SkipWithError("EVP_DecodeBlock failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state, b64.size());
}
BENCHMARK(BM_OpenSslEvpDecodeBlock)->Arg(4 << 20)->Unit(benchmark::kMillisecond);

// The peer again, into a new std::string each time, as imgup's decoder returns one.
void BM_OpenSslEvpDecodeBlockNewString(benchmark::State& state) {
  const std::string b64 = imgup::EncodeBase64(MakeJpeg(static_cast<std::size_t>(state.range(0))));
  for (auto _ : state) {
    std::string out;
    out.resize(b64.size() / 4 * 3);
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    if (n < 0) {
      state.SkipWithError("EVP_DecodeBlock failed");
      return;
    }
    benchmark::DoNotOptimize(out);
  }
  SetBytes(state, b64.size());
}
BENCHMARK(BM_OpenSslEvpDecodeBlockNewString)->Arg(4 << 20)->Unit(benchmark::kMillisecond);

// ---- the other stages of a 200 KB upload (for the HTTP comparison) ---------------------------

void BM_SniffJpeg(benchmark::State& state) {
  const std::string jpeg = MakeJpeg(200 * 1024);
  for (auto _ : state) {
    auto sniffed = imgup::SniffImage(jpeg);
    benchmark::DoNotOptimize(sniffed);
  }
}
BENCHMARK(BM_SniffJpeg);

void BM_Sha256(benchmark::State& state) {
  const std::string jpeg = MakeJpeg(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(imgup::Sha256Hex(jpeg));
  SetBytes(state, jpeg.size());
}
BENCHMARK(BM_Sha256)->Arg(200 * 1024)->Unit(benchmark::kMicrosecond);

class SystemClock final : public imgup::Clock {
 public:
  std::int64_t NowMs() override { return imgup::bench::NowMs(); }
};

/// The local stores and the service as `imgup serve` builds them, in a temp dir.
struct LocalUploadStack {
  TempDir dir{"imgup-bench-upload"};
  std::unique_ptr<imgup::FsBlobStore> blobs;
  std::unique_ptr<imgup::SqliteMetadataStore> records;
  SystemClock clock;
  imgup::UlidGenerator ids;
  std::unique_ptr<imgup::ImageService> service;
  std::unique_ptr<imgup::ApiKeyAuthenticator> auth;
  std::unique_ptr<imgup::Router> router;

  bool Open() {
    auto b = imgup::FsBlobStore::Open(dir.path() / "blobs", imgup::FsBlobStore::Options{});
    auto r = imgup::SqliteMetadataStore::Open(dir.path() / "imgup.db");
    if (!b || !r) return false;
    blobs = std::move(*b);
    records = std::move(*r);
    // No queue: the records stay "processing", as nothing here processes them; only the
    // request path is measured.
    service =
        std::make_unique<imgup::ImageService>(*blobs, *records, clock, ids, imgup::UploadLimits{});
    auth = std::make_unique<imgup::ApiKeyAuthenticator>(*records);
    router = std::make_unique<imgup::Router>(*auth);
    imgup::RegisterApiRoutes(*router, *service, imgup::ApiConfig{});
    return true;
  }
};

// ImageService::Upload of an already decoded 200 KB JPEG: sniff, SHA-256, duplicate lookup,
// blob write (temp file + rename, no fsync: the server's default), SQLite insert.
void BM_UploadService200KB(benchmark::State& state) {
  LocalUploadStack stack;
  if (!stack.Open()) {
    state.SkipWithError("cannot open the local stores");
    return;
  }
  std::string jpeg = MakeJpeg(200 * 1024);
  std::uint64_t n = 0;
  for (auto _ : state) {
    TagJpeg(jpeg, ++n);
    imgup::UploadRequest request;
    request.owner = "local";
    request.filename = "bench.jpg";
    request.declared_type = "image/jpeg";
    request.bytes = jpeg;
    auto outcome = stack.service->Upload(std::move(request));
    if (!outcome || outcome->duplicate) {
      state.SkipWithError("upload failed or was a duplicate");
      return;
    }
  }
}
BENCHMARK(BM_UploadService200KB)->Unit(benchmark::kMicrosecond);

// The whole POST /upload through the router (no HTTP): JSON body in, 201 JSON record out.
void BM_RouterPostUpload200KB(benchmark::State& state) {
  LocalUploadStack stack;
  if (!stack.Open()) {
    state.SkipWithError("cannot open the local stores");
    return;
  }
  std::string jpeg = MakeJpeg(200 * 1024);
  imgup::HttpRequest request = UploadRequest(JsonBody(jpeg));
  const std::size_t b64_start = request.body.find("\"image_base64\":\"") + 16;
  std::uint64_t n = 0;
  for (auto _ : state) {
    state.PauseTiming();  // the client's work: a new image, base64 in the body
    TagJpeg(jpeg, ++n);
    const std::string tag = imgup::EncodeBase64(jpeg.substr(kComPayloadOffset, kTagBytes));
    request.body.replace(b64_start + kComPayloadOffset / 3 * 4, tag.size(), tag);
    state.ResumeTiming();
    const imgup::HttpResponse response = stack.router->Dispatch(request);
    if (response.status != 201) {
      state.SkipWithError(
          ("POST /upload answered " + std::to_string(response.status) + ": " + response.body)
              .c_str());
      return;
    }
  }
}
BENCHMARK(BM_RouterPostUpload200KB)->Unit(benchmark::kMicrosecond);

}  // namespace
