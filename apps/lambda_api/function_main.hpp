#pragma once
// What every Lambda function's main() does, shared by imgup-lambda-api and
// imgup-lambda-processor: the system clock, a log line to CloudWatch, and the process's
// lifecycle around the Runtime API (the system clock is domain/ports/clock.hpp's).
#include <chrono>
#include <cstdint>
#include <string>

#include "domain/ports/clock.hpp"
#include "transport/lambda/runtime_api.hpp"

namespace imgup::lambda_api {

/// Writes `line` to stdout and flushes it: Lambda sends stdout to CloudWatch Logs, a line per
/// event.
void WriteLine(const std::string& line);

/// main() of the function `name`: connects to the Runtime API that AWS_LAMBDA_RUNTIME_API names
/// and runs RunFunction(init). Returns the process's exit code (2 when not run by Lambda or its
/// emulator).
int RunLambdaMain(const char* name, const FunctionInit& init);

}  // namespace imgup::lambda_api
