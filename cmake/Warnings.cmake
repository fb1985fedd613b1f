# Warnings and sanitizers as one INTERFACE target linked into every imgup target.
add_library(imgup_options INTERFACE)
target_compile_options(imgup_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Werror)
if(IMGUP_SANITIZE)
  target_compile_options(imgup_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(imgup_options INTERFACE -fsanitize=address,undefined)
endif()
