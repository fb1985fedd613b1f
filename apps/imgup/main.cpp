// imgup: one program for people. main() reads the command line (flags and IMGUP_* environment
// variables) and runs one command; each command lives in its own file, and `imgup serve`
// (serve_command.cpp) is the local server's composition root.
#include <curl/curl.h>

#include <CLI/CLI.hpp>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "admin_commands.hpp"
#include "aws_commands.hpp"
#include "client.hpp"
#include "client_commands.hpp"
#include "gateway_command.hpp"
#include "imaging/pixel_worker.hpp"
#include "local_stores.hpp"
#include "serve_command.hpp"
#include "upload_command.hpp"
#include "version.hpp"

using namespace imgup;
using namespace imgup::app;

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
  // Where the bucket, the table and the cursor secret of `--storage aws` come from (serve,
  // init-aws, keys). The rest of the AWS configuration is the AWS CLI's: AWS_REGION,
  // AWS_ENDPOINT_URL[_S3|_DYNAMODB], AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...
  auto add_aws_options = [](CLI::App* cmd, std::string& bucket, std::string& table,
                            std::string& cursor_secret) {
    cmd->add_option("--bucket", bucket, "S3 bucket (--storage aws)")->envname("IMGUP_BUCKET");
    cmd->add_option("--table", table, "DynamoDB table (--storage aws)")->envname("IMGUP_TABLE");
    cmd->add_option("--cursor-secret", cursor_secret,
                    "Seals DynamoDB continuation tokens; the same on every server of a table "
                    "(--storage aws; at least 16 bytes)")
        ->envname("IMGUP_CURSOR_SECRET");
  };
  auto add_storage_option = [](CLI::App* cmd, std::string& storage) {
    cmd->add_option("--storage", storage, "local (data directory) or aws (S3 + DynamoDB)")
        ->envname("IMGUP_STORAGE")
        ->capture_default_str()
        ->check(CLI::IsMember({"local", "aws"}));
  };
  add_storage_option(serve_cmd, serve.storage);
  add_aws_options(serve_cmd, serve.bucket, serve.table, serve.cursor_secret);
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
  serve_cmd
      ->add_option("--max-upload-bytes", serve.max_upload_bytes,
                   "Largest image POST /uploads takes (past --max-body-bytes)")
      ->envname("IMGUP_MAX_UPLOAD_BYTES")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
  serve_cmd
      ->add_option("--upload-ttl", serve.upload_form_ttl_s, "Seconds a POST /uploads form works")
      ->envname("IMGUP_UPLOAD_TTL")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{7 * 86400}));
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
  serve_cmd
      ->add_flag("--content-redirect", serve.content_redirect,
                 "Answer image content with a redirect to a one-time presigned URL")
      ->envname("IMGUP_CONTENT_REDIRECT");
  serve_cmd
      ->add_option("--cors-origin", serve.cors_origins,
                   "An origin (http(s)://host[:port]) whose pages may call the API; repeat it "
                   "for more (CORS, off by default)")
      ->envname("IMGUP_CORS_ORIGINS")
      ->delimiter(',')
      ->check(CLI::Validator(
          [](std::string& origin) -> std::string {
            // An exact origin: a browser's Origin header is scheme://host[:port], nothing more.
            static const std::regex kOrigin(
                R"(^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$)");
            if (std::regex_match(origin, kOrigin)) return {};
            return "not an origin (http(s)://host[:port], no path, no '*'): " + origin;
          },
          "ORIGIN"));

  // Client commands
  ClientOptions client;
  auto add_client_options = [&client](CLI::App* cmd) {
    cmd->add_option("--url", client.url, "Server URL")->envname("IMGUP_URL")->capture_default_str();
    cmd->add_option("--key", client.key, "API key")->envname("IMGUP_API_KEY");
    cmd->add_flag("--json", client.json, "Machine-readable output");
  };
  std::vector<std::string> upload_files;
  cli::UploadOptions upload;
  auto* upload_cmd = app.add_subcommand("upload", "Upload image files and folders");
  upload_cmd->add_option("paths", upload_files, "Image files, or folders to upload recursively")
      ->required()
      ->check(CLI::ExistingPath);
  upload_cmd->add_option("-j,--jobs", upload.jobs, "Uploads in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  upload_cmd->add_flag("--wait", upload.wait,
                       "Wait until the server has processed each image (ready or failed) and "
                       "report its final state");
  upload_cmd
      ->add_option("--wait-timeout", upload.wait_timeout_s,
                   "Seconds --wait waits for processing in all")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  add_client_options(upload_cmd);

  ListOptions list;
  auto* ls_cmd = app.add_subcommand("ls", "List images, newest first");
  ls_cmd->add_option("--limit", list.limit, "How many per page")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  ls_cmd->add_option("--cursor", list.cursor, "Start after an earlier page (its next_cursor)");
  ls_cmd->add_flag("--all", list.all, "Every page");
  add_client_options(ls_cmd);

  std::string image_id;
  GetOptions get;
  auto* get_cmd =
      app.add_subcommand("get", "Show an image's record, or save its bytes with -o or --variant");
  get_cmd->add_option("id", image_id, "Image id")->required();
  auto* variant_option = get_cmd->add_option("--variant", get.variant, "original, thumb or medium")
                             ->capture_default_str();
  get_cmd->add_option("-o,--output", get.output,
                      "Write the bytes to this file ('-': stdout); without it, --variant writes "
                      "ID[-VARIANT].EXT here");
  add_client_options(get_cmd);

  std::vector<std::string> remove_ids;
  auto* rm_cmd = app.add_subcommand("rm", "Delete images and their variants");
  rm_cmd->add_option("ids", remove_ids, "Image ids")->required();
  add_client_options(rm_cmd);

  // imgup init-aws
  AwsStorageOptions init_aws;
  auto* init_aws_cmd = app.add_subcommand(
      "init-aws", "Create the S3 bucket and the DynamoDB table of --storage aws (idempotent)");
  add_aws_options(init_aws_cmd, init_aws.bucket, init_aws.table, init_aws.cursor_secret);

  // imgup keys
  std::string data_dir = "data";
  KeyStoreOptions key_store;
  std::string key_name;
  bool keys_json = false;
  auto* keys_cmd = app.add_subcommand("keys", "Manage API keys");
  keys_cmd->require_subcommand(1);
  auto add_data_option = [&data_dir](CLI::App* cmd) {
    cmd->add_option("--data", data_dir, "Data directory")
        ->envname("IMGUP_DATA_DIR")
        ->capture_default_str();
  };
  auto add_key_store_options = [&](CLI::App* cmd) {
    add_data_option(cmd);
    add_storage_option(cmd, key_store.storage);
    add_aws_options(cmd, key_store.aws.bucket, key_store.aws.table, key_store.aws.cursor_secret);
  };
  auto* keys_add = keys_cmd->add_subcommand("add", "Create a key; prints it once");
  keys_add->add_option("name", key_name, "Key name (the owner of its uploads)")->required();
  bool keep_local = false;
  keys_add->add_flag("--keep-local", keep_local,
                     "When this is the first key, also add a key named 'local' for the images "
                     "uploaded without a key");
  add_key_store_options(keys_add);
  auto* keys_ls = keys_cmd->add_subcommand("ls", "List key names");
  keys_ls->add_flag("--json", keys_json, "Machine-readable output");
  add_key_store_options(keys_ls);
  auto* keys_rm = keys_cmd->add_subcommand("rm", "Revoke a key");
  keys_rm->add_option("name", key_name, "Key name")->required();
  add_key_store_options(keys_rm);

  // imgup gateway
  GatewayCommandOptions gateway;
  auto* gateway_cmd = app.add_subcommand(
      "gateway",
      "API Gateway on this machine: HTTP requests as proxy events to a Lambda function under AWS's "
      "Runtime Interface Emulator (make run-lambda)");
  gateway_cmd
      ->add_option("--function-url", gateway.function_url,
                   "The function's invoke URL (http://127.0.0.1:P/2015-03-31/functions/function/"
                   "invocations)")
      ->envname("IMGUP_API_FUNCTION_URL")
      ->required();
  gateway_cmd->add_option("--host", gateway.host, "Address to listen on")->capture_default_str();
  gateway_cmd->add_option("--port", gateway.port, "Port (0 picks a free one)")
      ->envname("IMGUP_PORT")
      ->capture_default_str();
  gateway_cmd
      ->add_option("--payload", gateway.payload,
                   "http: an HTTP API (payload 2.0); rest: a REST API (payload 1.0)")
      ->envname("IMGUP_GATEWAY_PAYLOAD")
      ->capture_default_str()
      ->check(CLI::IsMember({"http", "rest"}));
  gateway_cmd
      ->add_option("--stage", gateway.stage,
                   "Serve the API under /STAGE/ (a REST API's stage, or a named HTTP API stage)")
      ->envname("IMGUP_GATEWAY_STAGE");
  gateway_cmd->add_option("--timeout", gateway.timeout_s, "Integration timeout in seconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 900));

  // imgup fsck
  bool fsck_check = false, fsck_json = false;
  auto* fsck_cmd = app.add_subcommand("fsck", "Find and remove leftovers of a crash");
  fsck_cmd->add_flag("--check", fsck_check, "Only report; exit 1 when not clean");
  fsck_cmd->add_flag("--json", fsck_json, "Machine-readable output");
  add_data_option(fsck_cmd);

  CLI11_PARSE(app, argc, argv);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (serve_cmd->parsed()) return Serve(serve);
  if (gateway_cmd->parsed()) return RunGateway(gateway);
  // The client commands: Ctrl-C stops what is in flight and lets them say what was done.
  cli::InstallInterruptHandler();
  if (upload_cmd->parsed()) {
    return cli::RunUpload(client.url, client.key, client.json, upload, upload_files);
  }
  if (ls_cmd->parsed()) return List(client, list);
  if (get_cmd->parsed()) {
    get.variant_given = variant_option->count() > 0;
    return GetImage(client, image_id, get);
  }
  if (rm_cmd->parsed()) return Remove(client, remove_ids);
  if (init_aws_cmd->parsed()) return InitAws(init_aws);
  key_store.data_dir = data_dir;
  if (keys_add->parsed()) return KeysAdd(key_store, key_name, keep_local);
  if (keys_ls->parsed()) return KeysList(key_store, keys_json);
  if (keys_rm->parsed()) return KeysRemove(key_store, key_name);
  if (fsck_cmd->parsed()) return Fsck(data_dir, fsck_check, fsck_json);
  return 2;
}
