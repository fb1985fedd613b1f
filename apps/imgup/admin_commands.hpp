#pragma once
// imgup keys add|ls|rm and imgup fsck: commands on a data directory (no server needed).
#include <string>

namespace imgup::app {

/// Creates a key named `name` and prints it (once: only its hash is stored).
int KeysAdd(const std::string& data_dir, const std::string& name);
int KeysList(const std::string& data_dir, bool json);
int KeysRemove(const std::string& data_dir, const std::string& name);
/// Finds (and unless `check_only`, removes) what a crash left behind.
int Fsck(const std::string& data_dir, bool check_only, bool json);

}  // namespace imgup::app
