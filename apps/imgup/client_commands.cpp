#include "client_commands.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "local_stores.hpp"

namespace imgup::app {

namespace {

using Json = nlohmann::json;

/// A string member, or "" when it is missing or null.
std::string Text(const Json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::uint64_t Number(const Json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::string Pixels(const Json& item) {
  return std::to_string(Number(item, "width")) + "x" + std::to_string(Number(item, "height"));
}

/// A GET that must answer 200 with JSON; dies naming the failure.
Json GetJson(cli::Client& client, const std::string& path) {
  const cli::ClientResponse response = client.Get(path);
  if (response.status != 200) Die(cli::DescribeFailure(response));
  Json body = Json::parse(response.body, nullptr, false);
  if (body.is_discarded()) Die("the server at " + response.url + " did not answer JSON");
  return body;
}

void PrintRow(const Json& item) {
  std::printf("%-26s  %-10s  %-10s  %10s  %-11s  %-24s  %s\n", Text(item, "id").c_str(),
              Text(item, "status").c_str(), Text(item, "content_type").c_str(),
              cli::HumanBytes(Number(item, "size_bytes")).c_str(), Pixels(item).c_str(),
              Text(item, "uploaded_at").c_str(), Text(item, "filename").c_str());
}

/// The file extension of a content type ("image/webp" -> "webp").
std::string Extension(const std::string& content_type) {
  const std::string type = content_type.substr(0, content_type.find(';'));
  if (type == "image/jpeg") return "jpg";
  const std::size_t slash = type.find('/');
  return slash == std::string::npos ? "bin" : type.substr(slash + 1);
}

}  // namespace

int List(const ClientOptions& options, const ListOptions& list) {
  cli::Client client(options.url, options.key);
  std::string cursor = list.cursor;
  Json items = Json::array();
  Json next = nullptr;
  bool header = false;
  do {
    std::string path = "/images?limit=" + std::to_string(list.limit);
    if (!cursor.empty()) path += "&cursor=" + cursor;
    const Json page = GetJson(client, path);
    next = page.contains("next_cursor") ? page["next_cursor"] : Json(nullptr);
    const Json page_items = page.value("items", Json::array());
    if (options.json) {
      items.insert(items.end(), page_items.begin(), page_items.end());
    } else {
      if (!header) {
        std::printf("%-26s  %-10s  %-10s  %10s  %-11s  %-24s  %s\n", "ID", "STATUS", "TYPE", "SIZE",
                    "PIXELS", "UPLOADED", "FILENAME");
        header = true;
      }
      for (const Json& item : page_items) PrintRow(item);
      std::fflush(stdout);
    }
    cursor = next.is_string() ? next.get<std::string>() : "";
  } while (list.all && !cursor.empty() && !cli::Interrupted());
  if (options.json) {
    std::cout << Json{{"items", std::move(items)}, {"next_cursor", list.all ? Json() : next}}.dump()
              << "\n";
    return 0;
  }
  if (!list.all && !cursor.empty()) {
    std::cerr << "imgup: more images: imgup ls --cursor " << cursor << " (or --all)\n";
  }
  return 0;
}

int GetImage(const ClientOptions& options, const std::string& id, const GetOptions& get) {
  cli::Client client(options.url, options.key);
  if (get.output.empty() && !get.variant_given) {
    const Json record = GetJson(client, "/images/" + id);
    if (options.json) {
      std::cout << record.dump(2) << "\n";
      return 0;
    }
    const std::string status = Text(record, "status");
    std::printf("id           %s\n", Text(record, "id").c_str());
    std::printf("file name    %s\n", Text(record, "filename").c_str());
    std::printf("status       %s", status.c_str());
    if (status == "failed") {
      std::printf(": %s", cli::FailureInWords(Text(record, "failure_reason")).c_str());
    }
    std::printf("\n");
    std::printf("type         %s, %s, %s\n", Text(record, "content_type").c_str(),
                Pixels(record).c_str(), cli::HumanBytes(Number(record, "size_bytes")).c_str());
    std::printf("uploaded     %s\n", Text(record, "uploaded_at").c_str());
    std::printf("sha256       %s\n", Text(record, "sha256").c_str());
    if (const Json tags = record.value("tags", Json::array()); !tags.empty()) {
      std::string joined;
      for (const Json& tag : tags) joined += (joined.empty() ? "" : ", ") + tag.get<std::string>();
      std::printf("tags         %s\n", joined.c_str());
    }
    if (const std::string description = Text(record, "description"); !description.empty()) {
      std::printf("description  %s\n", description.c_str());
    }
    const Json variants = record.value("variants", Json::object());
    for (const auto& [name, variant] : variants.items()) {
      std::printf("%-12s %s, %s, %s\n", name.c_str(), Text(variant, "content_type").c_str(),
                  Pixels(variant).c_str(), cli::HumanBytes(Number(variant, "size_bytes")).c_str());
    }
    if (const auto exif = record.find("exif"); exif != record.end() && exif->is_object()) {
      const std::string camera = Text(*exif, "make") + " " + Text(*exif, "model");
      if (camera != " ") std::printf("camera       %s\n", camera.c_str());
      if (const std::string taken = Text(*exif, "taken_at"); !taken.empty()) {
        std::printf("taken        %s\n", taken.c_str());
      }
    }
    if (const std::string color = Text(record, "dominant_color"); !color.empty()) {
      std::printf("colour       %s\n", color.c_str());
    }
    std::printf("content      %s%s\n", options.url.c_str(),
                Text(record.value("urls", Json::object()), "content").c_str());
    if (status == "processing") {
      std::printf(
          "(variants, EXIF and colours follow once processing ends: imgup upload --wait)\n");
    }
    return 0;
  }

  const cli::ClientResponse response =
      client.Get("/images/" + id + "/content?variant=" + get.variant);
  if (response.status != 200) Die(cli::DescribeFailure(response));
  std::string output = get.output;
  if (output == "-") {
    std::fwrite(response.body.data(), 1, response.body.size(), stdout);
    return 0;
  }
  if (output.empty()) {
    output = id + (get.variant == "original" ? "" : "-" + get.variant) + "." +
             Extension(response.content_type);
  }
  // Without -o the name is ours: never overwrite what is there. With -o the user chose it.
  const int flags = O_WRONLY | O_CREAT | O_TRUNC | (get.output.empty() ? O_EXCL : 0);
  const int fd = open(output.c_str(), flags, 0644);
  if (fd < 0) {
    Die("cannot write " + output + ": " + std::strerror(errno) +
        (get.output.empty() ? " (name another file with -o FILE, or -o - for stdout)" : ""));
  }
  std::size_t written = 0;
  while (written < response.body.size()) {
    const ssize_t n = write(fd, response.body.data() + written, response.body.size() - written);
    if (n <= 0) {
      close(fd);
      Die("cannot write " + output + ": " + std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
  }
  if (close(fd) != 0) Die("cannot write " + output + ": " + std::strerror(errno));
  if (options.json) {
    std::cout << Json{{"id", id},
                      {"variant", get.variant},
                      {"file", output},
                      {"size_bytes", response.body.size()},
                      {"content_type", response.content_type}}
                     .dump()
              << "\n";
  } else {
    std::cerr << "imgup: wrote the " << get.variant << " of " << id << " (" << response.content_type
              << ", " << cli::HumanBytes(response.body.size()) << ") to " << output << "\n";
  }
  return 0;
}

int Remove(const ClientOptions& options, const std::vector<std::string>& ids) {
  cli::Client client(options.url, options.key);
  std::size_t failed = 0;
  Json report = Json::array();
  for (const std::string& id : ids) {
    if (cli::Interrupted()) break;
    const cli::ClientResponse response = client.Delete("/images/" + id);
    const bool ok = response.status == 204;
    failed += ok ? 0 : 1;
    if (options.json) {
      Json item = {{"id", id}, {"deleted", ok}};
      if (!ok) item["error"] = cli::DescribeFailure(response);
      report.push_back(std::move(item));
    } else if (ok) {
      std::cout << "deleted " << id << "\n";
    } else {
      std::cerr << "imgup: " << id << ": " << cli::DescribeFailure(response) << "\n";
    }
  }
  if (options.json)
    std::cout << (ids.size() == 1 && report.size() == 1 ? report[0] : report).dump() << "\n";
  if (!options.json && ids.size() > 1) {
    std::cerr << "imgup: " << (ids.size() - failed) << " deleted, " << failed << " failed\n";
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace imgup::app
