// The processor function's handler without the emulator: AWS's S3 put sample carrying an
// original's key, over in-memory stores and a scripted pipeline. What a user sees: the
// invocation's answer or error (so Lambda's retries and the DLQ), the record, the blobs.
#include "transport/lambda/processor_function.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "codecs/sha256.hpp"
#include "domain/blob_keys.hpp"
#include "fakes/fixed_clock.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/sequential_ids.hpp"
#include "lambda/fixtures.hpp"
#include "support/images.hpp"

namespace imgup {
namespace {

using nlohmann::json;

/// Lets `parties` threads through only together (bounded, so that a regression fails the test
/// instead of hanging it).
class Gate {
 public:
  explicit Gate(int parties) : parties_(parties) {}
  void ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (++arrived_ >= parties_) {
      open_.notify_all();
      return;
    }
    if (!open_.wait_for(lock, std::chrono::seconds(30), [&] { return arrived_ >= parties_; })) {
      ADD_FAILURE() << "only " << arrived_ << " of " << parties_
                    << " deliveries reached the pipeline";
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable open_;
  const int parties_;
  int arrived_ = 0;
};

/// A pipeline whose answer the test decides; thread-safe.
class ScriptedPipeline final : public ImageProcessor {
 public:
  Result<ProcessedImage> Process(std::string_view, const SniffResult&,
                                 const ProcessingLimits& limits) override {
    ++calls;
    last_decode_ms = limits.max_decode_ms;
    if (gate) gate->ArriveAndWait();
    if (error) return tl::unexpected(*error);
    ProcessedImage out;
    out.width = 1;
    out.height = 1;
    out.format = "png";
    out.bands = 4;
    out.variants.push_back({"thumb", "thumb-bytes", 1, 1, "image/webp"});
    out.variants.push_back({"medium", "medium-bytes", 1, 1, "image/webp"});
    out.placeholder = "L00000fQfQfQfQfQfQfQfQfQfQfQ";
    out.dominant_color = "#000000";
    out.phash = "0000000000000000";
    return out;
  }
  std::atomic<int> calls{0};
  std::atomic<std::uint32_t> last_decode_ms{0};
  std::optional<Error> error;
  Gate* gate = nullptr;
};

class ProcessorFunctionTest : public ::testing::Test {
 protected:
  ProcessorFunctionTest() { options_.policy.overlapping_deliveries = 16; }

  S3ProcessorFunction Function() {
    return S3ProcessorFunction(blobs_, records_, pipeline_, options_, clock_,
                               [this](const std::string& line) {
                                 std::lock_guard<std::mutex> lock(log_mutex_);
                                 log_.push_back(json::parse(line));
                               });
  }

  /// The first half of an upload (the original stored); the record is returned, not inserted.
  ImageRecord StoreOriginal(std::uint64_t n) {
    ImageRecord record;
    record.id = SequentialIds::Format(1000 + n);
    record.owner = "ann";
    record.filename = "a.png";
    record.content_type = "image/png";
    record.format = "png";
    record.key = OriginalKey(record.owner, record.id);
    record.size_bytes = test::TinyPng().size();
    record.width = 1;
    record.height = 1;
    record.sha256 = Sha256Hex("image " + std::to_string(n));
    record.status = ImageStatus::kProcessing;
    EXPECT_TRUE(blobs_.Put(record.key, test::TinyPng(), record.content_type));
    return record;
  }
  ImageRecord UploadedImage(std::uint64_t n = 1) {
    ImageRecord record = StoreOriginal(n);
    EXPECT_TRUE(records_.Insert(record));
    return record;
  }

  /// AWS's put sample for `encoded_key` (as S3 encodes keys), `deadline_ms` from now.
  Invocation PutEvent(const std::string& encoded_key, std::int64_t deadline_in_ms = 60'000,
                      const char* sample = "s3-put.json") {
    json event = test::AwsEvent(sample);
    event["Records"][0]["s3"]["object"]["key"] = encoded_key;
    Invocation invocation;
    invocation.request_id = "req-" + std::to_string(++invocations_);
    invocation.deadline_ms = clock_.NowMs() + deadline_in_ms;
    invocation.payload = event.dump();
    return invocation;
  }

  std::set<std::string> KeysOf(const std::string& id) {
    std::set<std::string> keys;
    for (const std::string& key : blobs_.Keys()) {
      if (key.find("/" + id) != std::string::npos) keys.insert(key);
    }
    return keys;
  }
  void ExpectOneCompleteImage(const ImageRecord& record) {
    const ImageRecord stored = records_.Get(record.owner, record.id).value();
    EXPECT_EQ(stored.status, ImageStatus::kReady);
    ASSERT_EQ(stored.variants.size(), 2u);
    EXPECT_EQ(blobs_.Get(stored.variants.at("thumb").key).value(), "thumb-bytes");
    EXPECT_EQ(blobs_.Get(stored.variants.at("medium").key).value(), "medium-bytes");
    EXPECT_EQ(KeysOf(record.id),
              (std::set<std::string>{record.key, VariantKey("ann", record.id, "thumb"),
                                     VariantKey("ann", record.id, "medium")}));
  }
  static json Answer(const Result<std::string>& answer) {
    EXPECT_TRUE(answer) << answer.error().slug << ": " << answer.error().detail;
    return answer ? json::parse(*answer) : json();
  }

  MemoryBlobStore blobs_;
  MemoryMetadataStore records_;
  FixedClock clock_;
  ScriptedPipeline pipeline_;
  ProcessorFunctionOptions options_;
  std::mutex log_mutex_;
  std::vector<json> log_;
  int invocations_ = 0;
};

TEST_F(ProcessorFunctionTest, AnS3PutOfAnOriginalMakesItsRecordReady) {
  const ImageRecord record = UploadedImage();
  const json answer = Answer(Function()(PutEvent(record.key)));
  ASSERT_EQ(answer["records"].size(), 1u);
  EXPECT_EQ(answer["records"][0]["key"], record.key);
  EXPECT_EQ(answer["records"][0]["outcome"], "ready");
  EXPECT_EQ(answer["records"][0]["status"], "ready");
  ExpectOneCompleteImage(record);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0]["outcome"], "ready");
  EXPECT_EQ(log_[0]["request_id"], "req-1");
  EXPECT_EQ(log_[0]["id"], record.id);
  EXPECT_EQ(log_[0]["owner"], "ann");
  EXPECT_FALSE(log_[0].contains("trace_id")) << "no trace header, no trace id";
  // Its metrics (Embedded Metric Format, transport/lambda/emf.hpp).
  EXPECT_EQ(log_[0]["ImagesProcessed"], 1);
  EXPECT_EQ(log_[0]["ProcessingTime"], log_[0]["duration_ms"]);
  EXPECT_EQ(log_[0]["Function"], "processor");
  EXPECT_EQ(log_[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "imgup");
}

TEST_F(ProcessorFunctionTest, EachRecordsLineCarriesTheInvocationsTraceId) {
  const ImageRecord record = UploadedImage();
  Invocation invocation = PutEvent(record.key);
  invocation.trace_id =
      "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  Answer(Function()(invocation));
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0]["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
}

TEST_F(ProcessorFunctionTest, TheKeyIsUrlDecodedBeforeItIsLookedUp) {
  const ImageRecord record = UploadedImage();
  // S3 may escape any byte; '/' as %2F decodes to the same key.
  const json answer = Answer(Function()(PutEvent("originals%2Fann%2F" + record.id)));
  EXPECT_EQ(answer["records"][0]["key"], record.key);
  EXPECT_EQ(answer["records"][0]["outcome"], "ready");
  ExpectOneCompleteImage(record);
}

TEST_F(ProcessorFunctionTest, AnEventBeforeItsRecordFailsTheInvocationAndALaterOneSucceeds) {
  const ImageRecord record = StoreOriginal(1);
  auto early = Function()(PutEvent(record.key));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(early.error().slug, "record_not_yet");
  EXPECT_NE(early.error().detail.find(record.key), std::string::npos);
  EXPECT_EQ(ToFunctionError(early.error()).type, "Imgup.record_not_yet");
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0]["level"], "warn");
  EXPECT_NE(log_[0]["msg"].get<std::string>().find("not stored yet"), std::string::npos);
  EXPECT_EQ(log_[0]["error_code"], "record_not_yet");
  EXPECT_EQ(log_[0]["ProcessingRetries"], 1);
  EXPECT_EQ(log_[0]["Reason"], "record_not_yet");
  EXPECT_EQ(pipeline_.calls, 0);

  ASSERT_TRUE(records_.Insert(record));  // the upload's second write
  const json answer = Answer(Function()(PutEvent(record.key)));
  EXPECT_EQ(answer["records"][0]["outcome"], "ready");
  ExpectOneCompleteImage(record);
}

TEST_F(ProcessorFunctionTest, TheSameEventTenTimesOneAfterAnotherProcessesOnce) {
  const ImageRecord record = UploadedImage();
  const Invocation event = PutEvent(record.key);
  for (int i = 0; i < 10; ++i) {
    const json answer = Answer(Function()(event));
    EXPECT_EQ(answer["records"][0]["outcome"], "ready") << i;
  }
  EXPECT_EQ(pipeline_.calls, 1);
  ExpectOneCompleteImage(record);
}

TEST_F(ProcessorFunctionTest, TheSameEventTenTimesAtOnceLeavesOneRecordAndOneSetOfVariants) {
  // Ten instances of the function take the same event at the same time: all ten are inside the
  // pipeline before any of them saves, so every one has counted its attempt (10 > max_attempts).
  const ImageRecord record = UploadedImage();
  Gate all_inside(10);
  pipeline_.gate = &all_inside;
  const Invocation event = PutEvent(record.key);
  std::vector<Result<std::string>> answers(10, std::string());
  std::vector<std::thread> instances;
  for (int i = 0; i < 10; ++i) {
    instances.emplace_back([&, i] { answers[static_cast<std::size_t>(i)] = Function()(event); });
  }
  for (std::thread& instance : instances) instance.join();
  for (const auto& answer : answers) {
    EXPECT_EQ(Answer(answer)["records"][0]["outcome"], "ready");
  }
  EXPECT_EQ(pipeline_.calls, 10);
  ExpectOneCompleteImage(record);
  EXPECT_EQ(records_.List("ann", ListQuery{}).value().items.size(), 1u);
}

TEST_F(ProcessorFunctionTest, APoisonImageFailsItsRecordKeepsTheOriginalAsideAndSucceeds) {
  const ImageRecord record = UploadedImage();
  pipeline_.error = Error{ErrorCode::kUnprocessable, "decode_failed", "The image does not decode",
                          "libvips: premature end of PNG"};
  options_.policy.failed_originals = FailedOriginalPolicy::kQuarantine;
  const json answer = Answer(Function()(PutEvent(record.key)));
  EXPECT_EQ(answer["records"][0]["outcome"], "failed");
  EXPECT_EQ(answer["records"][0]["status"], "failed");
  const ImageRecord stored = records_.Get("ann", record.id).value();
  EXPECT_EQ(stored.status, ImageStatus::kFailed);
  EXPECT_EQ(stored.failure_reason.rfind("decode_failed: ", 0), 0u) << stored.failure_reason;
  EXPECT_EQ(stored.key, QuarantineKey("ann", record.id));
  EXPECT_EQ(blobs_.Get(stored.key).value(), test::TinyPng()) << "the original's bytes, kept";
  EXPECT_TRUE(stored.variants.empty());
  // A later delivery of the same event changes nothing and does not run the pipeline again.
  EXPECT_EQ(Answer(Function()(PutEvent(record.key)))["records"][0]["outcome"], "failed");
  EXPECT_EQ(pipeline_.calls, 1);
}

TEST_F(ProcessorFunctionTest, ACrashingPipelineFailsTheInvocationsSoThatTheEventReachesTheDlq) {
  const ImageRecord record = UploadedImage();
  pipeline_.error =
      Error{ErrorCode::kInternal, "worker_crashed", "The pixel worker died", "signal 11"};
  // Lambda's first delivery and its two retries.
  for (int delivery = 1; delivery <= 2; ++delivery) {
    auto failed = Function()(PutEvent(record.key));
    ASSERT_FALSE(failed) << delivery;
    EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(failed.error().slug, "worker_crashed");
    EXPECT_EQ(records_.Get("ann", record.id).value().status, ImageStatus::kProcessing);
  }
  auto last = Function()(PutEvent(record.key));
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().code, ErrorCode::kInternal);
  EXPECT_EQ(last.error().slug, "processing_crashed");
  const ImageRecord stored = records_.Get("ann", record.id).value();
  EXPECT_EQ(stored.status, ImageStatus::kFailed);
  EXPECT_EQ(stored.failure_reason.rfind("processing_crashed: ", 0), 0u) << stored.failure_reason;
  EXPECT_EQ(stored.key, record.key);
  EXPECT_EQ(blobs_.Get(record.key).value(), test::TinyPng()) << "original kept in place";
  EXPECT_EQ(log_.back()["outcome"], "crashed");
  EXPECT_EQ(log_.back()["level"], "error");
}

TEST_F(ProcessorFunctionTest, OtherEventsAndKeysAreIgnored) {
  const ImageRecord record = UploadedImage();
  ASSERT_TRUE(blobs_.Put(VariantKey("ann", record.id, "thumb"), "x", "image/webp"));
  const std::vector<Invocation> events = {
      PutEvent(record.key, 60'000, "s3-delete.json"),
      PutEvent(VariantKey("ann", record.id, "thumb")),
      PutEvent(QuarantineKey("ann", record.id)),
      PutEvent("test/key"),
      PutEvent("my+photo.jpg"),
      // Neither record nor original: deleted, or its upload undone.
      PutEvent(OriginalKey("ann", SequentialIds::Format(999))),
  };
  for (const Invocation& event : events) {
    const json answer = Answer(Function()(event));
    EXPECT_EQ(answer["records"][0]["outcome"], "ignored") << event.payload;
    EXPECT_EQ(log_.back()["msg"], "ignored");
  }
  EXPECT_EQ(log_[0]["reason"], "not an object creation: ObjectRemoved:Delete");
  EXPECT_EQ(pipeline_.calls, 0);
  EXPECT_EQ(records_.Get("ann", record.id).value().status, ImageStatus::kProcessing);
}

TEST_F(ProcessorFunctionTest, TheInvocationsDeadlineLessTheMarginBoundsThePipeline) {
  options_.deadline_margin = std::chrono::milliseconds(3000);
  options_.policy.limits.max_decode_ms = 30'000;
  const ImageRecord first = UploadedImage(1);
  Answer(Function()(PutEvent(first.key, /*deadline_in_ms=*/10'000)));
  EXPECT_EQ(pipeline_.last_decode_ms, 7'000u);
  const ImageRecord second = UploadedImage(2);
  Answer(Function()(PutEvent(second.key, /*deadline_in_ms=*/900'000)));
  EXPECT_EQ(pipeline_.last_decode_ms, 30'000u) << "never more than the image's own limit";
}

TEST_F(ProcessorFunctionTest, TooLittleTimeLeftIsARetryNotAFailedImage) {
  options_.deadline_margin = std::chrono::milliseconds(3000);
  options_.min_pipeline_time = std::chrono::milliseconds(1000);
  const ImageRecord record = UploadedImage();
  auto late = Function()(PutEvent(record.key, /*deadline_in_ms=*/3'500));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().slug, "deadline_too_near");
  EXPECT_EQ(pipeline_.calls, 0);
  EXPECT_EQ(records_.Get("ann", record.id).value().status, ImageStatus::kProcessing);
}

TEST_F(ProcessorFunctionTest, ATimeoutCutShortByTheInvocationIsRetriedNotBlamedOnTheImage) {
  options_.policy.limits.max_decode_ms = 30'000;
  pipeline_.error = Error{ErrorCode::kUnprocessable, "processing_timeout", "Too slow", ""};
  const ImageRecord record = UploadedImage();
  auto cut = Function()(PutEvent(record.key, /*deadline_in_ms=*/10'000));
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().slug, "invocation_deadline");
  EXPECT_EQ(records_.Get("ann", record.id).value().status, ImageStatus::kProcessing);
  EXPECT_EQ(blobs_.Get(record.key).value(), test::TinyPng());

  // With the image's whole time, a timeout is the image's own fault.
  const json answer = Answer(Function()(PutEvent(record.key, /*deadline_in_ms=*/900'000)));
  EXPECT_EQ(answer["records"][0]["outcome"], "failed");
  EXPECT_EQ(records_.Get("ann", record.id).value().failure_reason.rfind("processing_timeout", 0),
            0u);
}

TEST_F(ProcessorFunctionTest, AMalformedEventIsAnInvocationError) {
  Invocation invocation;
  invocation.request_id = "req";
  invocation.payload = test::ReadAwsFixture("http-api-proxy.json");
  auto answer = Function()(invocation);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().slug, "not_an_s3_event");
  invocation.payload = PutEvent("bad%zz").payload;
  answer = Function()(invocation);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().slug, "malformed_s3_event");
  EXPECT_EQ(pipeline_.calls, 0);
}

TEST_F(ProcessorFunctionTest, EveryRecordOfAnEventIsProcessedBeforeARetryIsAskedFor) {
  const ImageRecord ready = UploadedImage(1);
  const ImageRecord early = StoreOriginal(2);
  json event = json::parse(PutEvent(early.key).payload);
  json first = event["Records"][0];
  first["s3"]["object"]["key"] = ready.key;
  event["Records"].insert(event["Records"].begin(), first);
  Invocation invocation = PutEvent(early.key);
  invocation.payload = event.dump();
  auto answer = Function()(invocation);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().slug, "record_not_yet");
  ExpectOneCompleteImage(ready);
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_EQ(log_[0]["outcome"], "ready");
  EXPECT_EQ(log_[1]["outcome"], "retry");
}

}  // namespace
}  // namespace imgup
