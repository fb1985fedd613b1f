#include "aws/config_file.hpp"

#include <utility>
#include <vector>

#include "codecs/text.hpp"

namespace imgup::aws {
namespace {

std::string_view Trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

bool IsComment(std::string_view trimmed) {
  return !trimmed.empty() && (trimmed.front() == '#' || trimmed.front() == ';');
}

// One section as the file names it ("profile dev", "default", "services local").
struct RawSection {
  std::string name;
  ConfigSection section;
};

Result<std::vector<RawSection>> ParseIni(std::string_view text) {
  std::vector<RawSection> sections;
  std::string last_key;  // the setting an indented line continues
  int line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;

    const std::string_view trimmed = Trim(line);
    if (trimmed.empty() || IsComment(trimmed)) continue;
    auto syntax_error = [&](std::string_view what) {
      return Fail(
          ErrorCode::kInvalidArgument, "aws_config_syntax",
          "line " + std::to_string(line_number) + " of an AWS config file: " + std::string(what));
    };

    const bool indented = line.front() == ' ' || line.front() == '\t';
    if (trimmed.front() == '[') {
      const auto close = trimmed.find(']');
      if (close == std::string_view::npos) return syntax_error("a section without ']'");
      const std::string_view rest = Trim(trimmed.substr(close + 1));
      if (!rest.empty() && !IsComment(rest)) return syntax_error("text after a section");
      // "[profile   dev]" names "profile dev": the words count, not the spaces.
      std::string name;
      for (std::string_view inner = Trim(trimmed.substr(1, close - 1)); !inner.empty();) {
        const auto space = inner.find_first_of(" \t");
        if (!name.empty()) name.push_back(' ');
        name += inner.substr(0, space);
        inner = space == std::string_view::npos ? std::string_view{} : Trim(inner.substr(space));
      }
      if (name.empty()) return syntax_error("a section without a name");
      sections.push_back({std::move(name), {}});
      last_key.clear();
      continue;
    }
    if (sections.empty()) return syntax_error("a setting before any section");
    ConfigSection& section = sections.back().section;
    const auto eq = trimmed.find('=');

    if (indented && !last_key.empty()) {
      // A nested setting of the last key ("s3 =" then "  addressing_style = path").
      if (!section.values[last_key].empty()) {
        return syntax_error("an indented line under a setting that has a value");
      }
      if (eq == std::string_view::npos) return syntax_error("a nested line without '='");
      const std::string key = AsciiLower(Trim(trimmed.substr(0, eq)));
      section.nested[last_key][key] = std::string(Trim(trimmed.substr(eq + 1)));
      continue;
    }
    if (eq == std::string_view::npos) return syntax_error("a line without '='");
    const std::string key = AsciiLower(Trim(trimmed.substr(0, eq)));
    if (key.empty()) return syntax_error("a setting without a name");
    section.values[key] = std::string(Trim(trimmed.substr(eq + 1)));
    last_key = key;
  }
  return sections;
}

void Merge(ConfigSection& into, const ConfigSection& from) {
  for (const auto& [key, value] : from.values) into.values[key] = value;
  for (const auto& [parent, values] : from.nested) {
    for (const auto& [key, value] : values) into.nested[parent][key] = value;
  }
}

std::string HomeFile(const Environment& env, std::string_view variable, std::string_view name) {
  if (const auto it = env.find(variable); it != env.end() && !it->second.empty()) {
    return it->second;
  }
  if (const auto it = env.find("HOME"); it != env.end() && !it->second.empty()) {
    return it->second + "/.aws/" + std::string(name);
  }
  return {};
}

}  // namespace

std::optional<std::string> ConfigSection::Get(std::string_view key) const {
  const auto it = values.find(key);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::optional<std::string> ConfigSection::GetNested(std::string_view parent,
                                                    std::string_view key) const {
  const auto outer = nested.find(parent);
  if (outer == nested.end()) return std::nullopt;
  const auto it = outer->second.find(key);
  if (it == outer->second.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

Result<ConfigFile> ParseConfigFile(std::string_view text) {
  IMGUP_ASSIGN_OR_RETURN(const auto sections, ParseIni(text));
  ConfigFile file;
  for (const auto& [name, section] : sections) {
    if (name == "default") {
      Merge(file.profiles["default"], section);
    } else if (name.starts_with("profile ")) {
      Merge(file.profiles[name.substr(8)], section);
    } else if (name.starts_with("services ")) {
      Merge(file.services[name.substr(9)], section);
    } else {
      Merge(file.other[name], section);
    }
  }
  return file;
}

Result<Sections> ParseCredentialsFile(std::string_view text) {
  IMGUP_ASSIGN_OR_RETURN(const auto sections, ParseIni(text));
  Sections profiles;
  for (const auto& [name, section] : sections) Merge(profiles[name], section);
  return profiles;
}

std::string ConfigFilePath(const Environment& env) {
  return HomeFile(env, "AWS_CONFIG_FILE", "config");
}

std::string CredentialsFilePath(const Environment& env) {
  return HomeFile(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
}

ProfileChoice ChooseProfile(const Environment& env) {
  for (const char* variable : {"AWS_PROFILE", "AWS_DEFAULT_PROFILE"}) {
    if (const auto it = env.find(variable); it != env.end() && !it->second.empty()) {
      return {it->second, true};
    }
  }
  return {"default", false};
}

Result<Profile> LoadProfile(const SharedFiles& files, const ProfileChoice& choice) {
  Profile profile;
  profile.name = choice.name;
  ConfigFile config;
  if (files.config) {
    IMGUP_ASSIGN_OR_RETURN(config, ParseConfigFile(*files.config));
    if (const auto it = config.profiles.find(choice.name); it != config.profiles.end()) {
      profile.found = true;
      Merge(profile.settings, it->second);
    }
  }
  if (files.credentials) {
    IMGUP_ASSIGN_OR_RETURN(const Sections credentials, ParseCredentialsFile(*files.credentials));
    if (const auto it = credentials.find(choice.name); it != credentials.end()) {
      profile.found = true;
      Merge(profile.settings, it->second);
    }
  }
  if (!profile.found && choice.explicit_choice) {
    return Fail(ErrorCode::kInvalidArgument, "aws_profile_not_found",
                "the AWS profile \"" + choice.name + "\" is in neither the config nor the " +
                    "credentials file");
  }
  if (const auto services_name = profile.settings.Get("services")) {
    if (const auto it = config.services.find(*services_name); it != config.services.end()) {
      profile.services = it->second;
    }
  }
  return profile;
}

std::optional<bool> ParseBool(std::string_view text) {
  const std::string lower = AsciiLower(Trim(text));
  if (lower == "true") return true;
  if (lower == "false") return false;
  return std::nullopt;
}

}  // namespace imgup::aws
