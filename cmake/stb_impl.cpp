// stb_impl.cpp — the stb_image and stb_image_write implementations, compiled into
// anila in a bundle build (cmake/bundle.cmake) instead of linking Debian's libstb.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>
