#pragma once
// imgup init-aws: the bucket and the table of `imgup serve --storage aws`, made once (for
// emulators and first steps outside CloudFormation).
#include <string>

namespace imgup::app {

struct AwsStorageOptions {
  std::string bucket;         // --bucket / IMGUP_BUCKET
  std::string table;          // --table / IMGUP_TABLE
  std::string cursor_secret;  // IMGUP_CURSOR_SECRET
};

/// Creates the bucket and the table (keys, GSIs, TTL; docs/dynamodb.md), saying for each
/// whether it was made or already there; idempotent. Returns the exit code (1 on a failure,
/// named on stderr; 2 for a configuration that cannot work).
int InitAws(const AwsStorageOptions& options);

}  // namespace imgup::app
