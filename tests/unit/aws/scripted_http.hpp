#pragma once
// An HttpClient for tests: answers each request with the next scripted response (200 "{}" when
// none is left) and keeps the requests, so that a test can hold them against AWS's shapes.
#include <cctype>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "aws/http_client.hpp"

namespace imgup::aws {

/// Answers each Send with the next scripted response and keeps the requests.
class ScriptedHttp final : public HttpClient {
 public:
  Result<HttpResponse> Send(const HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mutex_);
    requests.push_back(request);
    if (answers.empty()) return HttpResponse{200, {}, "{}"};
    HttpResponse next = answers.front();
    answers.pop_front();
    return next;
  }
  void Answer(int status, std::string body) {
    answers.push_back(HttpResponse{status, {{"x-amzn-requestid", "RID"}}, std::move(body)});
  }
  /// The value of header `name` (lower case) of request `i`, "" when absent.
  std::string HeaderOf(std::size_t i, std::string_view name) const {
    for (const auto& header : requests.at(i).headers) {
      std::string lower = header.name;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == name) return header.value;
    }
    return {};
  }
  nlohmann::json BodyOf(std::size_t i) const { return nlohmann::json::parse(requests.at(i).body); }
  /// The DynamoDB operation of request `i` ("PutItem").
  std::string OperationOf(std::size_t i) const {
    const std::string target = HeaderOf(i, "x-amz-target");
    return target.substr(target.find('.') + 1);
  }

  std::vector<HttpRequest> requests;
  std::deque<HttpResponse> answers;
  std::mutex mutex_;
};

}  // namespace imgup::aws
