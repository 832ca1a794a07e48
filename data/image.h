// data/image.h — decoding image files into 8-bit pixels, converting their channels, resizing
// them, and turning them into float Samples (CHW, values in [0, 1] = byte / 255).
//
// Formats, recognized by their first bytes (never by the file name); anything else (GIF, BMP,
// TGA, HDR, PSD, …) is refused as an unknown format:
//   PGM / PPM  P5, P6 (binary) and P2, P3 (ASCII), any maxval up to 65535, rescaled to
//              0..255; read here, so that a truncated file says how many bytes are missing.
//   PNG        through libpng: a palette is expanded to RGB, grey below 8 bits to 8 bits,
//              16 bits scaled to 8 (round(v·255/65535), the PGM rule), interlacing undone.
//   JPEG       through libjpeg-turbo: grey stays grey, YCbCr and RGB become RGB; CMYK and
//              YCCK are refused. libjpeg's warnings (corrupt data, a premature end) are
//              errors: a truncated JPEG is refused, never filled in.
// The libraries' own reasons are quoted in the errors (a PNG that ends early says where it
// ends); a PNG or JPEG missing its end is refused too. The pixel budget (DecodeLimits) is
// checked against the size a header declares before anything is allocated or decoded, so a
// small hostile file cannot claim gigabytes.
// Channels are converted explicitly: grey → RGB repeats the grey value; RGB → grey is the
// luma Y = (77 R + 150 G + 29 B) / 256 (one rule for every format); an alpha channel or a
// PNG's tRNS transparency is dropped. Every error names the file and the reason.
//
// Resizing is bilinear with pixel centres aligned (PyTorch's align_corners=False, OpenCV's
// INTER_LINEAR): output pixel x samples the input at (x + ½)·in/out − ½, clamped to the
// image. Halving a side therefore averages pairs of pixels exactly. Left out: antialiasing
// for strong downscaling, 16-bit output, EXIF orientation, a bound on decoding time (a
// progressive JPEG of very many scans), writing images (eval/canvas.h writes PNG).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace margin {

// An 8-bit image, planar: channels × height × width, row-major (as Sample, in bytes).
struct Image8 {
  int64_t channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;

  uint8_t& at(int64_t c, int64_t y, int64_t x) { return pixels[(c * height + y) * width + x]; }
  uint8_t at(int64_t c, int64_t y, int64_t x) const { return pixels[(c * height + y) * width + x]; }
};

// The most an image may hold, checked against its header before decoding: width × height ×
// the file's own channels (1 for grey, 3 for colour) at most max_values. The default, 2²⁶ =
// 67108864 values (64 MiB of pixels: 4096×4096 RGB, 8192×8192 grey), is far above the face
// images margin trains on (LFW's 250×250 frames, Yale-B's 640×480 ones) and far below what a
// header can claim (65535×65535×3 ≈ 1.3·10¹⁰); a 24-megapixel photograph needs a larger one.
struct DecodeLimits {
  int64_t max_values = int64_t(1) << 26;
};

// Decodes `path` as 1 (grey) or 3 (RGB) channels, converting as above.
Image8 decode_image(const std::string& path, int64_t channels, const DecodeLimits& limits = {});

// The same from bytes already in memory; `name` is what errors call them (the file name).
Image8 decode_image_bytes(const std::vector<uint8_t>& bytes, int64_t channels, const std::string& name,
                          const DecodeLimits& limits = {});

// 1 ↔ 3 channels (no change when equal).
Image8 convert_channels(const Image8& image, int64_t channels);

// The centre height × width window of the image, rows from (H − height) / 2 and columns from
// (W − width) / 2 (rounded down: the same window as data/transforms.h center_crop). The face
// crop of in-the-wild frames: LFW's deep-funneled 250×250 frames hold the face in about their
// central 120×120. margin::Error when the window is larger than the image or not positive.
Image8 crop_center(const Image8& image, int64_t height, int64_t width);

// Bilinear resize of each plane to height × width (see the header comment); bytes are
// rounded to the nearest value.
Image8 resize_bilinear(const Image8& image, int64_t height, int64_t width);

// The same on one float plane: `source` is in_h × in_w, `target` out_h × out_w.
void resize_plane(const float* source, int64_t in_h, int64_t in_w, float* target, int64_t out_h, int64_t out_w);

// Floats in [0, 1] (byte / 255), the label given.
Sample image_to_sample(const Image8& image, int64_t label);

}  // namespace margin
