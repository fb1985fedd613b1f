# Warnings and sanitizers as one INTERFACE target linked into every imgup target.
add_library(imgup_options INTERFACE)
target_compile_options(imgup_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Werror
  # GCC 12 at -O3 reports impossible overlaps inside std::string's operator+ (GCC bug 105329).
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
if(IMGUP_SANITIZE)
  target_compile_options(imgup_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(imgup_options INTERFACE -fsanitize=address,undefined)
endif()
