#pragma once
// The little XML that S3 answers with (ListBucketResult, DeleteResult, Error): elements, text,
// the five predefined entities and character references. No DTDs, no processing beyond the
// prolog, no mixed content that matters: what S3 sends, read strictly enough to refuse anything
// else instead of guessing.
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace imgup::s3 {

struct XmlElement {
  std::string name;  // the local name: any "prefix:" is dropped
  std::string text;  // the decoded character data directly inside the element
  std::vector<XmlElement> children;

  /// The first child named `name`, or nullptr.
  const XmlElement* Child(std::string_view child_name) const;
  /// The text of the first child named `name`, or "" when there is none.
  std::string_view ChildText(std::string_view child_name) const;
  /// Every child named `name`, in document order.
  std::vector<const XmlElement*> Children(std::string_view child_name) const;
};

/// Parses one document. Errors: kInternal "s3_bad_xml" with the offset of the problem.
Result<XmlElement> ParseXml(std::string_view document);

/// Escapes &, <, >, " and ' for element text and attribute values.
std::string XmlEscape(std::string_view text);

}  // namespace imgup::s3
