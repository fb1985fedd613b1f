#pragma once
// imgup keys add|ls|rm and imgup fsck: commands on a data directory (no server needed).
#include <string>

namespace imgup::app {

/// Creates a key named `name` and prints it (once: only its hash is stored). When it is the first
/// key and images uploaded without a key (owner "local") exist, says how to keep reaching them
/// and offers it: with `keep_local`, or when the user says yes on a terminal, it also creates a
/// key named "local" and prints it on the next line.
int KeysAdd(const std::string& data_dir, const std::string& name, bool keep_local);
int KeysList(const std::string& data_dir, bool json);
int KeysRemove(const std::string& data_dir, const std::string& name);
/// Finds (and unless `check_only`, removes) what a crash left behind.
int Fsck(const std::string& data_dir, bool check_only, bool json);

}  // namespace imgup::app
