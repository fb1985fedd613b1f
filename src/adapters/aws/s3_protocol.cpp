#include "adapters/aws/s3_protocol.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

#include "aws/xml.hpp"
#include "codecs/base64.hpp"
#include "codecs/sha256.hpp"
#include "codecs/text.hpp"

namespace imgup::s3 {

namespace {

tl::unexpected<Error> BadAnswer(std::string detail) {
  return Fail(ErrorCode::kInternal, "s3_bad_answer", "The storage service sent an odd answer",
              std::move(detail));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::optional<int> Digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!IsDigit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

std::optional<std::int64_t> EpochMs(int year, int month, int day, int hour, int minute, int second,
                                    int millis) {
  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const auto days = std::chrono::sys_days(ymd).time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(days).count() +
         ((hour * 60 + minute) * 60 + second) * std::int64_t{1000} + millis;
}

/// The part of a list token that binds it to its prefix.
std::string PrefixCheck(std::string_view prefix, std::string_view continuation_token) {
  std::string bound = "imgup-list-token\n";
  bound += prefix;
  bound.push_back('\n');
  bound += continuation_token;
  return Sha256Hex(bound).substr(0, 16);
}

std::string IsoTime(std::chrono::sys_seconds time) {
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{time - day};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buffer;
}

}  // namespace

std::string BucketAddress::ObjectPath(std::string_view key) const {
  return path_prefix + "/" + aws::UriEncode(key, true);
}

std::string BucketAddress::BucketPath() const {
  return path_prefix.empty() ? std::string("/") : path_prefix;
}

bool IsValidBucketName(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  const auto edge = [](char c) { return (c >= 'a' && c <= 'z') || IsDigit(c); };
  if (!edge(bucket.front()) || !edge(bucket.back())) return false;
  if (!std::ranges::all_of(bucket, [&](char c) { return edge(c) || c == '.' || c == '-'; })) {
    return false;
  }
  return bucket.find("..") == std::string_view::npos && !aws::IsIpLiteral(bucket);
}

Result<BucketAddress> AddressBucket(std::string_view endpoint, std::string_view bucket,
                                    aws::S3AddressingStyle style) {
  auto parsed = aws::ParseEndpointUrl(endpoint);
  if (!parsed) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_s3_endpoint",
                "The S3 endpoint must be http(s)://host[:port][/path]",
                "endpoint '" + std::string(endpoint) + "': " + parsed.error().message);
  }
  if (!IsValidBucketName(bucket)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_bucket", "The bucket name is not valid",
                "bucket '" + std::string(bucket) + "'");
  }
  auto location = aws::LocateS3Object(*parsed, bucket, "", style);
  if (!location) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_bucket", location.error().message,
                "bucket '" + std::string(bucket) + "' on '" + std::string(endpoint) + "'");
  }
  BucketAddress address;
  address.origin = location->endpoint.scheme + "://" + location->endpoint.Authority();
  address.path_prefix = std::move(location->path);  // "/bucket/" or "/": the key comes after
  address.path_prefix.pop_back();
  return address;
}

Result<ListObjectsPage> ParseListObjectsV2(std::string_view xml) {
  auto parsed = aws::ParseXml(xml);
  if (!parsed) return BadAnswer("ListObjectsV2: " + parsed.error().detail);
  const aws::XmlElement& root = *parsed;
  if (root.name != "ListBucketResult") return BadAnswer("not a ListBucketResult: " + root.name);
  ListObjectsPage page;
  for (const aws::XmlElement* contents : root.Children("Contents")) {
    BlobEntry entry;
    entry.key = std::string(contents->ChildText("Key"));
    const std::string_view size = contents->ChildText("Size");
    const auto [end, ec] =
        std::from_chars(size.data(), size.data() + size.size(), entry.size_bytes);
    const auto modified = ParseIso8601Ms(contents->ChildText("LastModified"));
    if (entry.key.empty() || size.empty() || ec != std::errc{} ||
        end != size.data() + size.size() || !modified) {
      return BadAnswer("a listed object without key, size or time");
    }
    entry.modified_ms = *modified;
    page.items.push_back(std::move(entry));
  }
  const std::string_view truncated = root.ChildText("IsTruncated");
  page.truncated = truncated == "true";
  page.next_continuation_token = std::string(root.ChildText("NextContinuationToken"));
  if (page.truncated && page.next_continuation_token.empty()) {
    return BadAnswer("a truncated listing without a continuation token");
  }
  return page;
}

std::string XmlEscape(std::string_view text) { return MarkupEscape(text, "&apos;"); }

std::string DeleteObjectsBody(std::span<const std::string> keys) {
  std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
  for (const auto& key : keys) body += "<Object><Key>" + XmlEscape(key) + "</Key></Object>";
  body += "</Delete>";
  return body;
}

Result<std::vector<DeleteFailure>> ParseDeleteResult(std::string_view xml) {
  auto parsed = aws::ParseXml(xml);
  if (!parsed) return BadAnswer("DeleteObjects: " + parsed.error().detail);
  const aws::XmlElement& root = *parsed;
  if (root.name != "DeleteResult") return BadAnswer("not a DeleteResult: " + root.name);
  std::vector<DeleteFailure> failures;
  for (const aws::XmlElement* error : root.Children("Error")) {
    failures.push_back({std::string(error->ChildText("Key")), std::string(error->ChildText("Code")),
                        std::string(error->ChildText("Message"))});
  }
  return failures;
}

std::optional<std::int64_t> ParseIso8601Ms(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff...]Z
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text.back() != 'Z') {
    return std::nullopt;
  }
  const auto year = Digits(text, 0, 4), month = Digits(text, 5, 2), day = Digits(text, 8, 2);
  const auto hour = Digits(text, 11, 2), minute = Digits(text, 14, 2), second = Digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  int millis = 0;
  const std::string_view fraction = text.substr(19, text.size() - 20);
  if (!fraction.empty()) {
    if (fraction[0] != '.' || fraction.size() < 2) return std::nullopt;
    for (std::size_t i = 1; i < fraction.size(); ++i) {
      if (!IsDigit(fraction[i])) return std::nullopt;
      if (i <= 3) millis = millis * 10 + (fraction[i] - '0');
    }
    for (std::size_t i = fraction.size(); i <= 3; ++i) millis *= 10;
  }
  return EpochMs(*year, *month, *day, *hour, *minute, *second, millis);
}

std::optional<std::int64_t> ParseHttpDateMs(std::string_view text) {
  // "Wed, 12 Oct 2009 17:50:00 GMT"
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  const auto month = std::ranges::find(kMonths, text.substr(8, 3));
  const auto day = Digits(text, 5, 2), year = Digits(text, 12, 4);
  const auto hour = Digits(text, 17, 2), minute = Digits(text, 20, 2), second = Digits(text, 23, 2);
  if (month == kMonths.end() || !day || !year || !hour || !minute || !second) return std::nullopt;
  return EpochMs(*year, static_cast<int>(month - kMonths.begin()) + 1, *day, *hour, *minute,
                 *second, 0);
}

std::string WrapListToken(std::string_view prefix, std::string_view continuation_token) {
  return PrefixCheck(prefix, continuation_token) + EncodeBase64Url(continuation_token);
}

std::optional<std::string> UnwrapListToken(std::string_view prefix, std::string_view token) {
  if (token.size() <= 16) return std::nullopt;
  auto continuation = DecodeBase64Url(token.substr(16));
  if (!continuation || continuation->empty() ||
      PrefixCheck(prefix, *continuation) != token.substr(0, 16)) {
    return std::nullopt;
  }
  return std::move(*continuation);
}

PostForm BuildPostForm(std::string_view bucket, const UploadPolicy& policy,
                       const aws::Credentials& credentials, std::string_view region,
                       std::chrono::sys_seconds now) {
  const std::string amz_date = aws::AmzDate(now);
  const std::string credential =
      credentials.access_key_id + "/" + aws::CredentialScope(now, region, "s3");
  std::vector<std::pair<std::string, std::string>> fields = {
      {"key", policy.key},
      {"Content-Type", policy.content_type},
      {"x-amz-algorithm", std::string(aws::kSigV4Algorithm)},
      {"x-amz-credential", credential},
      {"x-amz-date", amz_date},
  };
  if (!credentials.session_token.empty()) {
    fields.emplace_back("x-amz-security-token", credentials.session_token);
  }
  nlohmann::ordered_json conditions = nlohmann::ordered_json::array();
  conditions.push_back({{"bucket", std::string(bucket)}});
  conditions.push_back(nlohmann::ordered_json::array(
      {"content-length-range", 1, static_cast<std::uint64_t>(policy.max_bytes)}));
  for (const auto& [name, value] : fields) conditions.push_back({{name, value}});
  nlohmann::ordered_json document;
  document["expiration"] = IsoTime(now + std::chrono::seconds(policy.expires_in_s));
  document["conditions"] = std::move(conditions);

  PostForm form;
  form.policy_json = document.dump();
  const std::string encoded = EncodeBase64(form.policy_json);
  const auto signing_key =
      aws::DeriveSigningKey(credentials.secret_access_key, amz_date.substr(0, 8), region, "s3");
  fields.emplace_back("policy", encoded);
  fields.emplace_back("x-amz-signature", aws::SignatureHex(signing_key, encoded));
  form.fields = std::move(fields);
  return form;
}

}  // namespace imgup::s3
