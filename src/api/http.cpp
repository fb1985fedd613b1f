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

namespace {

/// A run of ASCII digits as a number; nullopt when empty, not digits, or too large.
std::optional<std::uint64_t> Digits(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

/// The text before the first `separator`, trimmed.
std::string_view FirstItem(std::string_view list, char separator) {
  return Trim(list.substr(0, list.find(separator)));
}

/// The scheme the first proxy in front of this server says the client used: "http", "https",
/// or "" when none says (or says something else).
std::string ForwardedScheme(const HttpRequest& request) {
  std::string scheme;
  // Forwarded: for=192.0.2.60;proto=https;by=203.0.113.43, for=... (the first element is the
  // proxy nearest the client).
  std::string_view element = FirstItem(request.Header("forwarded"), ',');
  while (!element.empty()) {
    const std::string_view pair = FirstItem(element, ';');
    const std::size_t equals = pair.find('=');
    if (equals != std::string_view::npos && AsciiLower(Trim(pair.substr(0, equals))) == "proto") {
      std::string_view value = Trim(pair.substr(equals + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      scheme = AsciiLower(value);
      break;
    }
    const std::size_t semicolon = element.find(';');
    element =
        semicolon == std::string_view::npos ? std::string_view{} : element.substr(semicolon + 1);
  }
  if (scheme.empty()) scheme = AsciiLower(FirstItem(request.Header("x-forwarded-proto"), ','));
  return scheme == "http" || scheme == "https" ? scheme : std::string();
}

}  // namespace

std::string HttpRequest::PublicOrigin() const {
  const std::string_view host = Header("host");
  if (host.empty()) return {};
  const std::string scheme = ForwardedScheme(*this);
  return (scheme.empty() ? std::string("http") : scheme) + "://" + std::string(host);
}

RangeAsk ParseRange(std::string_view header, std::uint64_t size) {
  RangeAsk whole;
  header = Trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() <= kUnit.size()) return whole;
  for (std::size_t i = 0; i < kUnit.size(); ++i) {
    const char c = header[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kUnit[i]) return whole;
  }
  const std::string_view spec = Trim(header.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return whole;
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view from = Trim(spec.substr(0, dash));
  const std::string_view to = Trim(spec.substr(dash + 1));
  RangeAsk ask;
  if (from.empty()) {  // "-N": the last N bytes
    const auto suffix = Digits(to);
    if (!suffix) return whole;
    if (*suffix == 0 || size == 0) return RangeAsk{RangeAsk::Kind::kUnsatisfiable, 0, 0};
    ask.first = *suffix >= size ? 0 : size - *suffix;
    ask.last = size - 1;
  } else {
    const auto first = Digits(from);
    if (!first) return whole;
    std::optional<std::uint64_t> last;
    if (!to.empty()) {
      last = Digits(to);
      if (!last || *last < *first) return whole;
    }
    if (*first >= size) return RangeAsk{RangeAsk::Kind::kUnsatisfiable, 0, 0};
    ask.first = *first;
    ask.last = last && *last < size ? *last : size - 1;
  }
  ask.kind = RangeAsk::Kind::kPart;
  return ask;
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
