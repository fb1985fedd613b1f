#include "api/http.hpp"

#include <algorithm>

namespace imgup {

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

std::optional<std::string_view> HttpRequest::Query(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

void HttpResponse::SetHeader(std::string name, std::string value) {
  for (auto& [key, existing] : headers) {
    if (AsciiLower(key) == AsciiLower(name)) {
      existing = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

std::string_view HttpResponse::Header(std::string_view name) const {
  const std::string wanted = AsciiLower(name);
  for (const auto& [key, value] : headers) {
    if (AsciiLower(key) == wanted) return value;
  }
  return {};
}

HeaderList ParseQueryString(std::string_view query) {
  HeaderList out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view raw_key = pair.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    auto key = PercentDecode(raw_key, true);
    auto value = PercentDecode(raw_value, true);
    out.emplace_back(key ? *key : std::string(raw_key), value ? *value : std::string(raw_value));
  }
  return out;
}

}  // namespace imgup
