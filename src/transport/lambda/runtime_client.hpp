#pragma once
// The Runtime API over HTTP/1.1 (Boost.Beast, synchronous, one connection kept alive while the
// API allows it). Beast and Asio are header-only: the client adds no shared library to the
// function, whose cold start is the user's first request's latency.
#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "transport/lambda/runtime_api.hpp"

namespace imgup {

class BeastRuntimeClient final : public RuntimeApi {
 public:
  /// `endpoint` is AWS_LAMBDA_RUNTIME_API's value, "host:port". Resolves it once; connects at
  /// the first call. Errors: kInvalidArgument (no port), kUnavailable (the name does not
  /// resolve).
  static Result<std::unique_ptr<BeastRuntimeClient>> Create(std::string_view endpoint);
  ~BeastRuntimeClient() override;
  BeastRuntimeClient(const BeastRuntimeClient&) = delete;
  BeastRuntimeClient& operator=(const BeastRuntimeClient&) = delete;

  Result<Invocation> Next() override;
  Result<void> PostResponse(std::string_view request_id, std::string_view payload) override;
  Result<void> PostError(std::string_view request_id, const FunctionError& error) override;
  Result<void> PostInitError(const FunctionError& error) override;

 private:
  struct Impl;
  explicit BeastRuntimeClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgup
