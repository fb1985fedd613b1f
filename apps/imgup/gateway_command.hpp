#pragma once
// imgup gateway: API Gateway on this machine, in front of a Lambda function running under AWS's
// Lambda Runtime Interface Emulator (make run-lambda): each HTTP request becomes the proxy event
// API Gateway would send (HTTP API payload 2.0, or REST API 1.0), is invoked synchronously on the
// emulator, and the function's proxy response becomes the answer. What API Gateway itself
// answers is answered here the same way: 413 over the payload limits, 502 when the function
// fails or answers something malformed, 404 outside the stage.
#include <cstddef>
#include <string>

namespace imgup::app {

struct GatewayCommandOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  /// The function's invoke URL: http://127.0.0.1:P/2015-03-31/functions/function/invocations.
  std::string function_url;
  std::string payload = "http";  // "http" (HTTP API, payload 2.0) or "rest" (REST API, 1.0)
  std::string stage;             // "" for HTTP API's $default stage
  int timeout_s = 30;            // API Gateway's integration timeout (HTTP API: 30 s)
  std::size_t threads = 8;
};

/// Serves until SIGINT or SIGTERM; returns the exit code (0 after a signal).
int RunGateway(const GatewayCommandOptions& options);

}  // namespace imgup::app
