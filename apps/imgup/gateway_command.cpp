#include "gateway_command.hpp"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "aws/http_client.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ulid.hpp"
#include "local_stores.hpp"
#include "stop_signals.hpp"
#include "transport/http/http_server.hpp"
#include "transport/lambda/local_gateway.hpp"

namespace imgup::app {

namespace {

class Gateway {
 public:
  Gateway(const GatewayCommandOptions& options, Clock& clock) : options_(options), clock_(clock) {
    aws::HttpClientOptions client_options;
    client_options.request_timeout = std::chrono::seconds(options.timeout_s);
    client_ = aws::MakeHttpClient(client_options);
    event_options_.version =
        options.payload == "rest" ? PayloadVersion::kRestV1 : PayloadVersion::kHttpV2;
    event_options_.stage = options.stage;
  }

  HttpResponse operator()(const HttpRequest& request) noexcept {
    try {
      HttpResponse response = Forward(request);
      // API Gateway's own request id, beside the function's X-Request-Id.
      response.headers.emplace_back(event_options_.version == PayloadVersion::kHttpV2
                                        ? "apigw-requestid"
                                        : "x-amzn-requestid",
                                    request.request_id);
      response.route = "gateway";
      return response;
    } catch (const std::exception& e) {
      HttpResponse failed = GatewayMessage(502, "Internal Server Error");
      failed.error_detail = e.what();
      return failed;
    }
  }

 private:
  HttpResponse Forward(const HttpRequest& request) {
    if (!InStage(request.path, options_.stage)) return GatewayMessage(404, "Not Found");
    if (request.body.size() > kApiGatewayPayloadLimitBytes) {
      return GatewayMessage(413, "Request Entity Too Large");
    }
    GatewayEventOptions event_options = event_options_;
    event_options.request_id = request.request_id;
    event_options.now_ms = clock_.NowMs();
    aws::HttpRequest invoke;
    invoke.method = "POST";
    invoke.url = options_.function_url;
    invoke.headers.push_back({"content-type", "application/json"});
    invoke.body = EncodeGatewayEvent(request, event_options);
    // Lambda refuses a synchronous invocation's payload over 6 MB; API Gateway answers 413.
    if (invoke.body.size() > kLambdaPayloadLimitBytes) {
      return GatewayMessage(413, "Request Entity Too Large");
    }
    Result<aws::HttpResponse> answer = [&] {
      // The emulator runs one invocation at a time, as one instance of the function does.
      std::lock_guard<std::mutex> lock(invoke_mutex_);
      return client_->Send(invoke);
    }();
    if (!answer) {
      HttpResponse failed = answer.error().slug == "timeout"
                                ? GatewayMessage(504, "Endpoint request timed out")
                                : GatewayMessage(502, "Internal Server Error");
      failed.error_detail = "invoke: " + answer.error().detail;
      return failed;
    }
    if (IsFunctionError(answer->status, !answer->Header("x-amz-function-error").empty(),
                        answer->body)) {
      HttpResponse failed = GatewayMessage(502, "Internal Server Error");
      failed.error_detail = "function error: " + answer->body.substr(0, 500);
      return failed;
    }
    Result<HttpResponse> response = DecodeGatewayResponse(answer->body, event_options_.version);
    if (!response) {
      HttpResponse failed = GatewayMessage(502, "Internal Server Error");
      failed.error_detail = response.error().detail;
      return failed;
    }
    if (request.method == "HEAD") response->body.clear();
    return std::move(*response);
  }

  const GatewayCommandOptions& options_;
  Clock& clock_;
  std::unique_ptr<aws::HttpClient> client_;
  GatewayEventOptions event_options_;
  std::mutex invoke_mutex_;
};

}  // namespace

int RunGateway(const GatewayCommandOptions& options) {
  const sigset_t signals = BlockStopSignals();

  SystemClock clock;
  UlidGenerator ids;
  Gateway gateway(options, clock);
  const auto log_line = StdoutLines();
  HttpServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  // Bodies up to API Gateway's limit are read, so that the gateway answers as API Gateway does;
  // beyond it the transport refuses before reading (its own 413).
  server_options.max_body_bytes = kApiGatewayPayloadLimitBytes + 1;
  server_options.threads = options.threads;
  server_options.request_timeout_s = options.timeout_s + 30;
  HttpServer server([&gateway](const HttpRequest& request) { return gateway(request); },
                    server_options, clock, ids, log_line);
  auto port = server.Bind();
  if (!port)
    Die("imgup gateway: cannot listen on " + options.host + ":" + std::to_string(options.port) +
        ": " + port.error().detail);
  std::thread signal_thread([&server, signals] {
    // Waited for before anything is written: the operands of << run left to right.
    const char* signal_name = WaitForStopSignal(signals);
    std::cerr << "imgup gateway: " << signal_name << ", finishing in-flight requests\n";
    server.Stop();
  });
  std::cerr << "imgup gateway: "
            << (options.payload == "rest" ? "REST API (payload 1.0)" : "HTTP API (payload 2.0)")
            << (options.stage.empty() ? "" : ", stage /" + options.stage) << " → "
            << options.function_url << "\n";
  std::cerr << "imgup: listening on http://" << options.host << ":" << *port << std::endl;
  server.Serve();
  signal_thread.join();
  std::cerr << "imgup gateway: stopped\n";
  return 0;
}

}  // namespace imgup::app
