#include "client.hpp"

#include <curl/curl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <thread>

#include "codecs/sniff.hpp"

namespace imgup::cli {

namespace {

std::atomic<bool> g_interrupted{false};

void OnSigint(int) {
  // A second Ctrl-C ends the process at once, as people expect of a stuck command.
  if (g_interrupted.exchange(true)) _exit(130);
}

std::size_t AppendBody(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t upload_total, curl_off_t uploaded) {
  if (g_interrupted.load()) return 1;  // aborts the transfer: CURLE_ABORTED_BY_CALLBACK
  const auto* progress = static_cast<const UploadProgress*>(user);
  if (progress != nullptr && *progress && upload_total > 0) {
    (*progress)(static_cast<std::uint64_t>(uploaded), static_cast<std::uint64_t>(upload_total));
  }
  return 0;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* user) {
  // Retry-After in seconds (the HTTP-date form is not worth parsing for a CLI).
  const std::string_view line(data, size * count);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string lower(line.substr(0, kName.size()));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kName) {
      long seconds = 0;
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      (void)end;
      if (ec == std::errc{}) *static_cast<long*>(user) = seconds;
    }
  }
  return size * count;
}

std::string Escape(CURL* curl, const std::string& text) {
  char* escaped = curl_easy_escape(curl, text.c_str(), static_cast<int>(text.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

/// Sleeps `ms`, waking early on Ctrl-C.
void SleepUnlessInterrupted(long ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!g_interrupted.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

void InstallInterruptHandler() {
  struct sigaction action {};
  action.sa_handler = OnSigint;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
}

bool Interrupted() { return g_interrupted.load(); }

Client::Client(std::string base_url, std::string api_key, RetryPolicy retry)
    : base_url_(std::move(base_url)),
      api_key_(std::move(api_key)),
      retry_(retry),
      curl_(curl_easy_init()) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Client::~Client() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

ClientResponse Client::UploadFile(const std::string& path, const UploadProgress& progress) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ClientResponse{0, {}, {}, "cannot read " + path, {}, {}};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const std::size_t slash = path.find_last_of('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (const std::uint64_t limit = InlineLimit(); limit > 0 && bytes.size() > limit) {
    return UploadPresigned(name, bytes, progress);
  }
  return Perform("POST", "/upload?filename=" + Escape(static_cast<CURL*>(curl_), name), &bytes,
                 "application/octet-stream", &progress);
}

std::uint64_t Client::InlineLimit() {
  if (inline_limit_ < 0) {
    inline_limit_ = 0;
    const ClientResponse health = Get("/health");
    auto json = nlohmann::json::parse(health.body, nullptr, false);
    if (health.status == 200 && json.is_object() && json.contains("limits") &&
        json["limits"].value("max_body_bytes", std::int64_t{0}) > 0 &&
        json["limits"].contains("max_upload_bytes")) {
      inline_limit_ = json["limits"].value("max_body_bytes", std::int64_t{0});
    }
  }
  return static_cast<std::uint64_t>(inline_limit_);
}

ClientResponse Client::UploadPresigned(const std::string& name, const std::string& bytes,
                                       const UploadProgress& progress) {
  // The type is declared up front, and the server holds the bytes to it: the same sniffing.
  auto sniffed = SniffImage(bytes);
  const std::string type = sniffed ? sniffed->content_type : "application/octet-stream";
  const std::string request =
      nlohmann::json{{"filename", name}, {"content_type", type}, {"size_bytes", bytes.size()}}
          .dump();
  ClientResponse started = Perform("POST", "/uploads", &request, "application/json", nullptr);
  if (started.status != 201) return started;
  auto form = nlohmann::ordered_json::parse(started.body, nullptr, false);
  if (form.is_discarded() || !form.contains("url") || !form.contains("fields") ||
      !form.contains("id")) {
    return ClientResponse{0, {}, {}, "POST /uploads answered no form", started.url, {}};
  }
  // multipart/form-data as S3 takes it: every field first, in order, the file last.
  const std::string boundary = "imgup-form-" + form["id"].get<std::string>();
  std::string body;
  for (const auto& [field, value] : form["fields"].items()) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field + "\"\r\n\r\n" +
            value.get<std::string>() + "\r\n";
  }
  body += "--" + boundary +
          "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload\"\r\n"
          "Content-Type: " +
          type + "\r\n\r\n";
  body += bytes;
  body += "\r\n--" + boundary + "--\r\n";
  long retry_after_s = -1;
  // The form is its own credential: no key goes to S3.
  ClientResponse posted =
      PerformOnce("POST", form["url"].get<std::string>(), &body,
                  "multipart/form-data; boundary=" + boundary, &progress, &retry_after_s,
                  /*with_key=*/false);
  if (posted.status < 200 || posted.status >= 300) return posted;
  ClientResponse record = Get("/images/" + form["id"].get<std::string>());
  if (record.status == 200) {
    auto json = nlohmann::json::parse(record.body, nullptr, false);
    const bool duplicate = json.is_object() && json.value("duplicate", false);
    if (!duplicate) record.status = 201;
  }
  return record;
}

ClientResponse Client::Get(const std::string& path_and_query) {
  ClientResponse response = Perform("GET", path_and_query, nullptr, "", nullptr);
  if (response.status >= 300 && response.status < 400 && !response.redirect_url.empty()) {
    long retry_after_s = -1;
    return PerformOnce("GET", response.redirect_url, nullptr, "", nullptr, &retry_after_s,
                       /*with_key=*/false);
  }
  return response;
}

ClientResponse Client::Delete(const std::string& path) {
  return Perform("DELETE", path, nullptr, "", nullptr);
}

ClientResponse Client::Perform(const std::string& method, const std::string& path,
                               const std::string* body, const std::string& content_type,
                               const UploadProgress* progress) {
  const std::string url = base_url_ + path;
  long delay_ms = retry_.first_delay_ms;
  for (int attempt = 1;; ++attempt) {
    long retry_after_s = -1;
    ClientResponse response =
        PerformOnce(method, url, body, content_type, progress, &retry_after_s);
    // 503: the server is starting, stopping or busy; the same request may well work shortly.
    // Uploads are safe to repeat: the same bytes give the same record ("duplicate").
    if (response.status != 503 || attempt >= retry_.attempts || g_interrupted.load()) {
      return response;
    }
    const long wait_ms =
        std::min(retry_.max_delay_ms, retry_after_s >= 0 ? retry_after_s * 1000 : delay_ms);
    std::fprintf(stderr, "imgup: %s %s: 503, retrying in %.1f s (%d/%d)\n", method.c_str(),
                 url.c_str(), static_cast<double>(wait_ms) / 1000.0, attempt, retry_.attempts - 1);
    SleepUnlessInterrupted(wait_ms);
    delay_ms = std::min(retry_.max_delay_ms, delay_ms * 2);
  }
}

ClientResponse Client::PerformOnce(const std::string& method, const std::string& url,
                                   const std::string* body, const std::string& content_type,
                                   const UploadProgress* progress, long* retry_after_s,
                                   bool with_key) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  ClientResponse response;
  response.url = url;
  curl_slist* headers = nullptr;
  if (with_key && !api_key_.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key_).c_str());
  }
  if (body != nullptr) {
    headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
    // The server answers 413 at once when a body is too large; no need to wait for 100.
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "GET") curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, retry_after_s);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "imgup-cli/0.1");
  // Every request watches for Ctrl-C through the progress callback.
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, progress);
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    response.error = code == CURLE_ABORTED_BY_CALLBACK ? "interrupted" : curl_easy_strerror(code);
    return response;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr) response.content_type = type;
  char* redirect = nullptr;
  curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &redirect);
  if (redirect != nullptr) response.redirect_url = redirect;
  return response;
}

std::string HumanBytes(std::uint64_t bytes) {
  char buf[32];
  if (bytes >= 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  } else if (bytes >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KB", static_cast<double>(bytes) / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  }
  return buf;
}

std::string FailureInWords(const std::string& reason) {
  static const std::pair<const char*, const char*> kWords[] = {
      {"decode_failed", "the image data is corrupt or cut short"},
      {"bad_frame", "a frame of the animation is broken"},
      {"processing_timeout", "processing took longer than the server allows (--max-decode-ms)"},
      {"out_of_memory", "processing needed more memory than the server allows"},
      {"temp_space_exceeded", "processing needed more temp disc space than the server allows"},
      {"image_too_large", "more pixels or frames than the server allows"},
      {"unsupported_media_type", "a format the server cannot decode"},
      {"worker_crashed", "the decoder crashed on this image"},
  };
  if (reason.empty()) return "no reason given";
  // The server's reasons mostly carry their words already ("decode_failed: The image ...").
  if (reason.find(": ") != std::string::npos) return reason;
  for (const auto& [slug, words] : kWords) {
    if (reason == slug) return reason + ": " + words;
  }
  return reason;
}

std::string DescribeFailure(const ClientResponse& response) {
  if (response.status == 0) {
    if (response.url.empty() || response.error == "interrupted") return response.error;
    return "cannot reach " + response.url + ": " + response.error;
  }
  auto problem = nlohmann::json::parse(response.body, nullptr, false);
  if (!problem.is_discarded() && problem.is_object() && problem.contains("detail")) {
    return std::to_string(response.status) + " " + problem.value("code", "") + ": " +
           problem.value("detail", "");
  }
  return "HTTP " + std::to_string(response.status);
}

}  // namespace imgup::cli
