#include "aws_commands.hpp"

#include <iostream>

#include "aws_backend/aws_backend.hpp"
#include "local_stores.hpp"

namespace imgup::app {

int InitAws(const AwsStorageOptions& options) {
  SystemClock clock;
  auto backend = OpenAwsBackend(
      AwsBackendConfigFromProcess(options.bucket, options.table, options.cursor_secret), clock);
  if (!backend) Die(backend.error().message + " " + backend.error().detail, 2);
  const AwsBackendDescription& d = (*backend)->Description();
  auto done = (*backend)->Init();
  if (!done) {
    Die("init-aws: " + done.error().message +
        (done.error().detail.empty() ? "" : "\n  detail: " + done.error().detail));
  }
  for (const std::string& line : *done) std::cout << "imgup: " << line << "\n";
  std::cout << "imgup: ready: bucket " << d.bucket << " at " << d.s3_endpoint << ", table "
            << d.table << " at " << d.dynamodb_endpoint << " (" << d.region << ")\n";
  return 0;
}

}  // namespace imgup::app
