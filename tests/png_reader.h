// tests/png_reader.h — a PNG read back into memory, so a test can look at the pixels a plot
// wrote. Decoding is data/image.h's (libpng).
#pragma once
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "data/image.h"
#include "eval/canvas.h"

namespace margin::testing {

// A PNG read back into memory, to look at pixels.
struct Image {
  int width = 0, height = 0;
  Image8 planes;  // 3 channels, planar
  Color at(double x, double y) const {  // the pixel containing the point (x, y)
    int column = static_cast<int>(x), row = static_cast<int>(y);
    REQUIRE((column >= 0 && column < width && row >= 0 && row < height));
    return {planes.at(0, row, column), planes.at(1, row, column), planes.at(2, row, column)};
  }
};

// Throws, naming the file and libpng's reason, when it cannot be read.
inline Image read_png(const std::string& path) {
  Image image;
  image.planes = decode_image(path, 3);
  image.width = static_cast<int>(image.planes.width);
  image.height = static_cast<int>(image.planes.height);
  return image;
}

}  // namespace margin::testing
