#pragma once
// imgup ls, get, rm: clients of a running server.
#include <string>

namespace imgup::app {

struct ClientOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string key;
  bool json = false;
};

/// Prints the newest `limit` images (a table, or the JSON page with options.json).
int List(const ClientOptions& options, int limit);
/// Prints an image's record, or writes the bytes of `variant` to `output`.
int GetImage(const ClientOptions& options, const std::string& id, const std::string& variant,
             const std::string& output);
int Remove(const ClientOptions& options, const std::string& id);

}  // namespace imgup::app
