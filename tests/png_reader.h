// tests/png_reader.h — a PNG read back into memory (stb_image), so a test can look at the
// pixels a plot wrote. stb_image is compiled here, with STB_IMAGE_STATIC: its functions are
// private to the file that includes this header, so no two files of one executable can clash.
#pragma once
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "eval/canvas.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace margin::testing {

// A PNG read back into memory, to look at pixels.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Color at(double x, double y) const {  // the pixel containing the point (x, y)
    int column = static_cast<int>(x), row = static_cast<int>(y);
    REQUIRE((column >= 0 && column < width && row >= 0 && row < height));
    const uint8_t* p = &rgb[(size_t(row) * width + column) * 3];
    return {p[0], p[1], p[2]};
  }
};

inline Image read_png(const std::string& path) {
  Image image;
  int channels = 0;
  uint8_t* pixels = stbi_load(path.c_str(), &image.width, &image.height, &channels, 3);
  REQUIRE_MESSAGE(pixels != nullptr, "stb_image could not read ", path);
  image.rgb.assign(pixels, pixels + size_t(image.width) * image.height * 3);
  stbi_image_free(pixels);
  return image;
}

}  // namespace margin::testing
