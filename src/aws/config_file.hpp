#pragma once
// The AWS shared config and credentials files (~/.aws/config, ~/.aws/credentials) as the AWS CLI
// reads them: INI sections, "key = value" lines, '#' and ';' comment lines, and nested settings
// (a key with an empty value followed by indented "key = value" lines, as in "s3 =\n
// addressing_style = path"). Parsing only: the composition root reads the files.
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace imgup::aws {

/// The process environment as a value: only the composition root reads the real one.
using Environment = std::map<std::string, std::string, std::less<>>;

/// One section's settings. Keys are lower-cased, values trimmed.
struct ConfigSection {
  std::map<std::string, std::string, std::less<>> values;
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> nested;

  /// The value of `key`, if set and not empty.
  std::optional<std::string> Get(std::string_view key) const;
  /// The value of `key` nested under `parent` ("s3", "addressing_style"), if set and not empty.
  std::optional<std::string> GetNested(std::string_view parent, std::string_view key) const;
};

using Sections = std::map<std::string, ConfigSection, std::less<>>;

/// The config file: "[default]" and "[profile NAME]" are profiles, "[services NAME]" are
/// per-service settings; other sections ("[sso-session ...]") are kept by their full name in
/// `other`.
struct ConfigFile {
  Sections profiles;
  Sections services;
  Sections other;
};

/// Parses the config file. kInvalidArgument "aws_config_syntax" naming the line when a line is
/// neither a section, a setting, a continuation nor a comment.
Result<ConfigFile> ParseConfigFile(std::string_view text);

/// Parses the credentials file, whose sections are profile names without a "profile " prefix.
Result<Sections> ParseCredentialsFile(std::string_view text);

/// Where the files are: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and
/// ~/.aws/credentials under HOME. Empty when neither the variable nor HOME is set.
std::string ConfigFilePath(const Environment& env);
std::string CredentialsFilePath(const Environment& env);

/// The files' texts; a file that does not exist is nullopt.
struct SharedFiles {
  std::optional<std::string> config;
  std::optional<std::string> credentials;
};

/// The profile in use: AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default"; `explicit_choice`
/// tells whether a variable named it (a named profile that does not exist is then an error).
struct ProfileChoice {
  std::string name;
  bool explicit_choice = false;
};
ProfileChoice ChooseProfile(const Environment& env);

/// The settings of one profile, both files together: the credentials file's values win over the
/// config file's, as with the AWS CLI.
struct Profile {
  std::string name;
  bool found = false;  // in either file
  ConfigSection settings;
  /// The "[services NAME]" section the profile's `services` key names, if any.
  std::optional<ConfigSection> services;
};

/// Parses both files and picks the chosen profile. Errors: a file that does not parse, or an
/// explicitly chosen profile in neither file ("aws_profile_not_found").
Result<Profile> LoadProfile(const SharedFiles& files, const ProfileChoice& choice);

/// Reads a boolean setting as the AWS CLI does: "true"/"false", any case.
std::optional<bool> ParseBool(std::string_view text);

}  // namespace imgup::aws
