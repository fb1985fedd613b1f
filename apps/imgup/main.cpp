// imgup: the composition root. It reads configuration (flags and IMGUP_* environment variables),
// builds the object graph from the concrete adapters, and runs one command.
#include <curl/curl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "adapters/local/fs_blob_store.hpp"
#include "adapters/local/sqlite_metadata_store.hpp"
#include "client.hpp"
#include "core/auth.hpp"
#include "core/fsck.hpp"
#include "core/handlers.hpp"
#include "core/processing_service.hpp"
#include "core/record_json.hpp"
#include "core/router.hpp"
#include "core/sha256.hpp"
#include "core/ulid.hpp"
#include "core/upload_service.hpp"
#include "imaging/pixel_worker.hpp"
#include "imaging/sandboxed_processor.hpp"
#include "transport/http/http_server.hpp"
#include "transport/http/loopback.hpp"
#include "upload_command.hpp"

namespace fs = std::filesystem;
using namespace imgup;

namespace {

constexpr const char* kVersion = "0.1.0";
constexpr int kProcessingNice = 10;  // image processing threads, below the request threads

class SystemClock final : public Clock {
 public:
  std::int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

/// The local stores under one data directory: DIR/imgup.db and DIR/blobs/.
struct LocalStores {
  std::unique_ptr<FsBlobStore> blobs;
  std::unique_ptr<SqliteMetadataStore> records;
};

[[noreturn]] void Die(const std::string& message, int code = 1) {
  std::cerr << "imgup: " << message << "\n";
  std::exit(code);
}

LocalStores OpenStores(const fs::path& data_dir, bool fsync) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) Die("cannot create data directory " + data_dir.string() + ": " + ec.message());
  auto blobs = FsBlobStore::Open(data_dir / "blobs", FsBlobStore::Options{fsync});
  if (!blobs) Die(blobs.error().message + " " + blobs.error().detail);
  auto records = SqliteMetadataStore::Open(data_dir / "imgup.db");
  if (!records) Die(records.error().message + " " + records.error().detail);
  return LocalStores{std::move(*blobs), std::move(*records)};
}

struct FsckSummary {
  FsckReport report;
  std::size_t temp_files_removed = 0;
};

FsckSummary RunLocalFsck(LocalStores& stores, bool repair, std::int64_t grace_ms) {
  SystemClock clock;
  const std::int64_t now = clock.NowMs();
  FsckSummary summary;
  if (repair) {
    auto removed = stores.blobs->RemoveTempFiles(now - grace_ms);
    if (!removed) Die("fsck: " + removed.error().message + " " + removed.error().detail);
    summary.temp_files_removed = *removed;
  }
  auto report = RunFsck(*stores.blobs, *stores.records, FsckOptions{repair, now, grace_ms});
  if (!report) Die("fsck: " + report.error().message + " " + report.error().detail);
  summary.report = std::move(*report);
  return summary;
}

nlohmann::json FsckJson(const FsckSummary& summary) {
  nlohmann::json missing = nlohmann::json::array();
  for (const RecordRef& ref : summary.report.records_without_blob) {
    missing.push_back({{"owner", ref.owner}, {"id", ref.id}, {"key", ref.key}});
  }
  return {{"clean", summary.report.Clean()},
          {"repaired", summary.report.repaired},
          {"orphan_blobs", summary.report.orphan_blobs},
          {"records_without_blob", missing},
          {"young_orphans_skipped", summary.report.young_orphans_skipped},
          {"temp_files_removed", summary.temp_files_removed}};
}

// ---------------------------------------------------------------------------------------------
// imgup serve

struct ServeOptions {
  std::string data_dir = "data";
  std::string host = "127.0.0.1";
  int port = 8080;
  std::size_t max_body_bytes = 10 * 1024 * 1024;
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
};

int Serve(const ServeOptions& options) {
  // Signals are taken by one thread with sigwait, so block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  LocalStores stores = OpenStores(options.data_dir, options.fsync);
  auto has_keys = stores.records->HasKeys();
  if (!has_keys) Die(has_keys.error().message);
  if (!*has_keys && !ResolvesOnlyToLoopback(options.host)) {
    Die("refusing to listen on " + options.host +
        " without API keys: everything would be open to the network. Add a key with "
        "'imgup keys add NAME' or listen on 127.0.0.1.");
  }

  // Leftovers of a crash: no upload is in flight yet, so every orphan can go.
  const FsckSummary startup = RunLocalFsck(stores, /*repair=*/true, /*grace_ms=*/0);
  if (!startup.report.Clean() || startup.temp_files_removed > 0) {
    std::cerr << "imgup: start-up fsck repaired " << FsckJson(startup).dump() << "\n";
  }

  std::mutex log_mutex;
  auto log_line = [&log_mutex](const std::string& line) {
    std::lock_guard<std::mutex> lock(log_mutex);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  };

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
  SystemClock clock;
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
                     [&stores](std::size_t limit) {
                       return stores.records->ListByStatus(ImageStatus::kProcessing, limit);
                     });

  UlidGenerator ids;
  UploadLimits limits;
  limits.max_pixels = options.max_pixels;
  UploadService service(*stores.blobs, *stores.records, clock, ids, limits, &workers);
  ApiKeyAuthenticator authenticator(*stores.records);
  Router router(authenticator);
  ApiConfig api_config;
  api_config.max_body_bytes = options.max_body_bytes;
  api_config.version = kVersion;
  api_config.pending_processing = [&workers] { return workers.Pending(); };
  RegisterApiRoutes(router, service, api_config);

  HttpServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.max_body_bytes = options.max_body_bytes;
  server_options.threads = options.threads;
  HttpServer server(router, server_options, clock, ids, log_line);
  auto port = server.Bind();
  if (!port) Die(port.error().message);

  std::thread signal_thread([&server, &workers, &processor, signals] {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    std::cerr << "imgup: " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM")
              << ", finishing in-flight requests\n";
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

// ---------------------------------------------------------------------------------------------
// Client commands

struct ClientOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string key;
  bool json = false;
};

int List(const ClientOptions& options, int limit) {
  cli::Client client(options.url, options.key);
  const cli::ClientResponse response = client.Get("/images?limit=" + std::to_string(limit));
  if (response.status != 200) Die(cli::DescribeFailure(response));
  if (options.json) {
    std::cout << response.body << "\n";
    return 0;
  }
  const auto page = nlohmann::json::parse(response.body, nullptr, false);
  std::printf("%-26s  %-10s  %11s  %-9s  %-24s  %s\n", "ID", "TYPE", "SIZE", "PIXELS", "UPLOADED",
              "FILENAME");
  for (const auto& item : page.value("items", nlohmann::json::array())) {
    const std::string pixels =
        std::to_string(item.value("width", 0)) + "x" + std::to_string(item.value("height", 0));
    std::printf("%-26s  %-10s  %11s  %-9s  %-24s  %s\n", item.value("id", "").c_str(),
                item.value("content_type", "").c_str(),
                cli::HumanBytes(item.value("size_bytes", std::uint64_t{0})).c_str(), pixels.c_str(),
                item.value("uploaded_at", "").c_str(), item.value("filename", "").c_str());
  }
  return 0;
}

int GetImage(const ClientOptions& options, const std::string& id, const std::string& variant,
             const std::string& output) {
  cli::Client client(options.url, options.key);
  if (output.empty()) {
    const cli::ClientResponse response = client.Get("/images/" + id);
    if (response.status != 200) Die(cli::DescribeFailure(response));
    std::cout << nlohmann::json::parse(response.body, nullptr, false).dump(2) << "\n";
    return 0;
  }
  const cli::ClientResponse response = client.Get("/images/" + id + "/content?variant=" + variant);
  if (response.status != 200) Die(cli::DescribeFailure(response));
  std::ofstream out(output, std::ios::binary);
  out.write(response.body.data(), static_cast<std::streamsize>(response.body.size()));
  if (!out) Die("cannot write " + output);
  if (!options.json)
    std::cerr << "imgup: wrote " << cli::HumanBytes(response.body.size()) << " to " << output
              << "\n";
  return 0;
}

int Remove(const ClientOptions& options, const std::string& id) {
  cli::Client client(options.url, options.key);
  const cli::ClientResponse response = client.Delete("/images/" + id);
  if (response.status != 204) Die(cli::DescribeFailure(response));
  if (options.json) {
    std::cout << nlohmann::json{{"id", id}, {"deleted", true}}.dump() << "\n";
  } else {
    std::cout << "deleted " << id << "\n";
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// imgup keys

int KeysAdd(const std::string& data_dir, const std::string& name) {
  if (!IsValidOwnerName(name)) {
    Die("key name must be 1-64 of a-z 0-9 - _, starting with a letter or digit: " + name, 2);
  }
  LocalStores stores = OpenStores(data_dir, false);
  std::string random(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(random.data()), 32) != 1) {
    Die("no randomness for a key");
  }
  const std::string key = FormatApiKey(random);
  auto added = stores.records->AddKey(name, Sha256Hex(key), SystemClock().NowMs());
  if (!added) Die(added.error().message, added.error().code == ErrorCode::kConflict ? 2 : 1);
  std::cout << key << "\n";
  std::cerr << "imgup: key '" << name
            << "' added; it is shown only now (only its hash is stored). Uploads with it "
               "belong to owner '"
            << name << "'.\n";
  return 0;
}

int KeysList(const std::string& data_dir, bool json) {
  LocalStores stores = OpenStores(data_dir, false);
  auto keys = stores.records->ListKeys();
  if (!keys) Die(keys.error().message);
  nlohmann::json out = nlohmann::json::array();
  for (const ApiKeyInfo& key : *keys) {
    if (json) {
      out.push_back({{"name", key.name}, {"created_at", FormatRfc3339(key.created_ms)}});
    } else {
      std::cout << key.name << "  " << FormatRfc3339(key.created_ms) << "\n";
    }
  }
  if (json) std::cout << out.dump(2) << "\n";
  return 0;
}

int KeysRemove(const std::string& data_dir, const std::string& name) {
  LocalStores stores = OpenStores(data_dir, false);
  auto removed = stores.records->RemoveKey(name);
  if (!removed) Die(removed.error().message);
  std::cout << "removed key " << name << "\n";
  return 0;
}

int Fsck(const std::string& data_dir, bool check_only, bool json) {
  LocalStores stores = OpenStores(data_dir, false);
  // A running server may have an upload between its blob and its record: spare young orphans.
  const FsckSummary summary = RunLocalFsck(stores, !check_only, /*grace_ms=*/60'000);
  if (json) {
    std::cout << FsckJson(summary).dump(2) << "\n";
  } else {
    const FsckReport& report = summary.report;
    std::cout << (report.Clean() ? "clean" : "NOT clean") << ": " << report.orphan_blobs.size()
              << " orphan blob(s), " << report.records_without_blob.size()
              << " record(s) without bytes, " << summary.temp_files_removed
              << " temp file(s) removed, " << report.young_orphans_skipped
              << " young orphan(s) left for a running upload"
              << (report.repaired ? " — repaired" : "") << "\n";
    for (const auto& key : report.orphan_blobs) std::cout << "  orphan blob: " << key << "\n";
    for (const auto& ref : report.records_without_blob) {
      std::cout << "  record without bytes: " << ref.id << " (" << ref.key << ")\n";
    }
  }
  // After a repair the store is clean; a check that found problems says so in its exit code.
  return (check_only && !summary.report.Clean()) ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The pixel worker that `imgup serve` starts for image processing (not a command for people).
  if (argc >= 2 && std::string_view(argv[1]) == "pixel-worker") {
    PixelWorkerOptions worker;
    if (!ParsePixelWorkerArgs(argc - 2, argv + 2, worker)) Die("pixel-worker: bad arguments", 2);
    return RunPixelWorker(argv[0], worker);
  }
  CLI::App app{"imgup: a smart image uploader (local server, CLI, and AWS Lambda)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);

  // imgup serve
  ServeOptions serve;
  auto* serve_cmd = app.add_subcommand("serve", "Serve the HTTP API and web page");
  serve_cmd->add_option("--data", serve.data_dir, "Data directory")
      ->envname("IMGUP_DATA_DIR")
      ->capture_default_str();
  serve_cmd->add_option("--host", serve.host, "Address to listen on")
      ->envname("IMGUP_HOST")
      ->capture_default_str();
  serve_cmd->add_option("--port", serve.port, "Port (0 picks a free one)")
      ->envname("IMGUP_PORT")
      ->capture_default_str();
  serve_cmd->add_option("--max-body-bytes", serve.max_body_bytes, "Largest request body")
      ->envname("IMGUP_MAX_BODY_BYTES")
      ->capture_default_str();
  serve_cmd->add_option("--max-pixels", serve.max_pixels, "Largest image (width x height)")
      ->envname("IMGUP_MAX_PIXELS")
      ->capture_default_str();
  serve_cmd->add_option("--threads", serve.threads, "Request handler threads (0: one per CPU)")
      ->envname("IMGUP_THREADS")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  serve_cmd->add_flag("--fsync", serve.fsync, "fsync every blob (survives power loss)")
      ->envname("IMGUP_FSYNC");
  serve_cmd->add_option("--workers", serve.workers, "Image processing threads")
      ->envname("IMGUP_WORKERS")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  serve_cmd
      ->add_option("--queue", serve.queue_capacity,
                   "Image ids held in memory for processing; beyond them, waiting images are "
                   "fetched from the store")
      ->envname("IMGUP_QUEUE")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  serve_cmd->add_option("--max-frames", serve.max_frames, "Most frames of an animation")
      ->envname("IMGUP_MAX_FRAMES")
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-decode-ms", serve.max_decode_ms,
                   "Longest processing of one image; its worker is killed then")
      ->envname("IMGUP_MAX_DECODE_MS")
      ->capture_default_str();
  serve_cmd
      ->add_option("--processing-memory-mb", serve.processing_memory_mb,
                   "Memory for image processing, all workers together; jobs wait for room")
      ->envname("IMGUP_PROCESSING_MEMORY_MB")
      ->capture_default_str()
      ->check(CLI::Range(64, 1 << 20));
  serve_cmd
      ->add_option("--processing-temp-mb", serve.processing_temp_mb,
                   "Temp disc space one image's processing may use")
      ->envname("IMGUP_PROCESSING_TEMP_MB")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  serve_cmd->add_flag("--keep-gps", serve.keep_gps, "Keep GPS EXIF in records (owner only)")
      ->envname("IMGUP_KEEP_GPS");
  serve_cmd
      ->add_option("--failed-originals", serve.failed_originals,
                   "What happens to an original that fails to decode")
      ->envname("IMGUP_FAILED_ORIGINALS")
      ->capture_default_str()
      ->check(CLI::IsMember({"remove", "quarantine"}));

  // Client commands
  ClientOptions client;
  auto add_client_options = [&client](CLI::App* cmd) {
    cmd->add_option("--url", client.url, "Server URL")->envname("IMGUP_URL")->capture_default_str();
    cmd->add_option("--key", client.key, "API key")->envname("IMGUP_API_KEY");
    cmd->add_flag("--json", client.json, "Machine-readable output");
  };
  std::vector<std::string> upload_files;
  std::size_t upload_jobs = 4;
  auto* upload_cmd = app.add_subcommand("upload", "Upload image files and folders");
  upload_cmd->add_option("paths", upload_files, "Image files, or folders to upload recursively")
      ->required()
      ->check(CLI::ExistingPath);
  upload_cmd->add_option("-j,--jobs", upload_jobs, "Uploads in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  add_client_options(upload_cmd);

  int list_limit = 50;
  auto* ls_cmd = app.add_subcommand("ls", "List images, newest first");
  ls_cmd->add_option("--limit", list_limit, "How many")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  add_client_options(ls_cmd);

  std::string image_id, variant = "original", output;
  auto* get_cmd = app.add_subcommand("get", "Show an image's record, or save its bytes with -o");
  get_cmd->add_option("id", image_id, "Image id")->required();
  get_cmd->add_option("--variant", variant, "original, thumb or medium")->capture_default_str();
  get_cmd->add_option("-o,--output", output, "Write the bytes to this file");
  add_client_options(get_cmd);

  auto* rm_cmd = app.add_subcommand("rm", "Delete an image and its variants");
  rm_cmd->add_option("id", image_id, "Image id")->required();
  add_client_options(rm_cmd);

  // imgup keys
  std::string data_dir = "data";
  std::string key_name;
  bool keys_json = false;
  auto* keys_cmd = app.add_subcommand("keys", "Manage API keys");
  keys_cmd->require_subcommand(1);
  auto add_data_option = [&data_dir](CLI::App* cmd) {
    cmd->add_option("--data", data_dir, "Data directory")
        ->envname("IMGUP_DATA_DIR")
        ->capture_default_str();
  };
  auto* keys_add = keys_cmd->add_subcommand("add", "Create a key; prints it once");
  keys_add->add_option("name", key_name, "Key name (the owner of its uploads)")->required();
  add_data_option(keys_add);
  auto* keys_ls = keys_cmd->add_subcommand("ls", "List key names");
  keys_ls->add_flag("--json", keys_json, "Machine-readable output");
  add_data_option(keys_ls);
  auto* keys_rm = keys_cmd->add_subcommand("rm", "Revoke a key");
  keys_rm->add_option("name", key_name, "Key name")->required();
  add_data_option(keys_rm);

  // imgup fsck
  bool fsck_check = false, fsck_json = false;
  auto* fsck_cmd = app.add_subcommand("fsck", "Find and remove leftovers of a crash");
  fsck_cmd->add_flag("--check", fsck_check, "Only report; exit 1 when not clean");
  fsck_cmd->add_flag("--json", fsck_json, "Machine-readable output");
  add_data_option(fsck_cmd);

  CLI11_PARSE(app, argc, argv);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (serve_cmd->parsed()) return Serve(serve);
  if (upload_cmd->parsed()) {
    return cli::RunUpload(client.url, client.key, client.json, upload_jobs, upload_files);
  }
  if (ls_cmd->parsed()) return List(client, list_limit);
  if (get_cmd->parsed()) return GetImage(client, image_id, variant, output);
  if (rm_cmd->parsed()) return Remove(client, image_id);
  if (keys_add->parsed()) return KeysAdd(data_dir, key_name);
  if (keys_ls->parsed()) return KeysList(data_dir, keys_json);
  if (keys_rm->parsed()) return KeysRemove(data_dir, key_name);
  if (fsck_cmd->parsed()) return Fsck(data_dir, fsck_check, fsck_json);
  return 2;
}
