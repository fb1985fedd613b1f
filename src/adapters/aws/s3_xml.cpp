#include "adapters/aws/s3_xml.hpp"

#include <cstdint>
#include <optional>

namespace imgup::s3 {

namespace {

constexpr int kMaxDepth = 32;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void AppendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

/// "amp" -> "&", "#65" -> "A", "#x41" -> "A"; nullopt for anything else.
std::optional<std::string> DecodeEntity(std::string_view entity) {
  if (entity == "amp") return "&";
  if (entity == "lt") return "<";
  if (entity == "gt") return ">";
  if (entity == "quot") return "\"";
  if (entity == "apos") return "'";
  if (entity.size() < 2 || entity[0] != '#') return std::nullopt;
  const bool hex = entity[1] == 'x';
  const std::string_view digits = entity.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > 8) return std::nullopt;
  std::uint32_t cp = 0;
  for (char c : digits) {
    std::uint32_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<std::uint32_t>(c - '0');
    } else if (hex && c >= 'a' && c <= 'f') {
      digit = static_cast<std::uint32_t>(c - 'a' + 10);
    } else if (hex && c >= 'A' && c <= 'F') {
      digit = static_cast<std::uint32_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    cp = cp * (hex ? 16u : 10u) + digit;
  }
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  std::string out;
  AppendUtf8(out, cp);
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view doc) : doc_(doc) {}

  Result<XmlElement> Document() {
    SkipMisc();
    XmlElement root;
    if (!Element(root, 0)) return Bad();
    SkipMisc();
    if (pos_ != doc_.size()) return Bad();
    return root;
  }

 private:
  tl::unexpected<Error> Bad() const {
    return Fail(ErrorCode::kInternal, "s3_bad_xml", "The storage service sent a malformed answer",
                "XML not understood at byte " + std::to_string(pos_));
  }

  bool Starts(std::string_view text) const { return doc_.substr(pos_).starts_with(text); }

  /// Skips whitespace, the prolog (<?xml ...?>), comments and a doctype-free document's misc.
  void SkipMisc() {
    for (;;) {
      while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
      if (Starts("<?")) {
        const std::size_t end = doc_.find("?>", pos_);
        pos_ = end == std::string_view::npos ? doc_.size() : end + 2;
      } else if (Starts("<!--")) {
        const std::size_t end = doc_.find("-->", pos_);
        pos_ = end == std::string_view::npos ? doc_.size() : end + 3;
      } else {
        return;
      }
    }
  }

  std::string_view Name() {
    const std::size_t start = pos_;
    while (pos_ < doc_.size() && IsNameChar(doc_[pos_])) ++pos_;
    return doc_.substr(start, pos_ - start);
  }

  static std::string LocalName(std::string_view name) {
    const std::size_t colon = name.rfind(':');
    return std::string(colon == std::string_view::npos ? name : name.substr(colon + 1));
  }

  /// Skips the attributes of a start tag (S3 only puts xmlns there); stops before '>' or '/>'.
  bool Attributes() {
    for (;;) {
      while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
      if (pos_ >= doc_.size()) return false;
      if (doc_[pos_] == '>' || doc_[pos_] == '/') return true;
      if (Name().empty()) return false;
      while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
      if (pos_ >= doc_.size() || doc_[pos_] != '=') return false;
      ++pos_;
      while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
      if (pos_ >= doc_.size() || (doc_[pos_] != '"' && doc_[pos_] != '\'')) return false;
      const char quote = doc_[pos_++];
      const std::size_t end = doc_.find(quote, pos_);
      if (end == std::string_view::npos) return false;
      pos_ = end + 1;
    }
  }

  bool Element(XmlElement& out, int depth) {
    if (depth > kMaxDepth || !Starts("<")) return false;
    ++pos_;
    const std::string_view name = Name();
    if (name.empty() || !Attributes()) return false;
    out.name = LocalName(name);
    if (Starts("/>")) {
      pos_ += 2;
      return true;
    }
    ++pos_;  // '>'
    for (;;) {
      if (pos_ >= doc_.size()) return false;
      if (Starts("</")) {
        pos_ += 2;
        if (Name() != name) return false;
        while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
        if (!Starts(">")) return false;
        ++pos_;
        return true;
      }
      if (Starts("<!--")) {
        const std::size_t end = doc_.find("-->", pos_);
        if (end == std::string_view::npos) return false;
        pos_ = end + 3;
      } else if (Starts("<![CDATA[")) {
        const std::size_t end = doc_.find("]]>", pos_);
        if (end == std::string_view::npos) return false;
        out.text += doc_.substr(pos_ + 9, end - pos_ - 9);
        pos_ = end + 3;
      } else if (Starts("<")) {
        out.children.emplace_back();
        if (!Element(out.children.back(), depth + 1)) return false;
      } else if (doc_[pos_] == '&') {
        const std::size_t end = doc_.find(';', pos_);
        if (end == std::string_view::npos) return false;
        const auto decoded = DecodeEntity(doc_.substr(pos_ + 1, end - pos_ - 1));
        if (!decoded) return false;
        out.text += *decoded;
        pos_ = end + 1;
      } else {
        out.text.push_back(doc_[pos_++]);
      }
    }
  }

  std::string_view doc_;
  std::size_t pos_ = 0;
};

}  // namespace

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const auto& child : children) {
    if (child.name == child_name) return &child;
  }
  return nullptr;
}

std::string_view XmlElement::ChildText(std::string_view child_name) const {
  const XmlElement* child = Child(child_name);
  return child == nullptr ? std::string_view{} : std::string_view(child->text);
}

std::vector<const XmlElement*> XmlElement::Children(std::string_view child_name) const {
  std::vector<const XmlElement*> found;
  for (const auto& child : children) {
    if (child.name == child_name) found.push_back(&child);
  }
  return found;
}

Result<XmlElement> ParseXml(std::string_view document) { return Parser(document).Document(); }

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace imgup::s3
