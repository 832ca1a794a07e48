// data/image.cpp — format recognition and the pixel budget; PGM/PPM read here, JPEG through
// libjpeg-turbo, PNG through libpng; channel conversion, bilinear resizing and the conversion
// to float Samples. See image.h.
//
// libjpeg and libpng report an error by calling a handler that must not return. Here the
// handler copies the library's message and longjmps back to the setjmp of the step that
// called into the library. Each step (jpeg_header, jpeg_pixels, png_header, png_pixels) is a
// function of its own that holds nothing with a destructor, so the jump skips only C frames
// and plain data; its caller owns the C++ objects (the decoder, which destroys the library's
// state on every path, and the pixel buffers) and throws margin::Error once the step returned.
// No C++ exception ever passes through the libraries' C frames.
#include "data/image.h"

#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>

#include "core/checked.h"

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

bool starts_with(const std::vector<uint8_t>& bytes, std::initializer_list<uint8_t> prefix) {
  return bytes.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), bytes.begin());
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

// The pixel budget, from the size a header declares; returns width × height × planes.
int64_t check_budget(int64_t width, int64_t height, int64_t planes, const DecodeLimits& limits,
                     const std::string& name) {
  const int64_t values = checked_product({width, height, planes}, "image " + name + ": declared size");
  if (values > limits.max_values)
    fail("image ", name, ": ", width, "×", height, "×", planes, " = ", values, " values exceeds the pixel budget of ",
         limits.max_values, " (DecodeLimits::max_values)");
  return values;
}

// ---- PGM / PPM ---------------------------------------------------------------------------

class PnmReader {
 public:
  PnmReader(const std::vector<uint8_t>& bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  Image8 read(const DecodeLimits& limits) {
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
    if (maxval < 1 || maxval > 65535) fail("image ", name_, ": maxval ", maxval, " (expected 1..65535)");
    const int64_t count = check_budget(width, height, planes, limits, name_);

    // The raster must be there before the image is allocated: binary values take 1 or 2
    // bytes each, ASCII ones at least a separator and a digit.
    const int64_t bytes_per_value = maxval < 256 ? 1 : 2;
    if (binary) {
      // Exactly one whitespace byte separates maxval from the raster.
      if (position_ >= bytes_.size() || !std::isspace(bytes_[position_]))
        fail("image ", name_, ": no whitespace after the header's maxval (", position_, " header bytes)");
      ++position_;
      const int64_t expected = count * bytes_per_value, found = remaining();
      if (found < expected)
        fail("image ", name_, ": truncated: ", width, "×", height, "×", planes, " at ", bytes_per_value,
             " byte(s) each needs ", expected, " pixel bytes after the header, found ", found);
    } else if (remaining() < 2 * count) {
      fail("image ", name_, ": truncated: ", width, "×", height, "×", planes, " ASCII pixel values need at least ",
           2 * count, " bytes after the header, found ", remaining());
    }

    // Interleaved in the file (RGBRGB…), planar in Image8; rescale maxval to 255.
    Image8 image{planes, height, width, checked_vector<uint8_t>(count, "image " + name_)};
    for (int64_t i = 0; i < count; ++i) {
      int64_t value;
      if (binary) {
        const uint8_t* bytes = bytes_.data() + position_ + i * bytes_per_value;
        value = bytes_per_value == 1 ? bytes[0] : (int64_t(bytes[0]) << 8 | bytes[1]);
      } else {
        value = raster_number(i, count);
      }
      if (value > maxval) fail("image ", name_, ": pixel value ", value, " at sample ", i, " exceeds maxval ", maxval);
      int64_t pixel = i / planes, plane = i % planes;
      image.pixels[plane * height * width + pixel] = static_cast<uint8_t>((value * 255 + maxval / 2) / maxval);
    }
    return image;
  }

 private:
  int64_t remaining() const { return static_cast<int64_t>(bytes_.size() - std::min(position_, bytes_.size())); }

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

  const std::vector<uint8_t>& bytes_;
  const std::string& name_;
  size_t position_ = 0;
};

// ---- JPEG (libjpeg-turbo) ------------------------------------------------------------------

// libjpeg's state, its error handler's jump target and the message it formatted. Plain data
// but for the destructor, which releases libjpeg's memory on every path.
struct JpegDecoder {
  jpeg_decompress_struct info;
  jpeg_error_mgr errors;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];

  JpegDecoder() = default;
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;
  ~JpegDecoder() { jpeg_destroy_decompress(&info); }  // a no-op before jpeg_create_decompress
};

[[noreturn]] void jpeg_on_error(j_common_ptr info) {
  JpegDecoder* decoder = static_cast<JpegDecoder*>(info->client_data);
  (*info->err->format_message)(info, decoder->message);
  std::longjmp(decoder->jump, 1);
}

// Level −1 is a warning: corrupt data, or data that ends early, which libjpeg would decode
// anyway (filling the rest with grey). Refused like an error. Levels ≥ 0 trace; ignored.
void jpeg_on_message(j_common_ptr info, int level) {
  if (level < 0) jpeg_on_error(info);
}

// Creates the decompressor and reads the header; false after an error (decoder.message).
bool jpeg_header(JpegDecoder& decoder, const std::vector<uint8_t>& bytes) {
  decoder.info.err = jpeg_std_error(&decoder.errors);
  decoder.errors.error_exit = jpeg_on_error;
  decoder.errors.emit_message = jpeg_on_message;
  decoder.info.client_data = &decoder;
  if (setjmp(decoder.jump)) return false;
  jpeg_create_decompress(&decoder.info);
  jpeg_mem_src(&decoder.info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&decoder.info, TRUE);
  return true;
}

// Decodes every row into `planar` (output_components planes), through the one-row buffer `row`;
// false after an error (decoder.message).
bool jpeg_pixels(JpegDecoder& decoder, uint8_t* planar, uint8_t* row) {
  if (setjmp(decoder.jump)) return false;
  jpeg_start_decompress(&decoder.info);
  const size_t width = decoder.info.output_width, planes = decoder.info.output_components;
  const size_t plane_size = width * decoder.info.output_height;
  while (decoder.info.output_scanline < decoder.info.output_height) {
    const size_t y = decoder.info.output_scanline;
    JSAMPROW rows[1] = {row};
    if (jpeg_read_scanlines(&decoder.info, rows, 1) != 1) {
      std::snprintf(decoder.message, sizeof decoder.message, "no data for row %zu", y);
      return false;
    }
    for (size_t x = 0; x < width; ++x)
      for (size_t c = 0; c < planes; ++c) planar[c * plane_size + y * width + x] = row[x * planes + c];
  }
  jpeg_finish_decompress(&decoder.info);
  return true;
}

Image8 decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name, const DecodeLimits& limits) {
  JpegDecoder decoder{};
  if (!jpeg_header(decoder, bytes)) fail("image ", name, ": cannot decode JPEG (libjpeg: ", decoder.message, ")");
  const J_COLOR_SPACE space = decoder.info.jpeg_color_space;
  if (space == JCS_CMYK || space == JCS_YCCK)
    fail("image ", name, ": a ", space == JCS_CMYK ? "CMYK" : "YCCK", " JPEG, not supported (expected grey, YCbCr or RGB)");
  if (space != JCS_GRAYSCALE && space != JCS_YCbCr && space != JCS_RGB)
    fail("image ", name, ": a JPEG of ", decoder.info.num_components,
         " components in an unknown colour space (expected grey, YCbCr or RGB)");
  const int64_t planes = space == JCS_GRAYSCALE ? 1 : 3;
  const int64_t width = decoder.info.image_width, height = decoder.info.image_height;
  const int64_t count = check_budget(width, height, planes, limits, name);
  decoder.info.out_color_space = planes == 1 ? JCS_GRAYSCALE : JCS_RGB;

  Image8 image{planes, height, width, checked_vector<uint8_t>(count, "image " + name)};
  std::vector<uint8_t> row = checked_vector<uint8_t>(width * planes, "image " + name + ": a row");
  if (!jpeg_pixels(decoder, image.pixels.data(), row.data()))
    fail("image ", name, ": cannot decode JPEG (libjpeg: ", decoder.message, ")");
  return image;
}

// ---- PNG (libpng) --------------------------------------------------------------------------

// libpng's state, the bytes it reads from, and what went wrong. Plain data but for the
// destructor, which releases libpng's memory on every path.
struct PngDecoder {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const std::vector<uint8_t>* bytes = nullptr;
  size_t position = 0;
  bool truncated = false;        // set when libpng asked for bytes past the end
  png_uint_32 truncated_in = 0;  // the chunk being read then (png_get_io_chunk_type)
  png_uint_32 truncated_state = 0;
  char message[256] = {};
  // Read from IHDR by png_header.
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;

  PngDecoder() = default;
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;
  ~PngDecoder() { png_destroy_read_struct(&png, &info, nullptr); }  // accepts null pointers
};

[[noreturn]] void png_on_error(png_structp png, png_const_charp message) {
  PngDecoder* decoder = static_cast<PngDecoder*>(png_get_error_ptr(png));
  std::snprintf(decoder->message, sizeof decoder->message, "%s", message);
  png_longjmp(png, 1);
}

// Warnings are about ancillary data (a bad colour profile, text, extra compressed bytes after
// the image) that the pixels do not depend on: ignored, where libpng would print them.
void png_on_warning(png_structp, png_const_charp) {}

void png_on_read(png_structp png, png_bytep out, size_t length) {
  PngDecoder* decoder = static_cast<PngDecoder*>(png_get_io_ptr(png));
  if (length > decoder->bytes->size() - decoder->position) {
    decoder->truncated = true;
    decoder->truncated_in = png_get_io_chunk_type(png);
    decoder->truncated_state = png_get_io_state(png);
    png_error(png, "truncated");
  }
  std::memcpy(out, decoder->bytes->data() + decoder->position, length);
  decoder->position += length;
}

// Reads the chunks up to the image data and the header's fields; false after an error.
bool png_header(PngDecoder& decoder) {
  if (setjmp(png_jmpbuf(decoder.png))) return false;
  png_set_read_fn(decoder.png, &decoder, png_on_read);
  png_read_info(decoder.png, decoder.info);
  decoder.width = png_get_image_width(decoder.png, decoder.info);
  decoder.height = png_get_image_height(decoder.png, decoder.info);
  decoder.bit_depth = png_get_bit_depth(decoder.png, decoder.info);
  decoder.color_type = png_get_color_type(decoder.png, decoder.info);
  return true;
}

// Decodes the image as `planes` channels of 8 bits, interleaved, into `rows` (one pointer per
// row), then reads the rest of the file; false after an error.
bool png_pixels(PngDecoder& decoder, int planes, png_bytepp rows) {
  if (setjmp(png_jmpbuf(decoder.png))) return false;
  png_structp png = decoder.png;
  if (decoder.color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (decoder.color_type == PNG_COLOR_TYPE_GRAY && decoder.bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (decoder.bit_depth == 16) png_set_scale_16(png);
  png_set_strip_alpha(png);  // an alpha channel, or the one a palette's tRNS would add
  png_set_interlace_handling(png);
  png_read_update_info(png, decoder.info);
  if (png_get_channels(png, decoder.info) != planes || png_get_bit_depth(png, decoder.info) != 8 ||
      png_get_rowbytes(png, decoder.info) != size_t(decoder.width) * planes) {
    std::snprintf(decoder.message, sizeof decoder.message, "decodes to %d channels of %d bits (expected %d of 8)",
                  png_get_channels(png, decoder.info), png_get_bit_depth(png, decoder.info), planes);
    return false;
  }
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

// Where the file ended, from libpng's reading state.
std::string png_truncation_place(const PngDecoder& decoder) {
  char chunk[5] = {};
  for (int i = 0; i < 4; ++i) chunk[i] = static_cast<char>((decoder.truncated_in >> (24 - 8 * i)) & 0xFF);
  if (decoder.truncated_state & PNG_IO_SIGNATURE) return "within the signature";
  if (decoder.truncated_state & PNG_IO_CHUNK_HDR)
    return decoder.truncated_in ? std::string("where a chunk should follow the ") + chunk + " chunk"
                                : std::string("where the first chunk should be");
  return std::string("within the ") + chunk + " chunk";
}

[[noreturn]] void refuse_png(const PngDecoder& decoder, const std::string& name) {
  if (decoder.truncated)
    fail("image ", name, ": truncated PNG: the file ends after ", decoder.bytes->size(), " bytes, ",
         png_truncation_place(decoder));
  fail("image ", name, ": cannot decode PNG (libpng: ", decoder.message, ")");
}

Image8 decode_png(const std::vector<uint8_t>& bytes, const std::string& name, const DecodeLimits& limits) {
  PngDecoder decoder;
  decoder.bytes = &bytes;
  decoder.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &decoder, png_on_error, png_on_warning);
  if (decoder.png) decoder.info = png_create_info_struct(decoder.png);
  if (!decoder.png || !decoder.info) fail("image ", name, ": cannot decode PNG (libpng could not start: out of memory)");
  if (!png_header(decoder)) refuse_png(decoder, name);
  const int planes = (decoder.color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;  // a palette is colour
  const int64_t width = decoder.width, height = decoder.height;
  const int64_t count = check_budget(width, height, planes, limits, name);

  // libpng writes whole interleaved rows (an interlaced image revisits each row 7 times).
  std::vector<uint8_t> interleaved = checked_vector<uint8_t>(count, "image " + name);
  std::vector<png_bytep> rows = checked_vector<png_bytep>(height, "image " + name + ": row pointers");
  for (int64_t y = 0; y < height; ++y) rows[y] = interleaved.data() + y * width * planes;
  if (!png_pixels(decoder, planes, rows.data())) refuse_png(decoder, name);
  if (planes == 1) return Image8{1, height, width, std::move(interleaved)};
  Image8 image{planes, height, width, checked_vector<uint8_t>(count, "image " + name)};
  for (int64_t pixel = 0; pixel < width * height; ++pixel)
    for (int64_t plane = 0; plane < planes; ++plane)
      image.pixels[plane * width * height + pixel] = interleaved[pixel * planes + plane];
  return image;
}

}  // namespace

Image8 decode_image_bytes(const std::vector<uint8_t>& bytes, int64_t channels, const std::string& name,
                          const DecodeLimits& limits) {
  check_channels(channels, name);
  if (bytes.empty()) fail("image ", name, ": empty file (0 bytes)");
  Image8 image;
  if (bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '7')
    image = PnmReader(bytes, name).read(limits);
  else if (starts_with(bytes, {0x89, 'P', 'N', 'G'}))
    image = decode_png(bytes, name, limits);
  else if (starts_with(bytes, {0xFF, 0xD8, 0xFF}))
    image = decode_jpeg(bytes, name, limits);
  else
    fail("image ", name, ": unknown format (first bytes ", first_bytes_hex(bytes),
         "; expected PGM/PPM (P2, P3, P5, P6), PNG or JPEG)");
  return convert_channels(image, channels);
}

Image8 decode_image(const std::string& path, int64_t channels, const DecodeLimits& limits) {
  check_channels(channels, path);
  return decode_image_bytes(read_bytes(path), channels, path, limits);
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
