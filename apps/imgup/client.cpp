#include "client.hpp"

#include <curl/curl.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace imgup::cli {

namespace {

std::size_t AppendBody(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t upload_total, curl_off_t uploaded) {
  const auto* progress = static_cast<const UploadProgress*>(user);
  if (progress != nullptr && *progress && upload_total > 0) {
    (*progress)(static_cast<std::uint64_t>(uploaded), static_cast<std::uint64_t>(upload_total));
  }
  return 0;
}

std::string Escape(CURL* curl, const std::string& text) {
  char* escaped = curl_easy_escape(curl, text.c_str(), static_cast<int>(text.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

}  // namespace

Client::Client(std::string base_url, std::string api_key)
    : base_url_(std::move(base_url)), api_key_(std::move(api_key)), curl_(curl_easy_init()) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Client::~Client() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

ClientResponse Client::UploadFile(const std::string& path, const UploadProgress& progress) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ClientResponse{0, {}, {}, "cannot read " + path};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const std::size_t slash = path.find_last_of('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return Perform("POST", "/upload?filename=" + Escape(static_cast<CURL*>(curl_), name), &bytes,
                 "application/octet-stream", &progress);
}

ClientResponse Client::Get(const std::string& path_and_query) {
  return Perform("GET", path_and_query, nullptr, "", nullptr);
}

ClientResponse Client::Delete(const std::string& path) {
  return Perform("DELETE", path, nullptr, "", nullptr);
}

ClientResponse Client::Perform(const std::string& method, const std::string& path,
                               const std::string* body, const std::string& content_type,
                               const UploadProgress* progress) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  ClientResponse response;
  const std::string url = base_url_ + path;
  curl_slist* headers = nullptr;
  if (!api_key_.empty()) {
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
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "imgup-cli/0.1");
  if (progress != nullptr) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, progress);
  }
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    response.error = curl_easy_strerror(code);
    return response;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr) response.content_type = type;
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

std::string DescribeFailure(const ClientResponse& response) {
  if (response.status == 0) return response.error;
  auto problem = nlohmann::json::parse(response.body, nullptr, false);
  if (!problem.is_discarded() && problem.is_object() && problem.contains("detail")) {
    return std::to_string(response.status) + " " + problem.value("code", "") + ": " +
           problem.value("detail", "");
  }
  return "HTTP " + std::to_string(response.status);
}

}  // namespace imgup::cli
