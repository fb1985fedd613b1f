#include "serve_command.hpp"

#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "api/auth.hpp"
#include "api/blob_routes.hpp"
#include "api/handlers.hpp"
#include "api/record_json.hpp"
#include "api/router.hpp"
#include "aws_backend/aws_backend.hpp"
#include "domain/blob_keys.hpp"
#include "domain/ulid.hpp"
#include "imaging/sandboxed_processor.hpp"
#include "local_stores.hpp"
#include "runtime/local/worker_pool.hpp"
#include "services/image_service.hpp"
#include "services/presigned_uploads.hpp"
#include "services/processing_service.hpp"
#include "stop_signals.hpp"
#include "transport/http/http_server.hpp"
#include "transport/http/loopback.hpp"
#include "version.hpp"

namespace imgup::app {
namespace {

namespace fs = std::filesystem;

constexpr int kProcessingNice = 10;  // image processing threads, below the request threads

/// The stores `imgup serve` runs on, whichever the storage.
struct ServeStores {
  BlobStore* blobs = nullptr;
  MetadataStore* records = nullptr;
  ApiKeyStore* keys = nullptr;
  UploadTickets* tickets = nullptr;
  /// The records left "processing" (the processing window's refill): the store's own
  /// ListProcessing locally; a walk of every record on DynamoDB (ScanProcessing).
  std::function<Result<std::vector<RecordRef>>(std::size_t)> processing;
  bool local = false;  // the local stores: presigned URLs answered here, fsck at start
  LocalStores local_stores;
  std::unique_ptr<AwsBackend> aws;
};

/// Records in status "processing", of every owner, found by walking the owner directory and
/// reading each record (DynamoDB keeps no index by status: on AWS the S3 event is the queue).
/// One GetItem per record: run at start-up and when more uploads wait than the window holds,
/// off the request path; fine for one machine's table, slow for a very large one.
Result<std::vector<RecordRef>> ScanProcessing(MetadataStore& records, std::size_t limit) {
  std::vector<RecordRef> found;
  std::string token;
  do {
    IMGUP_ASSIGN_OR_RETURN(RefPage page, records.ListRefs(token, 100));
    for (RecordRef& ref : page.items) {
      auto record = records.Get(ref.owner, ref.id);
      if (!record) {
        if (record.error().code == ErrorCode::kNotFound) continue;  // removed meanwhile
        return tl::unexpected(std::move(record.error()));
      }
      if (record->status != ImageStatus::kProcessing) continue;
      found.push_back(std::move(ref));
      if (found.size() >= limit) break;
    }
    token = found.size() >= limit ? std::string() : std::move(page.next_token);
  } while (!token.empty());
  // Oldest first, as PendingRecords asks. The walk goes owner by owner, so with more than
  // `limit` waiting these are the oldest of the owners walked first, not of all.
  std::ranges::sort(found, {}, &RecordRef::id);
  return found;
}

ServeStores OpenServeStores(const ServeOptions& options, SignedUrls& urls, Clock& clock) {
  ServeStores stores;
  if (options.storage == "aws") {
    auto backend = OpenAwsBackend(
        AwsBackendConfigFromProcess(options.bucket, options.table, options.cursor_secret), clock);
    if (!backend) Die(backend.error().message + " " + backend.error().detail, 2);
    const AwsBackendDescription& d = (*backend)->Description();
    // Nothing is served until the bucket and the table answer: a wrong setting is one clear
    // message now rather than a 500 for every request.
    if (auto checked = (*backend)->Check(); !checked) {
      Die("storage check failed: " + checked.error().message +
          (checked.error().detail.empty() ? "" : "\n  detail: " + checked.error().detail));
    }
    std::cerr << "imgup: storage aws: bucket " << d.bucket << " at " << d.s3_endpoint << ", table "
              << d.table << " at " << d.dynamodb_endpoint << " (" << d.region << ")\n";
    if (d.cursor_secret_random) {
      std::cerr << "imgup: IMGUP_CURSOR_SECRET is not set: continuation tokens are sealed with a "
                   "secret of this process (fine for one server; set it, the same everywhere, "
                   "when several serve one table)\n";
    }
    stores.aws = std::move(*backend);
    stores.blobs = &stores.aws->Blobs();
    stores.records = &stores.aws->Records();
    stores.keys = &stores.aws->Records();
    stores.tickets = &stores.aws->Records();
    stores.processing = [records = stores.records](std::size_t limit) {
      return ScanProcessing(*records, limit);
    };
    return stores;
  }
  stores.local = true;
  stores.local_stores = OpenStores(options.data_dir, options.fsync, &urls);
  stores.blobs = stores.local_stores.blobs.get();
  stores.records = stores.local_stores.records.get();
  stores.keys = stores.local_stores.records.get();
  stores.tickets = stores.local_stores.records.get();
  stores.processing = [records = stores.local_stores.records.get()](std::size_t limit) {
    return records->ListProcessing(limit);
  };
  return stores;
}

/// "cannot listen on HOST:PORT: REASON", and what to do when another process holds the port.
std::string ListenFailure(const Error& error, const ServeOptions& options) {
  std::string text = error.message + ": " + error.detail;
  if (error.slug == "address_in_use") {
    text += ". Another process (another imgup serve?) listens on port " +
            std::to_string(options.port) +
            ": stop it, or choose another port with --port (0 picks a free one).";
  }
  return text;
}

std::string NoKeysOnTheNetwork(const std::string& host) {
  return "refusing to listen on " + host +
         " without API keys: everything would be open to the network. Add a key with "
         "'imgup keys add NAME' or listen on 127.0.0.1.";
}

class NoCallers final : public Authenticator {
 public:
  Result<std::string> Authenticate(const CallerCredentials&) override {
    return Fail(ErrorCode::kUnauthenticated, "unauthorized", "not serving yet");
  }
};

/// Dies saying why when the address cannot be listened on. Asked before anything is created on
/// disk, so that a start on a busy port leaves no data directory or database behind; the
/// server binds again once its stores are open (the port is free then, barring a race).
void CheckCanListen(const ServeOptions& options) {
  if (options.port == 0) return;  // the kernel picks a free one
  SystemClock clock;
  UlidGenerator ids;
  NoCallers nobody;
  Router router(nobody);
  HttpServerOptions probe_options;
  probe_options.host = options.host;
  probe_options.port = options.port;
  HttpServer probe(router, probe_options, clock, ids, [](const std::string&) {});
  auto port = probe.Bind();
  if (!port) Die(ListenFailure(port.error(), options));
}

}  // namespace

int Serve(const ServeOptions& options) {
  // Signals are taken by one thread, so they are blocked before any thread starts.
  const sigset_t signals = BlockStopSignals();

  // A data directory without a database holds no key: refuse a network address before
  // creating anything (the same check runs again below on an existing store, and on DynamoDB).
  if (options.storage != "aws" && !fs::exists(fs::path(options.data_dir) / "imgup.db") &&
      !ResolvesOnlyToLoopback(options.host)) {
    Die(NoKeysOnTheNetwork(options.host));
  }
  CheckCanListen(options);
  SystemClock clock;
  // The presigned URLs of the local blob store are good for this process only.
  std::string url_secret(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(url_secret.data()), 32) != 1) {
    Die("no randomness for signing URLs");
  }
  SignedUrls urls(std::move(url_secret), clock);
  ServeStores stores = OpenServeStores(options, urls, clock);
  auto has_keys = stores.keys->HasKeys();
  if (!has_keys) Die(has_keys.error().message);
  if (!*has_keys && !ResolvesOnlyToLoopback(options.host)) {
    Die(NoKeysOnTheNetwork(options.host));
  }

  // Leftovers of a crash: no upload is in flight yet, so every orphan can go. Not on S3 and
  // DynamoDB: other servers may share the bucket and table, with uploads in flight.
  if (stores.local) {
    const FsckSummary startup = RunLocalFsck(stores.local_stores, /*repair=*/true, /*grace_ms=*/0);
    if (!startup.report.Clean() || startup.temp_files_removed > 0) {
      std::cerr << "imgup: start-up fsck repaired " << FsckJson(startup).dump() << "\n";
    }
  }

  const auto log_line = StdoutLines();

  // The image pipeline, off the request path: uploads are queued to a bounded worker pool, and
  // the pixel work runs in child processes that are killed at the deadline (pixel-worker).
  // Their temp files live under the data directory; a crash's leftovers go now.
  const fs::path pixel_temp = fs::path(options.data_dir) / "tmp";
  {
    std::error_code ec;
    fs::remove_all(pixel_temp, ec);
  }
  SandboxOptions sandbox_options;
  sandbox_options.worker_command = {"/proc/self/exe", "pixel-worker"};
  sandbox_options.temp_root = pixel_temp;
  sandbox_options.memory_budget_bytes = options.processing_memory_mb << 20;
  sandbox_options.temp_limit_bytes = options.processing_temp_mb << 20;
  SandboxedImageProcessor processor(sandbox_options);
  ProcessingPolicy policy;
  policy.limits.max_pixels = options.max_pixels;
  policy.limits.max_frames = options.max_frames;
  policy.limits.keep_gps = options.keep_gps;
  policy.limits.max_decode_ms = options.max_decode_ms;
  policy.failed_originals = options.failed_originals == "quarantine"
                                ? FailedOriginalPolicy::kQuarantine
                                : FailedOriginalPolicy::kRemove;
  ProcessingService processing(*stores.blobs, *stores.records, processor, policy);
  auto process_one = [&](const RecordRef& ref) {
    // Derived work yields the CPU to requests: uploads are answered first, variants follow.
    thread_local const bool niced = [] {
      pthread_setname_np(pthread_self(), "imgup-process");  // for top -H, perf, gdb
      return setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kProcessingNice) == 0;
    }();
    (void)niced;
    const auto start = std::chrono::steady_clock::now();
    ProcessingOutcome outcome = processing.Run(ref.owner, ref.id);
    const auto& result = outcome.record;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json line = {
        {"ts", FormatRfc3339(clock.NowMs())},
        {"level", result ? "info" : (outcome.retry_after ? "warn" : "error")},
        {"msg", "processed"},
        {"owner", ref.owner},
        {"id", ref.id},
        {"duration_ms", static_cast<double>(static_cast<std::int64_t>(ms * 1000)) / 1000}};
    if (result) {
      line["status"] = ToString(result->status);
      if (!result->failure_reason.empty()) line["failure_reason"] = result->failure_reason;
    } else {
      line["error"] = result.error().slug;
      line["error_detail"] = result.error().detail;
    }
    if (outcome.retry_after) line["retry_in_ms"] = outcome.retry_after->count();
    log_line(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return outcome.retry_after;
  };
  // The store is the queue (every waiting record says "processing"); memory holds a window of
  // ids. Uploads never wait for processing: past the window, the workers fetch from the store.
  WorkerPool workers(options.workers, options.queue_capacity, std::move(process_one),
                     stores.processing);

  UlidGenerator ids;
  UploadLimits limits;
  limits.max_pixels = options.max_pixels;
  ImageService service(*stores.blobs, *stores.records, clock, ids, limits, &workers);
  // Uploads past the inline limit: on both storages the form is this server's one-time URL
  // (the bytes come here, and are committed when they do), not S3's: no S3 event reaches a
  // local server (ADR 15).
  PresignedUploadSettings upload_settings;
  upload_settings.max_upload_bytes = options.max_upload_bytes;
  upload_settings.form_ttl_s = options.upload_form_ttl_s;
  // A pending upload outlives its form by as long again (bytes sent at its last second).
  upload_settings.commit_grace_s = options.upload_form_ttl_s;
  PresignedUploads uploads(
      service, *stores.blobs, *stores.records, *stores.tickets, clock, ids,
      [&urls](const UploadPolicy& form) { return urls.SignPost(form); }, upload_settings, &workers);
  ApiKeyAuthenticator authenticator(*stores.keys);
  Router router(authenticator);
  ApiConfig api_config;
  api_config.max_body_bytes = options.max_body_bytes;
  api_config.version = kVersion;
  api_config.pending_processing = [&workers] { return workers.Pending(); };
  api_config.content_redirect = options.content_redirect;
  api_config.uploads = &uploads;
  router.AllowOrigins(options.cors_origins);
  RegisterApiRoutes(router, service, api_config);
  // The one-time URLs of this process: the local store's presigned GETs, and on both storages
  // the forms of POST /uploads, whose bytes are committed as they arrive.
  RegisterBlobRoutes(
      router, urls, *stores.blobs,
      [&uploads, &clock, &log_line](const std::string& key) -> Result<void> {
        const std::optional<ImageKey> image = ParseImageKey(key);
        if (!image || image->kind != ImageKey::Kind::kStaging) return {};
        auto arrived = uploads.Arrived(image->owner, image->id);
        nlohmann::json line = {{"ts", FormatRfc3339(clock.NowMs())},
                               {"level", arrived ? "info" : "error"},
                               {"msg", "upload arrived"},
                               {"owner", image->owner},
                               {"id", image->id}};
        if (!arrived) {
          line["error"] = arrived.error().slug;
          line["error_detail"] = arrived.error().detail;
        } else if (arrived->ticket) {
          line["status"] = ToString(arrived->ticket->state);
          line["reason"] = arrived->ticket->failure_reason;
        } else if (arrived->record) {
          line["status"] = ToString(arrived->record->status);
        }
        log_line(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        if (!arrived) return tl::unexpected(arrived.error());
        return {};
      });

  HttpServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.max_body_bytes = options.max_body_bytes;
  // The form's fields and multipart framing come on top of the file.
  server_options.large_body_path = std::string(SignedUrls::kPostPath);
  server_options.large_body_limit = std::max<std::size_t>(
      options.max_body_bytes, options.max_upload_bytes + kFormFieldsAllowance);
  // The form route is public: without a form this server signed, nobody makes it read a body.
  server_options.large_body_check = FormBodyLimit(urls);
  server_options.threads = options.threads;
  HttpServer server(router, server_options, clock, ids, log_line);
  auto port = server.Bind();
  if (!port) Die(ListenFailure(port.error(), options));

  std::thread signal_thread([&server, &workers, &processor, signals] {
    // Waited for before anything is written: the operands of << run left to right.
    const char* signal_name = WaitForStopSignal(signals);
    std::cerr << "imgup: " << signal_name << ", finishing in-flight requests\n";
    server.Stop();
    // Images being processed are not waited for: their workers are killed and the records
    // stay "processing", to be taken up again at the next start.
    workers.Stop();
    processor.Abort();
  });
  // Records that a crash or a stop left "processing" are fetched by the workers, without holding
  // up the server.
  workers.Resume();
  std::cerr << "imgup: listening on http://" << options.host << ":" << *port << std::endl;
  server.Serve();
  signal_thread.join();
  workers.Shutdown();
  std::cerr << "imgup: stopped\n";
  return 0;
}

}  // namespace imgup::app
