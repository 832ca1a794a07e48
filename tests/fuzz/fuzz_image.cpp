// tests/fuzz/fuzz_image.cpp — data/image.h decode_image_bytes on arbitrary bytes, as grey
// (1 channel) and as RGB (3), under the default pixel budget (DecodeLimits). A decoded image
// must be exactly its declared size, and is then cropped and resized (a 1×1 or a very thin
// image goes through the same arithmetic as a face).
// Seeds (corpus/image): tiny PGM (P5, P2 at 16 bits), PPM (P6, P3); PNG grey (8, 1 and 16
// bits), RGB, RGBA, palette with tRNS, interlaced; JPEG grey, colour and progressive.
#include <cstdlib>
#include <vector>

#include "data/image.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  for (int64_t channels : {1, 3}) {
    margin::fuzz::refused([&] {
      margin::Image8 image = margin::decode_image_bytes(bytes, channels, "fuzz input");
      if (image.channels != channels || image.height < 1 || image.width < 1 ||
          image.pixels.size() != size_t(image.channels * image.height * image.width))
        std::abort();  // a decoder that returns an image its fields do not describe
      margin::Image8 centre = margin::crop_center(image, (image.height + 1) / 2, (image.width + 1) / 2);
      margin::resize_bilinear(centre, 7, 5);
    });
  }
  return 0;
}
