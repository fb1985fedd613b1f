#pragma once
// A small read-only tree over expat, for the XML that S3 answers with (errors, listings,
// DeleteObjects results). Element names lose their namespace prefix; text is kept byte for byte
// (S3 keys may start or end with spaces). Documents with a DOCTYPE are refused: AWS never sends
// one, and it is how entity tricks get in.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"

namespace imgup::aws {

struct XmlElement {
  std::string name;  // local name: "Key" for <Key> and for <s3:Key>
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string text;  // the character data directly inside this element, entities decoded
  std::vector<XmlElement> children;

  /// The first child named `local_name`, or nullptr.
  const XmlElement* Child(std::string_view local_name) const;
  /// The text of the first child named `local_name`, or "" when there is none.
  std::string_view ChildText(std::string_view local_name) const;
  /// Every child named `local_name`, in document order.
  std::vector<const XmlElement*> Children(std::string_view local_name) const;
  /// The first element named `local_name` in this subtree (this element included), depth first.
  const XmlElement* Find(std::string_view local_name) const;
};

/// The document's root element. kInvalidArgument "bad_xml" for a document that is not
/// well-formed, has a DOCTYPE, or nests deeper than 64 elements.
Result<XmlElement> ParseXml(std::string_view document);

}  // namespace imgup::aws
