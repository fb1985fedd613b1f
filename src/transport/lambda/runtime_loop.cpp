#include <stdlib.h>

#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "api/record_json.hpp"
#include "transport/lambda/runtime_api.hpp"

namespace imgup {

namespace {

void Log(const LogLine& log_line, std::string_view level, std::string_view msg,
         nlohmann::json fields = nlohmann::json::object()) noexcept {
  try {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    nlohmann::json line = {{"ts", FormatRfc3339(now)}, {"level", level}, {"msg", msg}};
    line.update(fields);
    log_line(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } catch (...) {
  }
}

FunctionError FromException(std::exception_ptr thrown) {
  try {
    std::rethrow_exception(std::move(thrown));
  } catch (const std::exception& e) {
    return FunctionError{"Imgup.unhandled_exception", e.what()};
  } catch (...) {
    return FunctionError{"Imgup.unhandled_exception", "unknown exception"};
  }
}

}  // namespace

std::string XRayTraceId(std::string_view trace_header) {
  std::string_view rest = trace_header;
  while (!rest.empty()) {
    const std::size_t end = rest.find(';');
    std::string_view part = rest.substr(0, end);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.substr(0, 5) == "Root=") return std::string(part.substr(5));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return std::string(trace_header);
}

std::string FunctionErrorJson(const FunctionError& error) {
  const nlohmann::json document = {{"errorMessage", error.message},
                                   {"errorType", error.type},
                                   {"stackTrace", nlohmann::json::array()}};
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

FunctionError ToFunctionError(const Error& error) {
  std::string message = error.message;
  if (!error.detail.empty()) message += " — " + error.detail;
  return FunctionError{"Imgup." + error.slug, std::move(message)};
}

int RunRuntimeLoop(RuntimeApi& api, const InvocationHandler& handler, const LogLine& log_line) {
  for (;;) {
    Result<Invocation> next = api.Next();
    if (!next) {
      Log(log_line, "error", "the Runtime API gave no next invocation; exiting",
          {{"error", next.error().slug}, {"error_detail", next.error().detail}});
      return 1;
    }
    const Invocation& invocation = *next;
    if (invocation.trace_id.empty()) {
      unsetenv("_X_AMZN_TRACE_ID");
    } else {
      setenv("_X_AMZN_TRACE_ID", invocation.trace_id.c_str(), 1);
    }

    std::string answer;
    std::optional<FunctionError> failure;
    try {
      Result<std::string> result = handler(invocation);
      if (result) {
        answer = std::move(*result);
      } else {
        failure = ToFunctionError(result.error());
      }
    } catch (...) {
      failure = FromException(std::current_exception());
    }

    Result<void> posted = failure ? api.PostError(invocation.request_id, *failure)
                                  : api.PostResponse(invocation.request_id, answer);
    if (failure) {
      Log(log_line, "error", "invocation failed",
          {{"request_id", invocation.request_id},
           {"trace_id", XRayTraceId(invocation.trace_id)},
           {"error_type", failure->type},
           {"error_message", failure->message}});
    }
    if (!posted) {
      // Lambda closes the invocation with its own error; the next one may do better.
      Log(log_line, "error", failure ? "could not post the error" : "could not post the response",
          {{"request_id", invocation.request_id},
           {"error", posted.error().slug},
           {"error_detail", posted.error().detail}});
    }
  }
}

int RunFunction(RuntimeApi& api, const FunctionInit& init, const LogLine& log_line) {
  std::optional<FunctionError> failure;
  InvocationHandler handler;
  try {
    Result<InvocationHandler> made = init();
    if (made) {
      handler = std::move(*made);
    } else {
      failure = ToFunctionError(made.error());
    }
  } catch (...) {
    failure = FromException(std::current_exception());
  }
  if (failure) {
    Log(log_line, "error", "init failed",
        {{"error_type", failure->type}, {"error_message", failure->message}});
    if (Result<void> posted = api.PostInitError(*failure); !posted) {
      Log(log_line, "error", "could not post the init error",
          {{"error", posted.error().slug}, {"error_detail", posted.error().detail}});
    }
    return 1;
  }
  return RunRuntimeLoop(api, handler, log_line);
}

}  // namespace imgup
