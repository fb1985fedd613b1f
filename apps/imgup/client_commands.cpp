#include "client_commands.hpp"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "local_stores.hpp"

namespace imgup::app {

int List(const ClientOptions& options, int limit) {
  cli::Client client(options.url, options.key);
  const cli::ClientResponse response = client.Get("/images?limit=" + std::to_string(limit));
  if (response.status != 200) Die(cli::DescribeFailure(response));
  if (options.json) {
    std::cout << response.body << "\n";
    return 0;
  }
  const auto page = nlohmann::json::parse(response.body, nullptr, false);
  std::printf("%-26s  %-10s  %11s  %-9s  %-24s  %s\n", "ID", "TYPE", "SIZE", "PIXELS", "UPLOADED",
              "FILENAME");
  for (const auto& item : page.value("items", nlohmann::json::array())) {
    const std::string pixels =
        std::to_string(item.value("width", 0)) + "x" + std::to_string(item.value("height", 0));
    std::printf("%-26s  %-10s  %11s  %-9s  %-24s  %s\n", item.value("id", "").c_str(),
                item.value("content_type", "").c_str(),
                cli::HumanBytes(item.value("size_bytes", std::uint64_t{0})).c_str(), pixels.c_str(),
                item.value("uploaded_at", "").c_str(), item.value("filename", "").c_str());
  }
  return 0;
}

int GetImage(const ClientOptions& options, const std::string& id, const std::string& variant,
             const std::string& output) {
  cli::Client client(options.url, options.key);
  if (output.empty()) {
    const cli::ClientResponse response = client.Get("/images/" + id);
    if (response.status != 200) Die(cli::DescribeFailure(response));
    std::cout << nlohmann::json::parse(response.body, nullptr, false).dump(2) << "\n";
    return 0;
  }
  const cli::ClientResponse response = client.Get("/images/" + id + "/content?variant=" + variant);
  if (response.status != 200) Die(cli::DescribeFailure(response));
  std::ofstream out(output, std::ios::binary);
  out.write(response.body.data(), static_cast<std::streamsize>(response.body.size()));
  if (!out) Die("cannot write " + output);
  if (!options.json)
    std::cerr << "imgup: wrote " << cli::HumanBytes(response.body.size()) << " to " << output
              << "\n";
  return 0;
}

int Remove(const ClientOptions& options, const std::string& id) {
  cli::Client client(options.url, options.key);
  const cli::ClientResponse response = client.Delete("/images/" + id);
  if (response.status != 204) Die(cli::DescribeFailure(response));
  if (options.json) {
    std::cout << nlohmann::json{{"id", id}, {"deleted", true}}.dump() << "\n";
  } else {
    std::cout << "deleted " << id << "\n";
  }
  return 0;
}

}  // namespace imgup::app
