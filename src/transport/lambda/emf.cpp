#include "transport/lambda/emf.hpp"

#include <utility>

namespace imgup {

namespace {

const std::vector<std::vector<std::string>> kByFunction = {{"Function"}};
const std::vector<std::vector<std::string>> kByFunctionAndReason = {{"Function"},
                                                                    {"Function", "Reason"}};

MetricsEvent ForFunction(std::string function) {
  MetricsEvent event;
  event.dimensions["Function"] = std::move(function);
  return event;
}

void AddCountByReason(MetricsEvent& event, std::string name, std::string_view reason) {
  event.dimensions["Reason"] = reason.empty() ? "unknown" : std::string(reason);
  event.groups.push_back(
      MetricGroup{kByFunctionAndReason, {{std::move(name), MetricUnit::kCount, 1}}});
}

}  // namespace

std::string_view UnitName(MetricUnit unit) {
  switch (unit) {
    case MetricUnit::kCount:
      return "Count";
    case MetricUnit::kBytes:
      return "Bytes";
    case MetricUnit::kMilliseconds:
      return "Milliseconds";
  }
  return "None";
}

void AddEmbeddedMetrics(nlohmann::json& line, std::int64_t timestamp_ms,
                        const MetricsEvent& event) {
  if (event.groups.empty()) return;
  nlohmann::json directives = nlohmann::json::array();
  for (const MetricGroup& group : event.groups) {
    nlohmann::json metrics = nlohmann::json::array();
    for (const Metric& metric : group.metrics) {
      metrics.push_back({{"Name", metric.name}, {"Unit", UnitName(metric.unit)}});
      line[metric.name] = metric.value;
    }
    directives.push_back({{"Namespace", kMetricsNamespace},
                          {"Dimensions", group.dimension_sets},
                          {"Metrics", std::move(metrics)}});
  }
  for (const auto& [name, value] : event.dimensions) line[name] = value;
  line["_aws"] = {{"Timestamp", timestamp_ms}, {"CloudWatchMetrics", std::move(directives)}};
}

MetricsEvent ApiRequestMetrics(const HttpRequest& request, const HttpResponse& response,
                               double duration_ms) {
  MetricsEvent event = ForFunction("api");
  const bool upload = request.method == "POST" && request.path == "/upload";
  const bool presigned = request.method == "POST" && request.path == "/uploads";
  if (response.status >= 500) {
    event.groups.push_back(MetricGroup{kByFunction, {{"ServerErrors", MetricUnit::kCount, 1}}});
  } else if ((upload || presigned) && response.status >= 400) {
    AddCountByReason(event, "Rejections", response.error_code);
  } else if (upload && response.status == 201) {
    event.groups.push_back(
        MetricGroup{kByFunction,
                    {{"Uploads", MetricUnit::kCount, 1},
                     {"UploadBytes", MetricUnit::kBytes, static_cast<double>(response.image_bytes)},
                     {"UploadTime", MetricUnit::kMilliseconds, duration_ms}}});
  } else if (upload && response.status == 200) {
    event.groups.push_back(MetricGroup{kByFunction, {{"DuplicateUploads", MetricUnit::kCount, 1}}});
  } else if (presigned && response.status >= 200 && response.status < 300) {
    // POST /uploads (issue 11, item 4) counts as soon as the route answers.
    event.groups.push_back(MetricGroup{kByFunction, {{"PresignedUploads", MetricUnit::kCount, 1}}});
  }
  return event;
}

MetricsEvent ProcessorRecordMetrics(std::string_view outcome, std::string_view reason,
                                    double duration_ms) {
  MetricsEvent event = ForFunction("processor");
  const Metric time{"ProcessingTime", MetricUnit::kMilliseconds, duration_ms};
  if (outcome == "ready") {
    event.groups.push_back(
        MetricGroup{kByFunction, {{"ImagesProcessed", MetricUnit::kCount, 1}, time}});
  } else if (outcome == "committed") {
    event.groups.push_back(MetricGroup{kByFunction, {{"UploadsCommitted", MetricUnit::kCount, 1}}});
  } else if (outcome == "failed" || outcome == "crashed") {
    event.groups.push_back(MetricGroup{kByFunction, {time}});
    AddCountByReason(event, "ProcessingFailures", reason);
  } else if (outcome == "retry") {
    AddCountByReason(event, "ProcessingRetries", reason);
  }
  return event;
}

}  // namespace imgup
