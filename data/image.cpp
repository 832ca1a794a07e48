// data/image.cpp — PGM/PPM read here, everything else through stb_image; channel conversion,
// bilinear resizing and the conversion to float Samples. See image.h.
// stb_image's implementation is compiled here with STB_IMAGE_STATIC: its functions stay
// private to this file, so a test that compiles its own copy links without clashes.
#include "data/image.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace margin {

namespace {

void check_channels(int64_t channels, const std::string& name) {
  if (channels != 1 && channels != 3)
    fail("image ", name, ": asked for ", channels, " channels (expected 1 for grey or 3 for RGB)");
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) fail("image ", path, ": no such file");
  if (fs::is_directory(status)) fail("image ", path, ": is a directory (expected an image file)");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("image ", path, ": cannot open (", std::strerror(errno), ")");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// "50 35 0a 31" — the first bytes, to show what an unknown file starts with.
std::string first_bytes_hex(const std::vector<uint8_t>& bytes) {
  std::string text;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%02x", bytes[i]);
    if (i) text += ' ';
    text += hex;
  }
  return text;
}

// ---- PGM / PPM ---------------------------------------------------------------------------

class PnmReader {
 public:
  PnmReader(const std::vector<uint8_t>& bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  Image8 read() {
    char kind = static_cast<char>(bytes_[1]);
    if (kind == '1' || kind == '4')
      fail("image ", name_, ": a PBM bitmap (P", kind, "), not supported (expected PGM P2/P5 or PPM P3/P6)");
    if (kind != '2' && kind != '3' && kind != '5' && kind != '6')
      fail("image ", name_, ": unknown PNM kind P", kind, " (expected PGM P2/P5 or PPM P3/P6)");
    position_ = 2;
    bool binary = kind == '5' || kind == '6';
    int64_t planes = (kind == '3' || kind == '6') ? 3 : 1;
    int64_t width = header_number("width"), height = header_number("height");
    int64_t maxval = header_number("maxval");
    if (width == 0 || height == 0) fail("image ", name_, ": zero size (", width, "×", height, ")");
    if (width > 1 << 16 || height > 1 << 16)
      fail("image ", name_, ": ", width, "×", height, " is implausibly large (at most 65536 a side)");
    if (maxval < 1 || maxval > 65535) fail("image ", name_, ": maxval ", maxval, " (expected 1..65535)");

    Image8 image{planes, height, width, std::vector<uint8_t>(planes * height * width)};
    const int64_t count = planes * height * width;
    std::vector<int64_t> values(count);
    if (binary) {
      // Exactly one whitespace byte separates maxval from the raster.
      if (position_ >= bytes_.size() || !std::isspace(bytes_[position_]))
        fail("image ", name_, ": no whitespace after the header's maxval (", header_bytes_read(), " header bytes)");
      ++position_;
      const int64_t bytes_per_value = maxval < 256 ? 1 : 2;
      const int64_t expected = count * bytes_per_value, found = static_cast<int64_t>(bytes_.size() - position_);
      if (found < expected)
        fail("image ", name_, ": truncated: ", width, "×", height, "×", planes, " at ", bytes_per_value,
             " byte(s) each needs ", expected, " pixel bytes after the header, found ", found);
      for (int64_t i = 0; i < count; ++i) {
        const uint8_t* value = bytes_.data() + position_ + i * bytes_per_value;
        values[i] = bytes_per_value == 1 ? value[0] : (int64_t(value[0]) << 8 | value[1]);
      }
    } else {
      for (int64_t i = 0; i < count; ++i) values[i] = raster_number(i, count);
    }
    // Interleaved in the file (RGBRGB…), planar in Image8; rescale maxval to 255.
    for (int64_t i = 0; i < count; ++i) {
      if (values[i] > maxval)
        fail("image ", name_, ": pixel value ", values[i], " at sample ", i, " exceeds maxval ", maxval);
      int64_t pixel = i / planes, plane = i % planes;
      image.pixels[plane * height * width + pixel] = static_cast<uint8_t>((values[i] * 255 + maxval / 2) / maxval);
    }
    return image;
  }

 private:
  void skip_space_and_comments() {
    while (position_ < bytes_.size()) {
      if (std::isspace(bytes_[position_])) {
        ++position_;
      } else if (bytes_[position_] == '#') {
        while (position_ < bytes_.size() && bytes_[position_] != '\n') ++position_;
      } else {
        break;
      }
    }
  }

  // A decimal number of the header; `what` names it in errors.
  int64_t header_number(const char* what) {
    skip_space_and_comments();
    if (position_ >= bytes_.size()) fail("image ", name_, ": truncated header: ends before the ", what);
    return digits(what);
  }

  int64_t raster_number(int64_t index, int64_t count) {
    skip_space_and_comments();
    if (position_ >= bytes_.size())
      fail("image ", name_, ": truncated: ", index, " of ", count, " ASCII pixel values");
    return digits("pixel value");
  }

  int64_t digits(const char* what) {
    if (!std::isdigit(bytes_[position_]))
      fail("image ", name_, ": expected the ", what, " (a number) at byte ", position_, ", found '",
           static_cast<char>(bytes_[position_]), "'");
    int64_t value = 0;
    while (position_ < bytes_.size() && std::isdigit(bytes_[position_])) {
      value = value * 10 + (bytes_[position_++] - '0');
      if (value > (int64_t(1) << 40)) fail("image ", name_, ": the ", what, " is too large");
    }
    return value;
  }

  size_t header_bytes_read() const { return position_; }

  const std::vector<uint8_t>& bytes_;
  const std::string& name_;
  size_t position_ = 0;
};

// ---- stb_image -----------------------------------------------------------------------------

Image8 decode_with_stb(const std::vector<uint8_t>& bytes, const std::string& name) {
  int width = 0, height = 0, stored_channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &stored_channels, 0),
      stbi_image_free);
  if (!pixels) {
    std::string reason = stbi_failure_reason() ? stbi_failure_reason() : "no reason given";
    bool png = bytes.size() >= 4 && bytes[0] == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G';
    bool jpeg = bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
    if (!png && !jpeg && reason == "unknown image type")
      fail("image ", name, ": unknown format (first bytes ", first_bytes_hex(bytes),
           "; expected PGM/PPM (P2, P3, P5, P6), PNG or JPEG)");
    fail("image ", name, ": cannot decode ", png ? "PNG" : jpeg ? "JPEG" : "image", " (stb_image: ", reason, ")");
  }
  if (width <= 0 || height <= 0) fail("image ", name, ": zero size (", width, "×", height, ")");
  // Interleaved grey, grey+alpha, RGB or RGBA → planar grey or RGB; alpha is dropped.
  const int64_t planes = stored_channels >= 3 ? 3 : 1;
  Image8 image{planes, height, width, std::vector<uint8_t>(planes * height * width)};
  for (int64_t pixel = 0; pixel < int64_t(height) * width; ++pixel)
    for (int64_t plane = 0; plane < planes; ++plane)
      image.pixels[plane * height * width + pixel] = pixels.get()[pixel * stored_channels + plane];
  return image;
}

}  // namespace

Image8 decode_image_bytes(const std::vector<uint8_t>& bytes, int64_t channels, const std::string& name) {
  check_channels(channels, name);
  if (bytes.empty()) fail("image ", name, ": empty file (0 bytes)");
  bool pnm = bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '7';
  Image8 image = pnm ? PnmReader(bytes, name).read() : decode_with_stb(bytes, name);
  return convert_channels(image, channels);
}

Image8 decode_image(const std::string& path, int64_t channels) {
  check_channels(channels, path);
  return decode_image_bytes(read_bytes(path), channels, path);
}

Image8 convert_channels(const Image8& image, int64_t channels) {
  if (channels == image.channels) return image;
  const int64_t plane = image.height * image.width;
  Image8 converted{channels, image.height, image.width, std::vector<uint8_t>(channels * plane)};
  if (image.channels == 1 && channels == 3) {
    for (int64_t c = 0; c < 3; ++c) std::copy_n(image.pixels.begin(), plane, converted.pixels.begin() + c * plane);
  } else if (image.channels == 3 && channels == 1) {
    const uint8_t *red = image.pixels.data(), *green = red + plane, *blue = green + plane;
    for (int64_t i = 0; i < plane; ++i)
      converted.pixels[i] = static_cast<uint8_t>((77 * red[i] + 150 * green[i] + 29 * blue[i]) >> 8);
  } else {
    fail("convert_channels: ", image.channels, " → ", channels, " channels (expected 1 or 3 on both sides)");
  }
  return converted;
}

void resize_plane(const float* source, int64_t in_h, int64_t in_w, float* target, int64_t out_h, int64_t out_w) {
  // For each output coordinate: the two input neighbours and the weight of the second.
  struct Tap {
    int64_t low, high;
    float weight;
  };
  auto taps = [](int64_t in, int64_t out) {
    std::vector<Tap> result(out);
    const double ratio = static_cast<double>(in) / static_cast<double>(out);
    for (int64_t i = 0; i < out; ++i) {
      double position = std::clamp((i + 0.5) * ratio - 0.5, 0.0, static_cast<double>(in - 1));
      int64_t low = static_cast<int64_t>(std::floor(position));
      result[i] = {low, std::min(low + 1, in - 1), static_cast<float>(position - low)};
    }
    return result;
  };
  const std::vector<Tap> rows = taps(in_h, out_h), columns = taps(in_w, out_w);
  for (int64_t y = 0; y < out_h; ++y) {
    const float* top = source + rows[y].low * in_w;
    const float* bottom = source + rows[y].high * in_w;
    for (int64_t x = 0; x < out_w; ++x) {
      const Tap& column = columns[x];
      float upper = top[column.low] + column.weight * (top[column.high] - top[column.low]);
      float lower = bottom[column.low] + column.weight * (bottom[column.high] - bottom[column.low]);
      target[y * out_w + x] = upper + rows[y].weight * (lower - upper);
    }
  }
}

Image8 crop_center(const Image8& image, int64_t height, int64_t width) {
  if (height < 1 || width < 1 || height > image.height || width > image.width)
    fail("crop_center: a ", height, "×", width, " window of a ", image.height, "×", image.width,
         " image (expected a positive window no larger than the image)");
  const int64_t top = (image.height - height) / 2, left = (image.width - width) / 2;
  Image8 cropped{image.channels, height, width, std::vector<uint8_t>(image.channels * height * width)};
  for (int64_t c = 0; c < image.channels; ++c)
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x) cropped.at(c, y, x) = image.at(c, top + y, left + x);
  return cropped;
}

Image8 resize_bilinear(const Image8& image, int64_t height, int64_t width) {
  if (height < 1 || width < 1)
    fail("resize_bilinear: to ", height, "×", width, " (expected a positive height and width)");
  if (image.height < 1 || image.width < 1)
    fail("resize_bilinear: an empty ", image.height, "×", image.width, " image");
  if (height == image.height && width == image.width) return image;
  Image8 resized{image.channels, height, width, std::vector<uint8_t>(image.channels * height * width)};
  std::vector<float> source(image.height * image.width), target(height * width);
  for (int64_t c = 0; c < image.channels; ++c) {
    const uint8_t* plane = image.pixels.data() + c * image.height * image.width;
    std::copy_n(plane, source.size(), source.begin());
    resize_plane(source.data(), image.height, image.width, target.data(), height, width);
    for (int64_t i = 0; i < height * width; ++i)
      resized.pixels[c * height * width + i] = static_cast<uint8_t>(std::clamp(std::lround(target[i]), 0l, 255l));
  }
  return resized;
}

Sample image_to_sample(const Image8& image, int64_t label) {
  Sample sample;
  sample.channels = image.channels;
  sample.height = image.height;
  sample.width = image.width;
  sample.label = label;
  sample.image.resize(image.pixels.size());
  for (size_t i = 0; i < image.pixels.size(); ++i) sample.image[i] = image.pixels[i] / 255.0f;
  return sample;
}

}  // namespace margin
