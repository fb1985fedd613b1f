// AWS's Signature Version 4 test suite (from the AWS Common Runtime's signing tests), read in
// place from ../shared/corpora/sigv4/v4: every case, both forms, every intermediate result, byte
// for byte. The case list is written out here so that a missing corpus or case fails loudly
// instead of instantiating no tests, and a test checks the folder holds no case left untested.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "aws/sigv4.hpp"
#include "codecs/text.hpp"
#include "support/test_paths.hpp"

namespace imgup::aws {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& SuiteCases() {
  static const std::vector<std::string> kCases = {
      "get-header-key-duplicate",
      "get-header-value-multiline",
      "get-header-value-order",
      "get-header-value-trim",
      "get-relative-normalized",
      "get-relative-relative-normalized",
      "get-relative-relative-unnormalized",
      "get-relative-unnormalized",
      "get-slash-dot-slash-normalized",
      "get-slash-dot-slash-unnormalized",
      "get-slash-normalized",
      "get-slash-pointless-dot-normalized",
      "get-slash-pointless-dot-unnormalized",
      "get-slash-unnormalized",
      "get-slashes-normalized",
      "get-slashes-unnormalized",
      "get-space-normalized",
      "get-space-unnormalized",
      "get-unreserved",
      "get-utf8",
      "get-vanilla",
      "get-vanilla-empty-query-key",
      "get-vanilla-query",
      "get-vanilla-query-order-encoded",
      "get-vanilla-query-order-key-case",
      "get-vanilla-query-unreserved",
      "get-vanilla-utf8-query",
      "get-vanilla-with-session-token",
      "post-header-key-case",
      "post-header-key-sort",
      "post-header-value-case",
      "post-sts-header-after",
      "post-sts-header-before",
      "post-vanilla",
      "post-vanilla-empty-query-value",
      "post-vanilla-query",
      "post-x-www-form-urlencoded",
      "post-x-www-form-urlencoded-parameters",
  };
  return kCases;
}

fs::path SuiteDir() { return fs::path(test::CorporaDir()) / "sigv4" / "v4"; }

// Fails the calling test when the file is missing: an absent corpus must never pass.
std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "missing suite file " << path
                  << " (the corpus is read in place from ../shared/corpora; set IMGUP_CORPORA)";
    return {};
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// request.txt: a request line, header lines (a line starting with a space or tab continues the
// previous header's value), and after an empty line the body. Lines end with '\n'.
struct SuiteRequest {
  std::string method;
  std::string target;  // path and query exactly as written
  std::string version;
  std::vector<HttpHeader> headers;
  std::string body;
};

SuiteRequest ParseRequest(const std::string& text) {
  SuiteRequest request;
  std::vector<std::string> lines;
  std::size_t start = 0;
  bool has_body = false;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      if (start < text.size()) lines.push_back(text.substr(start));
      break;
    }
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() && !lines.empty()) {
      has_body = true;
      break;
    }
    lines.push_back(std::move(line));
  }
  if (has_body) request.body = text.substr(start);
  EXPECT_FALSE(lines.empty());
  if (lines.empty()) return request;

  // The target may hold spaces ("GET /example space/ HTTP/1.1"): method first, version last.
  const std::string& first = lines[0];
  const std::size_t method_end = first.find(' ');
  const std::size_t version_start = first.rfind(' ');
  request.method = first.substr(0, method_end);
  request.target = first.substr(method_end + 1, version_start - method_end - 1);
  request.version = first.substr(version_start + 1);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if ((line[0] == ' ' || line[0] == '\t') && !request.headers.empty()) {
      request.headers.back().value += "\n" + line;
      continue;
    }
    const std::size_t colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    request.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  return request;
}

std::vector<QueryParam> ParseQuery(std::string_view query) {
  std::vector<QueryParam> params;
  if (query.empty()) return params;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = query.find('&', start);
    const std::string_view pair =
        query.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    const std::size_t eq = pair.find('=');
    const auto name = PercentDecode(pair.substr(0, eq), false);
    const auto value = PercentDecode(
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), false);
    EXPECT_TRUE(name && value) << pair;
    params.push_back({name.value_or(""), value.value_or("")});
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return params;
}

std::chrono::sys_seconds ParseTimestamp(const std::string& text) {
  // "2015-08-30T12:36:00Z"
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  EXPECT_EQ(std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s), 6) << text;
  const std::chrono::year_month_day ymd{std::chrono::year{y},
                                        std::chrono::month{static_cast<unsigned>(mo)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  return std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{s};
}

struct SuiteCase {
  SuiteRequest raw;
  SignableRequest request;
  SigningConfig config;
};

SuiteCase LoadCase(const std::string& name) {
  SuiteCase c;
  const fs::path dir = SuiteDir() / name;
  c.raw = ParseRequest(ReadFile(dir / "request.txt"));
  const std::string context_text = ReadFile(dir / "context.json");
  const auto context = nlohmann::json::parse(context_text, nullptr, false);
  EXPECT_FALSE(context.is_discarded()) << "context.json of " << name;
  if (context.is_discarded()) return c;

  c.request.method = c.raw.method;
  const std::size_t q = c.raw.target.find('?');
  c.request.path = c.raw.target.substr(0, q);
  if (q != std::string::npos) c.request.query = ParseQuery(c.raw.target.substr(q + 1));
  c.request.headers = c.raw.headers;
  c.request.body = c.raw.body;

  const auto& creds = context.at("credentials");
  // The suite is the rules of every service but S3: the path is encoded a second time, and
  // normalised when the context says so.
  c.config = ForService(
      {creds.at("access_key_id").get<std::string>(),
       creds.at("secret_access_key").get<std::string>(), creds.value("token", std::string{})},
      context.at("region").get<std::string>(), context.at("service").get<std::string>(),
      ParseTimestamp(context.at("timestamp").get<std::string>()));
  c.config.normalize_path = context.at("normalize").get<bool>();
  c.config.content_sha256_header = context.at("sign_body").get<bool>();
  c.config.sign_session_token = !context.value("omit_session_token", false);
  c.config.expires = std::chrono::seconds{context.at("expiration_in_seconds").get<long long>()};
  return c;
}

std::string RenderHeaders(const std::vector<HttpHeader>& headers) {
  std::string out;
  for (const auto& header : headers) out += header.name + ":" + header.value + "\n";
  return out;
}

class SigV4Suite : public ::testing::TestWithParam<std::string> {};

TEST_P(SigV4Suite, HeaderForm) {
  const SuiteCase c = LoadCase(GetParam());
  const fs::path dir = SuiteDir() / GetParam();
  const auto signed_request = SignHeaders(c.request, c.config);
  ASSERT_TRUE(signed_request.has_value())
      << signed_request.error().slug << ": " << signed_request.error().message;

  EXPECT_EQ(signed_request->canonical_request, ReadFile(dir / "header-canonical-request.txt"));
  EXPECT_EQ(signed_request->string_to_sign, ReadFile(dir / "header-string-to-sign.txt"));
  EXPECT_EQ(signed_request->signature, ReadFile(dir / "header-signature.txt"));

  std::string rendered = c.raw.method + " " + c.raw.target + " " + c.raw.version + "\n";
  rendered += RenderHeaders(c.raw.headers);
  rendered += RenderHeaders(signed_request->headers_to_add);
  rendered += "\n" + c.raw.body;
  EXPECT_EQ(rendered, ReadFile(dir / "header-signed-request.txt"));
}

TEST_P(SigV4Suite, QueryForm) {
  const SuiteCase c = LoadCase(GetParam());
  const fs::path dir = SuiteDir() / GetParam();
  const auto presigned = Presign(c.request, c.config);
  ASSERT_TRUE(presigned.has_value()) << presigned.error().slug << ": " << presigned.error().message;

  EXPECT_EQ(presigned->canonical_request, ReadFile(dir / "query-canonical-request.txt"));
  EXPECT_EQ(presigned->string_to_sign, ReadFile(dir / "query-string-to-sign.txt"));
  EXPECT_EQ(presigned->signature, ReadFile(dir / "query-signature.txt"));

  const char separator = c.raw.target.find('?') == std::string::npos ? '?' : '&';
  std::string rendered = c.raw.method + " " + c.raw.target + separator +
                         EncodeQuery(presigned->query_to_add) + " " + c.raw.version + "\n";
  rendered += RenderHeaders(c.raw.headers);
  rendered += "\n" + c.raw.body;
  EXPECT_EQ(rendered, ReadFile(dir / "query-signed-request.txt"));
}

std::string CaseTestName(const ::testing::TestParamInfo<std::string>& param_info) {
  std::string name = param_info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Aws, SigV4Suite, ::testing::ValuesIn(SuiteCases()), CaseTestName);

// Every case folder of the corpus is one of the cases above, and each has all ten files.
TEST(SigV4SuiteCorpus, EveryCaseOfTheFolderIsTested) {
  const fs::path dir = SuiteDir();
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing: the corpus is read in place from "
                                     << "../shared/corpora (or IMGUP_CORPORA)";
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory()) found.push_back(entry.path().filename().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> expected = SuiteCases();
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(found, expected);
  for (const auto& name : expected) {
    for (const char* file :
         {"request.txt", "context.json", "header-canonical-request.txt",
          "header-string-to-sign.txt", "header-signature.txt", "header-signed-request.txt",
          "query-canonical-request.txt", "query-string-to-sign.txt", "query-signature.txt",
          "query-signed-request.txt"}) {
      EXPECT_TRUE(fs::is_regular_file(dir / name / file)) << name << "/" << file;
    }
  }
}

}  // namespace
}  // namespace imgup::aws
