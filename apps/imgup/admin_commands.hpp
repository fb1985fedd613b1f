#pragma once
// imgup keys add|ls|rm and imgup fsck: commands on the stores (no server needed).
#include <string>

#include "aws_commands.hpp"

namespace imgup::app {

/// Where the keys are: the data directory's database, or the DynamoDB table of `--storage aws`.
struct KeyStoreOptions {
  std::string storage = "local";  // "local" or "aws"
  std::string data_dir = "data";
  AwsStorageOptions aws;
};

/// Creates a key named `name` and prints it (once: only its hash is stored). When it is the first
/// key and images uploaded without a key (owner "local") exist, says how to keep reaching them
/// and offers it: with `keep_local`, or when the user says yes on a terminal, it also creates a
/// key named "local" and prints it on the next line.
int KeysAdd(const KeyStoreOptions& where, const std::string& name, bool keep_local);
int KeysList(const KeyStoreOptions& where, bool json);
int KeysRemove(const KeyStoreOptions& where, const std::string& name);
/// Finds (and unless `check_only`, removes) what a crash left behind.
int Fsck(const std::string& data_dir, bool check_only, bool json);

}  // namespace imgup::app
