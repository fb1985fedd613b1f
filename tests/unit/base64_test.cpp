#include "codecs/base64.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <string>
#include <vector>

#include "codecs/sha256.hpp"
#include "domain/image_record.hpp"

namespace imgup {
namespace {

// OpenSSL as an independent peer: EVP_EncodeBlock writes padded standard base64.
std::string OpenSslEncode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// EVP_DecodeBlock is lenient (it trims whitespace and ignores unused bits) and keeps the zero
// bytes that stand for padding; nullopt when it refuses the text.
std::optional<std::string> OpenSslDecode(std::string_view text) {
  std::string out(3 * (text.size() / 4) + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n));
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=')
    pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  if (pad > out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  return out;
}

// A text is canonical standard base64 iff it is exactly what an encoder writes for some bytes.
// Decided with OpenSSL only, so it can judge DecodeBase64.
bool IsCanonicalPerOpenSsl(std::string_view text) {
  if (text.size() % 4 != 0) return false;
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') return false;
  }
  const auto decoded = OpenSslDecode(text);
  return decoded && OpenSslEncode(*decoded) == text;
}

std::string RandomBytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

void ExpectInvalid(std::string_view text, std::size_t offset) {
  const auto r = DecodeBase64(text);
  ASSERT_FALSE(r.has_value()) << "accepted: " << text;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().slug, "invalid_base64");
  EXPECT_NE(r.error().message.find("offset " + std::to_string(offset) + ":"), std::string::npos)
      << "text '" << text << "' gave: " << r.error().message;
}

struct Vector {
  std::string_view plain, encoded;
};
// RFC 4648 section 10.
constexpr Vector kRfc4648[] = {{"", ""},
                               {"f", "Zg=="},
                               {"fo", "Zm8="},
                               {"foo", "Zm9v"},
                               {"foob", "Zm9vYg=="},
                               {"fooba", "Zm9vYmE="},
                               {"foobar", "Zm9vYmFy"}};

TEST(Base64Test, Rfc4648Vectors) {
  for (const auto& v : kRfc4648) {
    EXPECT_EQ(EncodeBase64(v.plain), v.encoded);
    const auto decoded = DecodeBase64(v.encoded);
    ASSERT_TRUE(decoded.has_value()) << v.encoded << ": " << decoded.error().message;
    EXPECT_EQ(*decoded, v.plain);
  }
}

TEST(Base64Test, UrlVectorsHaveNoPaddingAndTheUrlAlphabet) {
  for (const auto& v : kRfc4648) {
    std::string unpadded(v.encoded.substr(0, v.encoded.find('=')));
    EXPECT_EQ(EncodeBase64Url(v.plain), unpadded);
    const auto decoded = DecodeBase64Url(unpadded);
    ASSERT_TRUE(decoded.has_value()) << unpadded;
    EXPECT_EQ(*decoded, v.plain);
  }
  // 0xFB 0xFF 0xBF uses the last two alphabet characters: '+' '/' vs '-' '_'.
  EXPECT_EQ(EncodeBase64("\xFB\xFF\xBF"), "+/+/");
  EXPECT_EQ(EncodeBase64Url("\xFB\xFF\xBF"), "-_-_");
  EXPECT_EQ(DecodeBase64Url("-_-_").value(), "\xFB\xFF\xBF");
  EXPECT_FALSE(DecodeBase64Url("+/+/").has_value());
  EXPECT_FALSE(DecodeBase64("-_-_").has_value());
  EXPECT_FALSE(DecodeBase64Url("Zg==").has_value());  // no padding in the URL form
  EXPECT_FALSE(DecodeBase64Url("Z").has_value());     // a lone character holds no byte
  EXPECT_FALSE(DecodeBase64Url("Zh").has_value());    // non-zero unused bits
  EXPECT_FALSE(DecodeBase64Url("Zm9").has_value());
}

TEST(Base64Test, RoundTripsRandomBytesAgainstOpenSsl) {
  std::mt19937_64 rng(20240601);
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n <= 300; ++n) sizes.push_back(n);
  for (std::size_t n : {4095u, 4096u, 4097u, 65536u, 1000001u}) sizes.push_back(n);
  for (const std::size_t n : sizes) {
    const std::string bytes = RandomBytes(rng, n);
    const std::string encoded = EncodeBase64(bytes);
    ASSERT_EQ(encoded, OpenSslEncode(bytes)) << "size " << n;
    const auto decoded = DecodeBase64(encoded);
    ASSERT_TRUE(decoded.has_value()) << "size " << n << ": " << decoded.error().message;
    ASSERT_EQ(*decoded, bytes) << "size " << n;
    ASSERT_EQ(OpenSslDecode(encoded).value(), bytes) << "size " << n;

    const std::string url = EncodeBase64Url(bytes);
    ASSERT_EQ(url.find_first_of("+/="), std::string::npos);
    ASSERT_EQ(DecodeBase64Url(url).value(), bytes) << "size " << n;
  }
}

TEST(Base64Test, AcceptsExactlyTheCanonicalEncodingsOfEverySingleCharacterChange) {
  // Every text one character away from a valid one, for every byte value: the decoder must
  // accept it iff OpenSSL says it is canonical, and then decode to what OpenSSL decodes.
  for (const std::string_view base : {"Zm9vYmFy", "Zm9vYg==", "Zm9vYmE=", "QUJD", "AA=="}) {
    for (std::size_t i = 0; i < base.size(); ++i) {
      for (int b = 0; b < 256; ++b) {
        std::string text(base);
        text[i] = static_cast<char>(b);
        const auto ours = DecodeBase64(text);
        const bool canonical = IsCanonicalPerOpenSsl(text);
        ASSERT_EQ(ours.has_value(), canonical) << "text '" << text << "' byte " << b;
        if (canonical) {
          ASSERT_EQ(*ours, OpenSslDecode(text).value());
        } else {
          ASSERT_EQ(ours.error().slug, "invalid_base64");
        }
      }
    }
  }
}

TEST(Base64Test, EveryByteAtEveryPositionOfALongTextIsJudgedLikeOpenSsl) {
  // Long enough for the vectorised loop (32 characters a step) to see every byte value in every
  // lane of several steps, and for the scalar tail to see them too.
  std::mt19937_64 rng(42);
  const std::string bytes = RandomBytes(rng, 300);
  const std::string base = EncodeBase64(bytes);
  for (std::size_t i = 0; i < base.size(); ++i) {
    for (int b = 0; b < 256; ++b) {
      std::string text = base;
      text[i] = static_cast<char>(b);
      const auto ours = DecodeBase64(text);
      const bool canonical = IsCanonicalPerOpenSsl(text);
      ASSERT_EQ(ours.has_value(), canonical) << "position " << i << " byte " << b;
      if (canonical) {
        ASSERT_EQ(*ours, OpenSslDecode(text).value()) << "position " << i << " byte " << b;
      } else {
        ASSERT_EQ(ours.error().slug, "invalid_base64");
        if (b != '=') {  // a byte outside the alphabet is named where it is
          ASSERT_NE(ours.error().message.find("at offset " + std::to_string(i) + ":"),
                    std::string::npos)
              << ours.error().message;
        }
      }
    }
  }
}

TEST(Base64Test, AcceptsExactlyTheCanonicalEncodingsOfRandomTexts) {
  std::mt19937_64 rng(7);
  constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/====-_ \n";
  int accepted = 0;
  for (int round = 0; round < 200000; ++round) {
    std::string text(rng() % 13, '\0');
    for (auto& c : text) c = kChars[rng() % kChars.size()];
    // Bias towards plausible endings so that padding rules get exercised often.
    if (text.size() >= 2 && rng() % 2 == 0) text[text.size() - 1] = '=';
    if (text.size() >= 3 && rng() % 4 == 0) text[text.size() - 2] = '=';
    const auto ours = DecodeBase64(text);
    ASSERT_EQ(ours.has_value(), IsCanonicalPerOpenSsl(text)) << "text '" << text << "'";
    if (ours) {
      ++accepted;
      ASSERT_EQ(EncodeBase64(*ours), text);
    }
  }
  EXPECT_GT(accepted, 1000);  // the generator must produce valid texts too
}

TEST(Base64Test, RejectsBadPaddingWithTheOffset) {
  ExpectInvalid("Zg=", 2);    // length 3: this '=' cannot end a complete quantum
  ExpectInvalid("Zm9vY", 4);  // length 5: the incomplete quantum starts at 4
  ExpectInvalid("Z===", 1);   // at most two '='
  ExpectInvalid("====", 0);
  ExpectInvalid("Zg=a", 2);  // '=' only at the end
  ExpectInvalid("Z=g=", 1);
  ExpectInvalid("Zg==Zm9v", 2);  // padding in the middle
  ExpectInvalid("Zm9v=m9v", 4);
  ExpectInvalid("Zm9v====", 4);
}

TEST(Base64Test, NamesATrailingNewlineAsSuch) {
  // Judged by the padding rules, "Zg==\n" has its '=' in the wrong place: the message said
  // "misplaced padding" and sent people looking at the padding.
  for (const auto& [text, offset] : std::vector<std::pair<std::string_view, std::size_t>>{
           {"Zg==\n", 4}, {"Zm9v\r\n", 4}, {"Zm8=\n", 4}, {"Zm9\n", 3}}) {
    ExpectInvalid(text, offset);
    EXPECT_NE(DecodeBase64(text).error().message.find("trailing newline"), std::string::npos)
        << DecodeBase64(text).error().message;
  }
  ExpectInvalid("Zg== ", 4);
  EXPECT_NE(DecodeBase64("Zg== ").error().message.find("trailing whitespace"), std::string::npos);
  // A bad byte before the trailing newline is still named first, and an inner line break too.
  ExpectInvalid("Z!==\n", 1);
  ExpectInvalid("Zm9v\nZm9v", 4);
  EXPECT_NE(DecodeBase64("Zm9v\nZm9v").error().message.find("line break"), std::string::npos);
}

TEST(Base64Test, RejectsNonCanonicalTrailingBits) {
  ExpectInvalid("Zh==", 1);  // 'h' = 33: its low four bits would be dropped
  ExpectInvalid("Zm9=", 2);  // '9' = 61: its low two bits would be dropped
  ExpectInvalid("Zm9vYh==", 5);
  ExpectInvalid("AB==", 1);
  EXPECT_TRUE(DecodeBase64("AA==").has_value());
  EXPECT_TRUE(DecodeBase64("AAE=").has_value());
  ExpectInvalid("AAF=", 2);
}

TEST(Base64Test, RejectsCharactersOutsideTheAlphabet) {
  ExpectInvalid("Zm9v!m9v", 4);
  ExpectInvalid("Zm9v\nZm9v", 4);  // no line breaks (also a bad length, but the byte comes first)
  ExpectInvalid("Zm9v Zm9", 4);
  ExpectInvalid(" Zm9", 0);
  ExpectInvalid("Zm9-", 3);  // URL alphabet
  ExpectInvalid("Zm9_", 3);
  ExpectInvalid(std::string_view("Zm\0v", 4), 2);
  ExpectInvalid("Zm9v\xC3\xA9Zm", 4);
  // The first problem wins, even deep into a long input.
  std::string long_text = EncodeBase64(std::string(300000, 'x'));
  long_text[123457] = '*';
  long_text[200000] = '#';
  ExpectInvalid(long_text, 123457);
}

TEST(Base64Test, EmptyInputDecodesToNothing) {
  EXPECT_EQ(DecodeBase64("").value(), "");
  EXPECT_EQ(DecodeBase64Url("").value(), "");
}

TEST(Base64Test, MessageNamesTheBadByte) {
  const auto r = DecodeBase64("Zm9v\x01m9v");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("0x01"), std::string::npos) << r.error().message;
}

// Hashing lives next to the encoders: both turn bytes into text for records and keys.
TEST(Sha256Test, Fips180Vectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(ImageStatusTest, RoundTripsEveryStatus) {
  for (const ImageStatus s :
       {ImageStatus::kProcessing, ImageStatus::kReady, ImageStatus::kFailed}) {
    EXPECT_EQ(ParseImageStatus(ToString(s)), s);
  }
  EXPECT_STREQ(ToString(ImageStatus::kProcessing), "processing");
  EXPECT_STREQ(ToString(ImageStatus::kReady), "ready");
  EXPECT_STREQ(ToString(ImageStatus::kFailed), "failed");
  EXPECT_FALSE(ParseImageStatus("Ready").has_value());
  EXPECT_FALSE(ParseImageStatus("").has_value());
}

}  // namespace
}  // namespace imgup
