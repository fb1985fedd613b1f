#include "function_main.hpp"

#include <cstdio>
#include <iostream>

#include "config.hpp"
#include "transport/lambda/runtime_client.hpp"

namespace imgup::lambda_api {

void WriteLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int RunLambdaMain(const char* name, const FunctionInit& init) {
  const auto endpoint = ProcessEnv("AWS_LAMBDA_RUNTIME_API");
  if (!endpoint) {
    std::cerr << name
              << ": AWS_LAMBDA_RUNTIME_API is not set. This program is a Lambda function: run it "
                 "on Lambda or under aws-lambda-rie.\n";
    return 2;
  }
  auto client = BeastRuntimeClient::Create(*endpoint);
  if (!client) {
    std::cerr << name << ": " << client.error().message << ": " << client.error().detail << "\n";
    return 1;
  }
  return RunFunction(**client, init, WriteLine);
}

}  // namespace imgup::lambda_api
