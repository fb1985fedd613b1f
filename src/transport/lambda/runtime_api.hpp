#pragma once
// The Lambda Runtime API (docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) as a small
// port, and the loop every custom runtime runs over it: take the next invocation, hand its event
// to the function, post the answer or the error, and go on.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace imgup {

/// One invocation, as GET /2018-06-01/runtime/invocation/next gives it.
struct Invocation {
  std::string request_id;        // Lambda-Runtime-Aws-Request-Id
  std::int64_t deadline_ms = 0;  // Lambda-Runtime-Deadline-Ms: Unix time (ms) of the timeout
  std::string function_arn;      // Lambda-Runtime-Invoked-Function-Arn
  std::string trace_id;          // Lambda-Runtime-Trace-Id (X-Ray); "" when absent
  std::string payload;           // the event, JSON
};

/// What a failed invocation or a failed init reports: the runtime API's error document
/// ({"errorMessage", "errorType", "stackTrace"}) and its Lambda-Runtime-Function-Error-Type.
struct FunctionError {
  std::string type;  // "Category.Reason", e.g. "Imgup.not_an_api_gateway_event"
  std::string message;
};

/// The trace id of an X-Ray trace header ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=...;
/// Sampled=1" → "1-5759e988-bd862e3fe1be46a994272793"), what the X-Ray console searches by;
/// the header itself when it has no Root.
std::string XRayTraceId(std::string_view trace_header);

/// The error document the Runtime API takes for `error`.
std::string FunctionErrorJson(const FunctionError& error);
/// `error` as a FunctionError: type "Imgup." + slug, its public message and, after " — ", its
/// detail (the invoker of a Lambda function is the operator, not an end user).
FunctionError ToFunctionError(const Error& error);

/// The Runtime API, one call per documented endpoint. Implemented over HTTP by
/// BeastRuntimeClient (runtime_client.hpp) and by fakes in tests.
class RuntimeApi {
 public:
  virtual ~RuntimeApi() = default;
  /// Waits for the next invocation (GET .../runtime/invocation/next; no time limit: Lambda
  /// freezes the process in between). Errors: kUnavailable when the API cannot be reached or
  /// answers other than 200.
  virtual Result<Invocation> Next() = 0;
  /// The function's answer (POST .../runtime/invocation/{id}/response). Errors: kUnavailable,
  /// kPayloadTooLarge when Lambda refuses the size (413), kInvalidArgument for another 4xx.
  virtual Result<void> PostResponse(std::string_view request_id, std::string_view payload) = 0;
  /// The invocation failed (POST .../runtime/invocation/{id}/error). Errors as PostResponse.
  virtual Result<void> PostError(std::string_view request_id, const FunctionError& error) = 0;
  /// Initialisation failed (POST .../runtime/init/error); Lambda then ends the process. Errors as
  /// PostResponse.
  virtual Result<void> PostInitError(const FunctionError& error) = 0;
};

/// A function: the answer to an invocation's event, or the error to report for it. It may also
/// throw; the loop reports that as an error too.
using InvocationHandler = std::function<Result<std::string>(const Invocation&)>;
/// Builds the handler once per process (Lambda's init phase).
using FunctionInit = std::function<Result<InvocationHandler>()>;
using LogLine = std::function<void(const std::string&)>;

/// Serves invocations until the Runtime API fails to give the next one, then returns 1 (Lambda
/// starts a new process). A handler that fails or throws gets its invocation's error posted and
/// the loop goes on; an answer or error that cannot be posted is logged and the loop goes on.
/// Before each invocation `_X_AMZN_TRACE_ID` is set to its trace id (unset when it has none), as
/// the X-Ray SDKs expect of a runtime.
int RunRuntimeLoop(RuntimeApi& api, const InvocationHandler& handler, const LogLine& log_line);

/// Lambda's whole lifecycle: `init` (an error or an exception is posted as the init error and
/// gives 1), then RunRuntimeLoop.
int RunFunction(RuntimeApi& api, const FunctionInit& init, const LogLine& log_line);

}  // namespace imgup
