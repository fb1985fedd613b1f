# Writes OUT, a C++ file defining imgup::kOpenApiDocument with the bytes of IN.
file(READ ${IN} content HEX)
string(LENGTH "${content}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${content}")
file(WRITE ${OUT} "// Generated from docs/openapi.json by cmake/Embed.cmake. Do not edit.\n#include <string_view>\nnamespace imgup {\nnamespace {\nconstexpr char kBytes[] = {${bytes} '\\0'};\n}\nextern const std::string_view kOpenApiDocument;\nconst std::string_view kOpenApiDocument(kBytes, ${size});\n}  // namespace imgup\n")
