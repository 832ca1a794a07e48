// tests/test_image_decoding.cpp — image files decoded: PGM/PPM/PNG to the exact bytes written
// here (PNG also hand-built: 16 bits, palettes, 1-bit grey, interlaced; JPEG to within its
// loss), channel conversion; hostile files (truncated, corrupt, of other formats under image
// names, declaring sizes past the pixel budget) each refused with an error naming the file
// and the reason.
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/image.h"
#include "data/image_folder.h"
#include "gradcheck.h"
#include "skip.h"

namespace margin {
namespace {

using testing::TempDir;
using testing::as_text;
using testing::contains;
using testing::error_of;
using testing::pgm;
using testing::write_bytes;

// Pixel values i·step + offset, mod 256: a pattern where every pixel differs.
std::vector<uint8_t> ramp(int64_t count, int step = 7, int offset = 3) {
  std::vector<uint8_t> values(count);
  for (int64_t i = 0; i < count; ++i) values[i] = static_cast<uint8_t>((i * step + offset) % 256);
  return values;
}

// Interleaved RGB (as files hold it) → planar (as Image8 holds it).
std::vector<uint8_t> planar(const std::vector<uint8_t>& interleaved, int64_t channels) {
  int64_t pixels = static_cast<int64_t>(interleaved.size()) / channels;
  std::vector<uint8_t> out(interleaved.size());
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t c = 0; c < channels; ++c) out[c * pixels + p] = interleaved[p * channels + c];
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string big_endian32(uint32_t value) {
  return {char(value >> 24), char(value >> 16 & 0xFF), char(value >> 8 & 0xFF), char(value & 0xFF)};
}

// One PNG chunk: length, type, data, and the CRC-32 of type and data.
std::string png_chunk(const std::string& type, const std::string& data) {
  std::string typed = type + data;
  uLong crc = crc32(0, reinterpret_cast<const Bytef*>(typed.data()), static_cast<uInt>(typed.size()));
  return big_endian32(static_cast<uint32_t>(data.size())) + typed + big_endian32(static_cast<uint32_t>(crc));
}

// A PNG built by hand: IHDR, the `extra` chunks (PLTE, tRNS), one IDAT holding `scanlines`
// (each row already prefixed with its filter byte) compressed by zlib, IEND.
std::string png_file(uint32_t width, uint32_t height, int bit_depth, int color_type, const std::string& scanlines,
                     const std::string& extra = "", bool interlaced = false) {
  std::string header = big_endian32(width) + big_endian32(height) +
                       std::string{char(bit_depth), char(color_type), 0, 0, char(interlaced ? 1 : 0)};
  uLongf size = compressBound(static_cast<uLong>(scanlines.size()));
  std::string compressed(size, '\0');
  REQUIRE(compress(reinterpret_cast<Bytef*>(compressed.data()), &size, reinterpret_cast<const Bytef*>(scanlines.data()),
                   static_cast<uLong>(scanlines.size())) == Z_OK);
  compressed.resize(size);
  return "\x89PNG\r\n\x1a\n" + png_chunk("IHDR", header) + extra + png_chunk("IDAT", compressed) + png_chunk("IEND", "");
}

// Rows of `row_bytes` each, filter type 0 (none) before each row.
std::string unfiltered(const std::string& pixels, size_t row_bytes) {
  std::string rows;
  for (size_t start = 0; start < pixels.size(); start += row_bytes) rows += '\0' + pixels.substr(start, row_bytes);
  return rows;
}

// The scanlines of an Adam7-interlaced 8-bit image: seven passes, each a sub-image of every
// (dx, dy)-th pixel from (x0, y0), its rows filter type 0; empty passes have no rows.
std::string adam7(const std::string& pixels, int width, int height, int bytes_per_pixel) {
  const int x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
  const int dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
  std::string rows;
  for (int pass = 0; pass < 7; ++pass) {
    if (x0[pass] >= width) continue;
    for (int y = y0[pass]; y < height; y += dy[pass]) {
      rows += '\0';
      for (int x = x0[pass]; x < width; x += dx[pass]) rows += pixels.substr((y * width + x) * bytes_per_pixel, bytes_per_pixel);
    }
  }
  return rows;
}

// A JPEG header by hand: SOI, SOF0 (8 bits, `components` of sampling 1×1, quantization table
// 0), SOS, EOI: all libjpeg reads before it knows the size, without tables or image data.
std::string jpeg_header_only(uint16_t width, uint16_t height, int components) {
  std::string frame = {char(0xFF), char(0xC0), 0, char(8 + 3 * components), 8, char(height >> 8), char(height & 0xFF),
                       char(width >> 8), char(width & 0xFF), char(components)};
  std::string scan = {char(0xFF), char(0xDA), 0, char(6 + 2 * components), char(components)};
  for (int c = 1; c <= components; ++c) {
    frame += {char(c), 0x11, 0};
    scan += {char(c), 0};
  }
  scan += {0, 63, 0};
  return std::string{char(0xFF), char(0xD8)} + frame + scan + std::string{char(0xFF), char(0xD9)};
}

// The largest |a − b| over two equally long byte vectors.
int max_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int(a[i]) - int(b[i])));
  return worst;
}

}  // namespace

TEST_CASE("PGM and PPM, binary and ASCII, decode to the bytes written, maxval is rescaled to 255") {
  TempDir dir("images_pnm");
  write_bytes(dir.file("a.pgm"), "P5\n# a comment\n3 2\n# another\n255\n" + as_text({0, 10, 20, 200, 254, 255}));
  Image8 grey = decode_image(dir.file("a.pgm"), 1);
  CHECK(grey.channels == 1);
  CHECK(grey.height == 2);
  CHECK(grey.width == 3);
  CHECK(grey.pixels == std::vector<uint8_t>{0, 10, 20, 200, 254, 255});

  std::vector<uint8_t> rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};  // 2×2, interleaved
  write_bytes(dir.file("b.ppm"), "P6 2 2 255\n" + as_text(rgb));
  Image8 colour = decode_image(dir.file("b.ppm"), 3);
  CHECK(colour.channels == 3);
  CHECK(colour.pixels == planar(rgb, 3));
  CHECK(colour.at(2, 1, 1) == 30);  // blue of the last pixel

  write_bytes(dir.file("ascii.pgm"), "P2\n2 2\n255\n1 2\n3 250\n");
  CHECK(decode_image(dir.file("ascii.pgm"), 1).pixels == std::vector<uint8_t>{1, 2, 3, 250});
  write_bytes(dir.file("ascii.ppm"), "P3 1 1 255 7 8 9\n");
  CHECK(decode_image(dir.file("ascii.ppm"), 3).pixels == std::vector<uint8_t>{7, 8, 9});

  // maxval 15: v ↦ round(v·255/15) = 17v; 16 bits big-endian, maxval 65535: v ↦ round(v·255/65535).
  write_bytes(dir.file("four_bit.pgm"), "P5 3 1 15\n" + as_text({0, 1, 15}));
  CHECK(decode_image(dir.file("four_bit.pgm"), 1).pixels == std::vector<uint8_t>{0, 17, 255});
  write_bytes(dir.file("sixteen.pgm"), "P5 2 1 65535\n" + as_text({0xFF, 0xFF, 0x80, 0x00}));
  CHECK(decode_image(dir.file("sixteen.pgm"), 1).pixels == std::vector<uint8_t>{255, 128});
}

TEST_CASE("PNG decodes to the bytes written (grey, RGB, RGBA without its alpha), whatever the file is called") {
  TempDir dir("images_png");
  std::vector<uint8_t> grey = ramp(5 * 4);
  REQUIRE(stbi_write_png(dir.file("grey.png").c_str(), 5, 4, 1, grey.data(), 5));
  Image8 decoded = decode_image(dir.file("grey.png"), 1);
  CHECK(decoded.height == 4);
  CHECK(decoded.width == 5);
  CHECK(decoded.pixels == grey);

  std::vector<uint8_t> rgb = ramp(6 * 3 * 3, 11, 5);
  REQUIRE(stbi_write_png(dir.file("rgb.png").c_str(), 6, 3, 3, rgb.data(), 6 * 3));
  CHECK(decode_image(dir.file("rgb.png"), 3).pixels == planar(rgb, 3));

  // RGBA: the alpha channel is dropped.
  std::vector<uint8_t> rgba = {1, 2, 3, 0, 4, 5, 6, 255};
  REQUIRE(stbi_write_png(dir.file("rgba.png").c_str(), 2, 1, 4, rgba.data(), 8));
  CHECK(decode_image(dir.file("rgba.png"), 3).pixels == std::vector<uint8_t>{1, 4, 2, 5, 3, 6});

  // The format is in the bytes, not the name: a PNG called .jpg is a PNG.
  std::filesystem::copy_file(dir.file("rgb.png"), dir.file("rgb.jpg"));
  CHECK(decode_image(dir.file("rgb.jpg"), 3).pixels == planar(rgb, 3));
}

TEST_CASE("channels convert explicitly: grey → RGB repeats, RGB → grey is (77 R + 150 G + 29 B) / 256") {
  TempDir dir("images_channels");
  std::vector<uint8_t> rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 100, 50, 200};
  write_bytes(dir.file("c.ppm"), "P6 5 1 255\n" + as_text(rgb));
  Image8 grey = decode_image(dir.file("c.ppm"), 1);
  REQUIRE(grey.channels == 1);
  // (77·255) >> 8 = 76, (150·255) >> 8 = 149, (29·255) >> 8 = 28, white stays 255,
  // (77·100 + 150·50 + 29·200) >> 8 = 21000 >> 8 = 82.
  CHECK(grey.pixels == std::vector<uint8_t>{76, 149, 28, 255, 82});
  // A PNG goes through the same rule.
  REQUIRE(stbi_write_png(dir.file("c.png").c_str(), 5, 1, 3, rgb.data(), 15));
  CHECK(decode_image(dir.file("c.png"), 1).pixels == grey.pixels);

  write_bytes(dir.file("g.pgm"), pgm(2, 1, {9, 200}));
  CHECK(decode_image(dir.file("g.pgm"), 3).pixels == std::vector<uint8_t>{9, 200, 9, 200, 9, 200});
  CHECK(contains(error_of([&] { decode_image(dir.file("g.pgm"), 2); }), "asked for 2 channels (expected 1 for grey or 3 for RGB)"));
}

TEST_CASE("bad image files: each error names the file and the reason") {
  TempDir dir("images_bad");
  std::string truncated = dir.file("truncated.pgm");
  write_bytes(truncated, "P5\n4 3\n255\n" + as_text({1, 2, 3, 4, 5}));
  CHECK(error_of([&] { decode_image(truncated, 1); }) ==
        "image " + truncated + ": truncated: 4×3×1 at 1 byte(s) each needs 12 pixel bytes after the header, found 5");

  std::string header_only = dir.file("header.pgm");
  write_bytes(header_only, "P5\n4 ");
  CHECK(error_of([&] { decode_image(header_only, 1); }) == "image " + header_only + ": truncated header: ends before the height");

  std::string zero_size = dir.file("zero.pgm");
  write_bytes(zero_size, "P5 0 3 255\n");
  CHECK(error_of([&] { decode_image(zero_size, 1); }) == "image " + zero_size + ": zero size (0×3)");

  std::string text = dir.file("notes.png");
  write_bytes(text, "hello, this is not an image");
  CHECK(error_of([&] { decode_image(text, 1); }) ==
        "image " + text + ": unknown format (first bytes 68 65 6c 6c 6f 2c 20 74; expected PGM/PPM (P2, P3, P5, P6), PNG or JPEG)");

  std::string empty = dir.file("empty.jpg");
  write_bytes(empty, "");
  CHECK(error_of([&] { decode_image(empty, 1); }) == "image " + empty + ": empty file (0 bytes)");

  std::string missing = dir.file("absent.pgm");
  CHECK(error_of([&] { decode_image(missing, 1); }) == "image " + missing + ": no such file");
  CHECK(error_of([&] { decode_image(dir.path.string(), 1); }) ==
        "image " + dir.path.string() + ": is a directory (expected an image file)");

  std::string too_bright = dir.file("bright.pgm");
  write_bytes(too_bright, "P5 2 1 100\n" + as_text({50, 101}));
  CHECK(error_of([&] { decode_image(too_bright, 1); }) == "image " + too_bright + ": pixel value 101 at sample 1 exceeds maxval 100");
}

TEST_CASE("PNG through libpng: 16 bits scale like PGM's maxval 65535, palettes and 1-bit grey expand, interlacing is undone") {
  TempDir dir("images_png_kinds");
  // 16-bit grey, big-endian: round(v·255/65535), the PGM rule: 0x01FF is 1.99 → 2 (not its high byte 1).
  std::string sixteen = as_text({0x00, 0x00, 0x01, 0xFF, 0x80, 0x00, 0xFF, 0xFF});
  write_bytes(dir.file("sixteen.png"), png_file(4, 1, 16, 0, unfiltered(sixteen, 8)));
  write_bytes(dir.file("sixteen.pgm"), "P5 4 1 65535\n" + sixteen);
  CHECK(decode_image(dir.file("sixteen.png"), 1).pixels == std::vector<uint8_t>{0, 2, 128, 255});
  CHECK(decode_image(dir.file("sixteen.pgm"), 1).pixels == std::vector<uint8_t>{0, 2, 128, 255});
  // 16-bit RGBA, 2×1: the alpha channel is dropped, the colours scaled.
  std::string rgba16 = as_text({0xFF, 0xFF, 0x00, 0x00, 0x40, 0x00, 0x12, 0x34,  //
                                0x00, 0x80, 0x7F, 0xFF, 0xFF, 0x00, 0xFF, 0xFF});
  write_bytes(dir.file("rgba16.png"), png_file(2, 1, 16, 6, unfiltered(rgba16, 16)));
  CHECK(decode_image(dir.file("rgba16.png"), 3).pixels == std::vector<uint8_t>{255, 0, 0, 127, 64, 254});

  // A 2-bit palette of three colours, 3×2 (index 2, 0, 1 packs into 0b10'00'01'00), with a
  // tRNS chunk making colour 0 transparent: the transparency is dropped like an alpha channel.
  std::string palette = png_chunk("PLTE", as_text({10, 20, 30, 40, 50, 60, 70, 80, 90})) + png_chunk("tRNS", as_text({0}));
  write_bytes(dir.file("palette.png"), png_file(3, 2, 2, 3, unfiltered(as_text({0x84, 0x58}), 1), palette));
  // Row 0: colours 2, 0, 1; row 1 (0b01'01'10'00): colours 1, 1, 2.
  CHECK(decode_image(dir.file("palette.png"), 3).pixels ==
        std::vector<uint8_t>{70, 10, 40, 40, 40, 70, 80, 20, 50, 50, 50, 80, 90, 30, 60, 60, 60, 90});
  // 1-bit grey, 5×1 (0b10110'000): bits become 0 and 255.
  write_bytes(dir.file("bits.png"), png_file(5, 1, 1, 0, unfiltered(as_text({0xB0}), 1)));
  CHECK(decode_image(dir.file("bits.png"), 1).pixels == std::vector<uint8_t>{255, 0, 255, 255, 0});
  // Grey with alpha: the grey is kept.
  write_bytes(dir.file("grey_alpha.png"), png_file(2, 1, 8, 4, unfiltered(as_text({7, 0, 200, 255}), 4)));
  CHECK(decode_image(dir.file("grey_alpha.png"), 1).pixels == std::vector<uint8_t>{7, 200});

  // Adam7 interlacing, grey 9×7 and RGB 5×3: the passes put back together give the image.
  std::vector<uint8_t> grey = ramp(9 * 7, 13, 1), rgb = ramp(5 * 3 * 3, 17, 2);
  write_bytes(dir.file("interlaced.png"), png_file(9, 7, 8, 0, adam7(as_text(grey), 9, 7, 1), "", true));
  CHECK(decode_image(dir.file("interlaced.png"), 1).pixels == grey);
  write_bytes(dir.file("interlaced_rgb.png"), png_file(5, 3, 8, 2, adam7(as_text(rgb), 5, 3, 3), "", true));
  CHECK(decode_image(dir.file("interlaced_rgb.png"), 3).pixels == planar(rgb, 3));
}

TEST_CASE("JPEG through libjpeg: at quality 100 within 2 levels of the source, grey and colour") {
  TempDir dir("images_jpeg");
  // Smooth 16×16 gradients: quality 100 (no chroma subsampling in stb_image_write) loses
  // little; the colour one also goes through YCbCr and back.
  std::vector<uint8_t> grey(16 * 16), rgb(16 * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) {
      grey[y * 16 + x] = static_cast<uint8_t>(40 + 8 * x + 4 * y);
      for (int c = 0; c < 3; ++c) rgb[(y * 16 + x) * 3 + c] = static_cast<uint8_t>(30 + 5 * x + 3 * y + 40 * c);
    }
  REQUIRE(stbi_write_jpg(dir.file("grey.jpg").c_str(), 16, 16, 1, grey.data(), 100));
  REQUIRE(stbi_write_jpg(dir.file("rgb.jpg").c_str(), 16, 16, 3, rgb.data(), 100));
  Image8 grey_jpeg = decode_image(dir.file("grey.jpg"), 1);
  CHECK(grey_jpeg.height == 16);
  CHECK(grey_jpeg.width == 16);
  CHECK(max_difference(grey_jpeg.pixels, grey) <= 2);
  Image8 rgb_jpeg = decode_image(dir.file("rgb.jpg"), 3);
  CHECK(rgb_jpeg.channels == 3);
  CHECK(max_difference(rgb_jpeg.pixels, planar(rgb, 3)) <= 2);
  // A grey JPEG asked for as RGB repeats its one plane.
  Image8 repeated = decode_image(dir.file("grey.jpg"), 3);
  CHECK(std::vector<uint8_t>(repeated.pixels.begin() + 256, repeated.pixels.begin() + 512) == grey_jpeg.pixels);
}

TEST_CASE("truncated and corrupt PNG and JPEG files are refused, naming the file and the reason") {
  TempDir dir("images_corrupt");
  std::vector<uint8_t> pixels = ramp(32 * 32);
  REQUIRE(stbi_write_png(dir.file("whole.png").c_str(), 32, 32, 1, pixels.data(), 32));
  REQUIRE(stbi_write_jpg(dir.file("whole.jpg").c_str(), 32, 32, 1, pixels.data(), 90));
  const std::string png = read_file(dir.file("whole.png")), jpeg = read_file(dir.file("whole.jpg"));

  // Cut in half: the file ends inside the image data.
  std::string cut_png = dir.file("cut.png");
  write_bytes(cut_png, png.substr(0, png.size() / 2));
  CHECK(error_of([&] { decode_image(cut_png, 1); }) == "image " + cut_png + ": truncated PNG: the file ends after " +
                                                          std::to_string(png.size() / 2) + " bytes, within the IDAT chunk");
  std::string cut_jpeg = dir.file("cut.jpg");
  write_bytes(cut_jpeg, jpeg.substr(0, jpeg.size() / 2));
  CHECK(error_of([&] { decode_image(cut_jpeg, 1); }) ==
        "image " + cut_jpeg + ": cannot decode JPEG (libjpeg: Premature end of JPEG file)");
  // Only the end marker missing: libjpeg would decode every pixel and warn; that is refused too.
  std::string no_end = dir.file("no_end.jpg");
  write_bytes(no_end, jpeg.substr(0, jpeg.size() - 2));
  CHECK(error_of([&] { decode_image(no_end, 1); }) ==
        "image " + no_end + ": cannot decode JPEG (libjpeg: Premature end of JPEG file)");
  std::string no_iend = dir.file("no_iend.png");
  write_bytes(no_iend, png.substr(0, png.size() - 12));
  CHECK(error_of([&] { decode_image(no_iend, 1); }) ==
        "image " + no_iend + ": truncated PNG: the file ends after " + std::to_string(png.size() - 12) +
            " bytes, where a chunk should follow the IDAT chunk");

  // A changed byte in the header: IHDR's CRC no longer matches. One in the compressed image
  // data: zlib, which libpng runs before it reaches the chunk's CRC, refuses the stream.
  std::string bad_header = png;
  bad_header[8 + 8 + 5] ^= 0x01;  // signature, IHDR's length and type, a byte of the height
  write_bytes(dir.file("bad_header.png"), bad_header);
  CHECK(error_of([&] { decode_image(dir.file("bad_header.png"), 1); }) ==
        "image " + dir.file("bad_header.png") + ": cannot decode PNG (libpng: IHDR: CRC error)");
  std::string bad_data = png;
  bad_data[png.find("IDAT") + 10] ^= 0x55;
  write_bytes(dir.file("bad_data.png"), bad_data);
  CHECK(contains(error_of([&] { decode_image(dir.file("bad_data.png"), 1); }),
                 "image " + dir.file("bad_data.png") + ": cannot decode PNG (libpng: IDAT: "));

  // A Huffman table whose 16 code counts sum to 16·17 = 272, past the 256 symbols a table has
  // (the reading of such counts is where decoders have overflowed their tables).
  std::string bogus = jpeg;
  const size_t table = bogus.find("\xFF\xC4");
  REQUIRE(table != std::string::npos);
  for (size_t i = 0; i < 16; ++i) bogus[table + 5 + i] = 17;  // marker 2, length 2, class/id 1, then counts
  write_bytes(dir.file("huffman.jpg"), bogus);
  CHECK(error_of([&] { decode_image(dir.file("huffman.jpg"), 1); }) ==
        "image " + dir.file("huffman.jpg") + ": cannot decode JPEG (libjpeg: Bogus Huffman table definition)");

  // A JPEG that is only its start marker.
  write_bytes(dir.file("soi.jpg"), "\xFF\xD8\xFF");
  CHECK(contains(error_of([&] { decode_image(dir.file("soi.jpg"), 1); }), "image " + dir.file("soi.jpg") +
                                                                           ": cannot decode JPEG (libjpeg: "));
}

TEST_CASE("only PGM/PPM, PNG and JPEG are decoded: GIF, BMP and TGA bytes are an unknown format whatever the name, CMYK JPEG is refused") {
  TempDir dir("images_formats");
  const std::string expected = "; expected PGM/PPM (P2, P3, P5, P6), PNG or JPEG)";
  // A 1×1 GIF.
  std::string gif = dir.file("gif.png");
  write_bytes(gif, "GIF89a" + as_text({1, 0, 1, 0, 0x80, 0, 0, 255, 255, 255, 0, 0, 0, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0,
                                       0, 2, 2, 0x44, 1, 0, 0x3B}));
  CHECK(error_of([&] { decode_image(gif, 1); }) == "image " + gif + ": unknown format (first bytes 47 49 46 38 39 61 01 00" + expected);
  std::vector<uint8_t> rgb = ramp(4 * 3 * 3);
  std::string bmp = dir.file("bmp.jpg");
  REQUIRE(stbi_write_bmp(bmp.c_str(), 4, 3, 3, rgb.data()));
  std::string message = error_of([&] { decode_image(bmp, 3); });
  CHECK(message.starts_with("image " + bmp + ": unknown format (first bytes 42 4d "));  // "BM", then its size
  CHECK(message.ends_with(expected));
  // TGA has no signature: whatever its first bytes are, they are none of the three.
  std::string tga = dir.file("tga.png");
  REQUIRE(stbi_write_tga(tga.c_str(), 4, 3, 3, rgb.data()));
  message = error_of([&] { decode_image(tga, 3); });
  CHECK(message.starts_with("image " + tga + ": unknown format (first bytes "));
  CHECK(message.ends_with(expected));
  // JPEG's colour spaces other than grey, YCbCr and RGB (4 components are CMYK to libjpeg).
  write_bytes(dir.file("cmyk.jpg"), jpeg_header_only(8, 8, 4));
  CHECK(error_of([&] { decode_image(dir.file("cmyk.jpg"), 3); }) ==
        "image " + dir.file("cmyk.jpg") + ": a CMYK JPEG, not supported (expected grey, YCbCr or RGB)");
  write_bytes(dir.file("two.jpg"), jpeg_header_only(8, 8, 2));
  CHECK(error_of([&] { decode_image(dir.file("two.jpg"), 3); }) ==
        "image " + dir.file("two.jpg") + ": a JPEG of 2 components in an unknown colour space (expected grey, YCbCr or RGB)");
  // PBM bitmaps look like PNM and are named as such.
  write_bytes(dir.file("bitmap.pgm"), "P4 8 1\n\xFF");
  CHECK(error_of([&] { decode_image(dir.file("bitmap.pgm"), 1); }) ==
        "image " + dir.file("bitmap.pgm") + ": a PBM bitmap (P4), not supported (expected PGM P2/P5 or PPM P3/P6)");
}

TEST_CASE("the pixel budget: a header declaring 65536×65536 is refused before anything is allocated or decoded") {
  TempDir dir("images_budget");
  const std::string budget = " exceeds the pixel budget of 67108864 (DecodeLimits::max_values)";
  // A few bytes each, claiming gigabytes.
  std::string pgm_file = dir.file("huge.pgm");
  write_bytes(pgm_file, "P5 65536 65536 255\n");
  CHECK(error_of([&] { decode_image(pgm_file, 1); }) == "image " + pgm_file + ": 65536×65536×1 = 4294967296 values" + budget);
  std::string png = dir.file("huge.png");
  write_bytes(png, png_file(65536, 65536, 8, 2, ""));
  CHECK(error_of([&] { decode_image(png, 1); }) == "image " + png + ": 65536×65536×3 = 12884901888 values" + budget);
  // JPEG sizes stop at 65535 and libjpeg's at 65500.
  std::string jpeg = dir.file("huge.jpg");
  write_bytes(jpeg, jpeg_header_only(65500, 65500, 3));
  CHECK(error_of([&] { decode_image(jpeg, 3); }) == "image " + jpeg + ": 65500×65500×3 = 12870750000 values" + budget);
  write_bytes(jpeg, jpeg_header_only(65500, 20000, 1));
  CHECK(error_of([&] { decode_image(jpeg, 1); }) == "image " + jpeg + ": 65500×20000×1 = 1310000000 values" + budget);
  // The budget counts the file's own channels: the same size as ASCII PPM.
  write_bytes(pgm_file, "P3 8193 8192 255\n");
  CHECK(contains(error_of([&] { decode_image(pgm_file, 1); }), ": 8193×8192×3 = 201351168 values" + budget));

  // A budget of exactly the image's values decodes it; one less refuses it, in every format.
  std::vector<uint8_t> grey = ramp(5 * 4), rgb = ramp(5 * 4 * 3);
  write_bytes(dir.file("small.pgm"), pgm(5, 4, grey));
  REQUIRE(stbi_write_png(dir.file("small.png").c_str(), 5, 4, 1, grey.data(), 5));
  REQUIRE(stbi_write_jpg(dir.file("small.jpg").c_str(), 5, 4, 3, rgb.data(), 95));
  struct Case {
    std::string file;
    int64_t values;
  };
  for (const Case& c : std::vector<Case>{{"small.pgm", 20}, {"small.png", 20}, {"small.jpg", 60}}) {
    const std::string& file = c.file;
    const int64_t values = c.values;
    CAPTURE(file);
    std::string path = dir.file(file);
    CHECK(decode_image(path, 1, {.max_values = values}).pixels.size() == 20);
    CHECK(error_of([&] { decode_image(path, 1, {.max_values = values - 1}); }) ==
          "image " + path + ": 5×4×" + (values == 60 ? "3" : "1") + " = " + std::to_string(values) +
              " values exceeds the pixel budget of " + std::to_string(values - 1) + " (DecodeLimits::max_values)");
  }
  // ImageFolder and ImageList pass their budget on.
  std::filesystem::create_directories(dir.path / "ann");
  std::filesystem::copy_file(dir.file("small.png"), dir.path / "ann" / "ann_0001.png");
  ImageFolder tight(dir.path.string(), {.identities = {"ann"}, .limits = {.max_values = 19}});
  CHECK(contains(error_of([&] { tight.get(0); }), "5×4×1 = 20 values exceeds the pixel budget of 19"));
  CHECK(ImageFolder(dir.path.string(), {.identities = {"ann"}, .limits = {.max_values = 20}}).get(0).shape() == Shape{1, 4, 5});
  ImageList list({dir.file("small.jpg")}, 3, 4, 5, 0, 0, {.max_values = 59});
  CHECK(contains(error_of([&] { list.get(0); }), "5×4×3 = 60 values exceeds the pixel budget of 59"));
}

}  // namespace margin
