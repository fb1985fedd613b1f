// Start-up probe of the processor function's libvips (docs/adr/0012-packaging.md): links
// Debian's libvips, runs vips_init as the processor's init would, and says which of the loaders
// the pipeline uses are there (HEIF comes from a module, vips-heif.so, the others are built in).
#include <vips/vips.h>

#include <iostream>

int main(int, char** argv) {
  if (VIPS_INIT(argv[0]) != 0) {
    std::cout << "vips_init failed\n";
    return 1;
  }
  for (const char* loader : {"jpegload_buffer", "pngload_buffer", "webpload_buffer",
                             "gifload_buffer", "heifload_buffer", "magickload_buffer"}) {
    std::cout << loader << (vips_type_find("VipsOperation", loader) != 0 ? " yes" : " no") << "\n";
  }
  return 0;
}
