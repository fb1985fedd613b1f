#pragma once
// CloudWatch Embedded Metric Format (EMF): a log line that CloudWatch Logs also turns into
// metrics, with no API call and no agent (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
// CloudWatch_Embedded_Metric_Format_Specification.html). The functions put the `_aws` envelope on
// the JSON line they log anyway (the request's, the S3 record's), so a line's log fields and its
// metrics never disagree and each event is written once.
//
// Namespace "imgup"; every metric has the dimension Function ("api" or "processor": fixed names,
// so that the template's alarms need not know the deployed function names), and the counts
// by reason have a second dimension set {Function, Reason} (Reason: the error's code, a bounded
// set of slugs, so a bounded number of custom metrics). Owner, image id and route are never
// dimensions: each distinct value would be a custom metric of its own.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.hpp"

namespace imgup {

inline constexpr std::string_view kMetricsNamespace = "imgup";

/// The units imgup uses, of those CloudWatch allows.
enum class MetricUnit { kCount, kBytes, kMilliseconds };

/// CloudWatch's name of `unit` ("Count", "Bytes", "Milliseconds").
std::string_view UnitName(MetricUnit unit);

struct Metric {
  std::string name;
  MetricUnit unit = MetricUnit::kCount;
  double value = 0;
};

/// Metrics and the dimension sets CloudWatch aggregates them by (one EMF directive).
struct MetricGroup {
  std::vector<std::vector<std::string>> dimension_sets;
  std::vector<Metric> metrics;
};

/// The metrics of one event (a request, an S3 record) and the values of the dimensions they
/// name.
struct MetricsEvent {
  std::map<std::string, std::string> dimensions;
  std::vector<MetricGroup> groups;
};

/// Makes `line` an EMF event: `_aws` {Timestamp: `timestamp_ms`, CloudWatchMetrics: one
/// directive per group, namespace kMetricsNamespace}, each metric's value and each dimension's
/// value as members of `line`. Leaves `line` as it is when `event` has no metric.
void AddEmbeddedMetrics(nlohmann::json& line, std::int64_t timestamp_ms, const MetricsEvent& event);

/// The API function's metrics for one answered request (Function "api"):
/// - POST /upload answered 201: Uploads (Count), UploadBytes (Bytes, the image's size),
///   UploadTime (Milliseconds, `duration_ms`); answered 200 (a duplicate): DuplicateUploads;
/// - POST /uploads answered 2xx: PresignedUploads (Count);
/// - POST /upload or /uploads answered 4xx: Rejections (Count), also by Reason (the problem's
///   code);
/// - any 5xx: ServerErrors (Count; the function itself succeeds, so Lambda's Errors metric does
///   not count these).
/// Other requests have none.
MetricsEvent ApiRequestMetrics(const HttpRequest& request, const HttpResponse& response,
                               double duration_ms);

/// The processor function's metrics for one S3 record (Function "processor") by its outcome
/// (transport/lambda/processor_function.hpp): "ready": ImagesProcessed (Count) and
/// ProcessingTime (Milliseconds); "committed" (a presigned upload's bytes validated and written
/// under originals/): UploadsCommitted (Count); "failed" and "crashed": ProcessingFailures (Count,
/// also by Reason) and ProcessingTime; "retry": ProcessingRetries (Count, also by Reason);
/// "ignored": none. `reason` is the error's code (a slug).
MetricsEvent ProcessorRecordMetrics(std::string_view outcome, std::string_view reason,
                                    double duration_ms);

}  // namespace imgup
