#include "codecs/multipart.hpp"

#include <optional>

#include "codecs/text.hpp"

namespace imgup {

namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

/// The value of `param` in a header like `form-data; name="file"; filename="a.jpg"`.
std::optional<std::string> HeaderParam(std::string_view header, std::string_view param) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t semi = header.find(';', pos);
    // A quoted value may contain ';': skip to the closing quote first.
    std::string_view item =
        header.substr(pos, semi == std::string_view::npos ? header.size() - pos : semi - pos);
    const std::size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      const std::string key = AsciiLower(Trim(item.substr(0, eq)));
      std::string_view rest = header.substr(pos + eq + 1);
      rest = Trim(rest);
      std::string value;
      std::size_t consumed = 0;
      if (!rest.empty() && rest.front() == '"') {
        std::size_t i = 1;
        for (; i < rest.size() && rest[i] != '"'; ++i) {
          if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
          value.push_back(rest[i]);
        }
        consumed = i + 1;
        const std::size_t after = static_cast<std::size_t>(rest.data() - header.data()) + consumed;
        semi = header.find(';', after);
      } else {
        const std::size_t end = rest.find(';');
        value = std::string(Trim(rest.substr(0, end)));
      }
      if (key == param) return value;
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return std::nullopt;
}

}  // namespace

std::string MultipartBoundary(std::string_view content_type) {
  if (AsciiLower(content_type).rfind("multipart/form-data", 0) != 0) return {};
  auto boundary = HeaderParam(content_type, "boundary");
  return boundary ? *boundary : std::string{};
}

Result<std::vector<FormPart>> ParseMultipart(std::string_view body, std::string_view boundary) {
  auto bad = [](std::string message) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_multipart", std::move(message));
  };
  if (boundary.empty() || boundary.size() > 200) return bad("missing or invalid boundary");
  const std::string delimiter = "--" + std::string(boundary);
  std::size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return bad("the body holds no part");
  std::vector<FormPart> parts;
  const std::string next_delimiter = "\r\n" + delimiter;
  while (true) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    // Transport padding, then CRLF.
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") return bad("malformed delimiter line");
    pos += 2;
    const std::size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) return bad("a part has no header end");
    FormPart part;
    std::string_view headers = body.substr(pos, headers_end - pos);
    while (!headers.empty()) {
      const std::size_t eol = headers.find("\r\n");
      const std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string name = AsciiLower(Trim(line.substr(0, colon)));
      const std::string_view value = Trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        if (auto n = HeaderParam(value, "name")) part.name = *n;
        if (auto extended = HeaderParam(value, "filename*")) {
          // RFC 8187: charset'lang'percent-encoded
          const std::size_t quote = extended->find('\'', extended->find('\'') + 1);
          if (quote != std::string::npos) {
            if (auto decoded =
                    PercentDecode(std::string_view(*extended).substr(quote + 1), false)) {
              part.filename = *decoded;
            }
          }
        }
        if (part.filename.empty()) {
          if (auto f = HeaderParam(value, "filename")) part.filename = *f;
        }
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    const std::size_t data_start = headers_end + 4;
    const std::size_t data_end = body.find(next_delimiter, data_start);
    if (data_end == std::string_view::npos) return bad("a part is not terminated");
    part.data = body.substr(data_start, data_end - data_start);
    parts.push_back(std::move(part));
    pos = data_end + 2;
  }
}

}  // namespace imgup
