#include "aws/xml.hpp"

#include <expat.h>

#include <limits>
#include <memory>
#include <string>

namespace imgup::aws {

const XmlElement* XmlElement::Child(std::string_view local_name) const {
  for (const auto& child : children) {
    if (child.name == local_name) return &child;
  }
  return nullptr;
}

std::string_view XmlElement::ChildText(std::string_view local_name) const {
  const XmlElement* child = Child(local_name);
  return child != nullptr ? std::string_view(child->text) : std::string_view();
}

std::vector<const XmlElement*> XmlElement::Children(std::string_view local_name) const {
  std::vector<const XmlElement*> found;
  for (const auto& child : children) {
    if (child.name == local_name) found.push_back(&child);
  }
  return found;
}

const XmlElement* XmlElement::Find(std::string_view local_name) const {
  if (name == local_name) return this;
  for (const auto& child : children) {
    if (const XmlElement* found = child.Find(local_name)) return found;
  }
  return nullptr;
}

namespace {

constexpr std::size_t kMaxDepth = 64;

struct Builder {
  XML_Parser parser = nullptr;
  XmlElement root;
  std::vector<XmlElement*> open;  // the path from the root to the element being read
  bool has_root = false;
  std::string refused;  // why the builder stopped the parser, if it did
};

std::string LocalName(const XML_Char* qualified) {
  std::string_view name(qualified);
  auto colon = name.rfind(':');
  return std::string(colon == std::string_view::npos ? name : name.substr(colon + 1));
}

void Stop(Builder& builder, std::string reason) {
  builder.refused = std::move(reason);
  XML_StopParser(builder.parser, XML_FALSE);
}

void OnStart(void* data, const XML_Char* name, const XML_Char** attributes) {
  auto& builder = *static_cast<Builder*>(data);
  if (builder.open.size() >= kMaxDepth) return Stop(builder, "nested too deep");
  XmlElement* element = nullptr;
  if (builder.open.empty()) {
    builder.has_root = true;
    element = &builder.root;
  } else {
    element = &builder.open.back()->children.emplace_back();
  }
  element->name = LocalName(name);
  for (const XML_Char** attribute = attributes; attribute[0] != nullptr; attribute += 2) {
    element->attributes.emplace_back(attribute[0], attribute[1]);
  }
  builder.open.push_back(element);
}

void OnEnd(void* data, const XML_Char* /*name*/) { static_cast<Builder*>(data)->open.pop_back(); }

void OnText(void* data, const XML_Char* text, int length) {
  auto& builder = *static_cast<Builder*>(data);
  if (!builder.open.empty() && length > 0) {
    builder.open.back()->text.append(text, static_cast<std::size_t>(length));
  }
}

void OnDoctype(void* data, const XML_Char* /*name*/, const XML_Char* /*sysid*/,
               const XML_Char* /*pubid*/, int /*has_internal_subset*/) {
  Stop(*static_cast<Builder*>(data), "a DOCTYPE is not accepted");
}

}  // namespace

Result<XmlElement> ParseXml(std::string_view document) {
  if (document.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return Fail(ErrorCode::kInvalidArgument, "bad_xml", "XML document too large");
  }
  std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(XML_ParserCreate("UTF-8"),
                                                                      &XML_ParserFree);
  if (!parser) return Fail(ErrorCode::kInternal, "xml_parser", "cannot create an XML parser");
  Builder builder;
  builder.parser = parser.get();
  XML_SetUserData(parser.get(), &builder);
  XML_SetElementHandler(parser.get(), &OnStart, &OnEnd);
  XML_SetCharacterDataHandler(parser.get(), &OnText);
  XML_SetStartDoctypeDeclHandler(parser.get(), &OnDoctype);
  // `open` points into the children vectors: only the innermost open element gains children, so
  // no vector that holds an open element reallocates while it is open.
  if (XML_Parse(parser.get(), document.data(), static_cast<int>(document.size()), XML_TRUE) !=
          XML_STATUS_OK ||
      !builder.refused.empty() || !builder.has_root) {
    std::string why = !builder.refused.empty()
                          ? builder.refused
                          : (builder.has_root ? XML_ErrorString(XML_GetErrorCode(parser.get()))
                                              : "no root element");
    return Fail(ErrorCode::kInvalidArgument, "bad_xml", "malformed XML",
                why + " at line " + std::to_string(XML_GetCurrentLineNumber(parser.get())));
  }
  return std::move(builder.root);
}

}  // namespace imgup::aws
