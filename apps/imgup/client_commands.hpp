#pragma once
// imgup ls, get, rm: clients of a running server.
#include <string>
#include <vector>

namespace imgup::app {

struct ClientOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string key;
  bool json = false;
};

struct ListOptions {
  int limit = 50;
  std::string cursor;  // the next_cursor of an earlier page; "" for the newest
  bool all = false;    // every page
};

/// Prints a page of images, newest first: a table with a STATUS column (and on stderr, when
/// more exist, how to see them), or the JSON page with options.json. With `all`, every page.
int List(const ClientOptions& options, const ListOptions& list);

struct GetOptions {
  std::string variant = "original";
  bool variant_given = false;  // --variant was on the command line
  std::string output;          // -o FILE; "-" for stdout
};

/// Prints a readable summary of an image's record (the record's JSON with options.json); with
/// -o or --variant, saves the bytes instead (without -o to ID[-VARIANT].EXT in the current
/// folder, never over an existing file) and says where they went.
int GetImage(const ClientOptions& options, const std::string& id, const GetOptions& get);

/// Deletes each image; goes on past failures, names them, and exits 1 when any failed.
int Remove(const ClientOptions& options, const std::vector<std::string>& ids);

}  // namespace imgup::app
