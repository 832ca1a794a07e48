// eval/canvas.cpp — the raster, its anti-aliased shapes, text, and PNG output.
// stb_image_write's implementation is compiled here, once for the whole library.
#include "eval/canvas.h"

#include <algorithm>
#include <cmath>
#include <ostream>

#include "backends/types.h"
#include "core/atomic_file.h"
#include "eval/font5x7.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace margin {

std::ostream& operator<<(std::ostream& out, Color color) {
  return out << "rgb(" << int(color.r) << ", " << int(color.g) << ", " << int(color.b) << ")";
}

Color mix(Color from, Color to, double amount) {
  auto channel = [amount](uint8_t a, uint8_t b) {
    return static_cast<uint8_t>(std::lround(a + (b - a) * std::clamp(amount, 0.0, 1.0)));
  };
  return {channel(from.r, to.r), channel(from.g, to.g), channel(from.b, to.b)};
}

const std::vector<Color>& palette() {
  static const std::vector<Color> colors = {
      {31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},  {148, 103, 189}, {140, 86, 75},
      {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}, {0, 0, 128},     {128, 64, 0}};
  return colors;
}

Color class_color(int64_t label) {
  int64_t count = static_cast<int64_t>(palette().size());
  return palette()[((label % count) + count) % count];
}

Canvas::Canvas(int width, int height, Color background) : width_(width), height_(height) {
  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    fail("Canvas: size ", width, "×", height, " (expected 1..16384 pixels each way)");
  rgb_.resize(size_t(width) * height * 3);
  reset_clip();
  fill_rect(0, 0, width, height, background);
}

Color Canvas::pixel(int x, int y) const {
  if (x < 0 || x >= width_ || y < 0 || y >= height_)
    fail("Canvas::pixel: (", x, ", ", y, ") is outside the ", width_, "×", height_, " canvas");
  const uint8_t* p = &rgb_[(size_t(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::set_clip(int x0, int y0, int x1, int y1) {
  clip_x0_ = std::clamp(x0, 0, width_);
  clip_y0_ = std::clamp(y0, 0, height_);
  clip_x1_ = std::clamp(x1, clip_x0_, width_);
  clip_y1_ = std::clamp(y1, clip_y0_, height_);
}

void Canvas::reset_clip() { set_clip(0, 0, width_, height_); }

void Canvas::set_pixel(int x, int y, Color color) {
  if (!inside_clip(x, y)) return;
  uint8_t* p = &rgb_[(size_t(y) * width_ + x) * 3];
  p[0] = color.r;
  p[1] = color.g;
  p[2] = color.b;
}

void Canvas::blend_pixel(int x, int y, Color color, double coverage) {
  if (!inside_clip(x, y) || coverage <= 0) return;
  set_pixel(x, y, coverage >= 1 ? color : mix(pixel(x, y), color, coverage));
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Color color) {
  for (int y = std::max(y0, clip_y0_); y < std::min(y1, clip_y1_); ++y)
    for (int x = std::max(x0, clip_x0_); x < std::min(x1, clip_x1_); ++x) set_pixel(x, y, color);
}

void Canvas::stroke_rect(int x0, int y0, int x1, int y1, Color color, int thickness) {
  fill_rect(x0, y0, x1, y0 + thickness, color);
  fill_rect(x0, y1 - thickness, x1, y1, color);
  fill_rect(x0, y0, x0 + thickness, y1, color);
  fill_rect(x1 - thickness, y0, x1, y1, color);
}

template <class SignedDistance>
void Canvas::fill_shape(double x0, double y0, double x1, double y1, Color color,
                        SignedDistance distance_outside) {
  int left = std::max(clip_x0_, static_cast<int>(std::floor(x0 - 1)));
  int right = std::min(clip_x1_, static_cast<int>(std::ceil(x1 + 1)));
  int top = std::max(clip_y0_, static_cast<int>(std::floor(y0 - 1)));
  int bottom = std::min(clip_y1_, static_cast<int>(std::ceil(y1 + 1)));
  for (int y = top; y < bottom; ++y)
    for (int x = left; x < right; ++x) {
      // A pixel whose centre lies half a pixel inside the edge is fully covered.
      double coverage = 0.5 - distance_outside(x + 0.5, y + 0.5);
      blend_pixel(x, y, color, std::min(coverage, 1.0));
    }
}

void Canvas::draw_line(double x0, double y0, double x1, double y1, Color color, double width) {
  double dx = x1 - x0, dy = y1 - y0, length_squared = dx * dx + dy * dy, half = width / 2;
  fill_shape(std::min(x0, x1) - half, std::min(y0, y1) - half, std::max(x0, x1) + half,
             std::max(y0, y1) + half, color, [&](double px, double py) {
               double along = length_squared > 0 ? ((px - x0) * dx + (py - y0) * dy) / length_squared : 0.0;
               along = std::clamp(along, 0.0, 1.0);
               return std::hypot(px - (x0 + along * dx), py - (y0 + along * dy)) - half;
             });
}

void Canvas::draw_arrow(double x0, double y0, double x1, double y1, Color color, double width,
                        double head_length) {
  double length = std::hypot(x1 - x0, y1 - y0);
  if (length == 0) return;
  double ux = (x1 - x0) / length, uy = (y1 - y0) / length;  // along the arrow
  head_length = std::min(head_length, length);
  double base_x = x1 - ux * head_length, base_y = y1 - uy * head_length;
  double half_base = head_length * 0.45;
  draw_line(x0, y0, base_x + ux * 0.5, base_y + uy * 0.5, color, width);
  // The head: a triangle tip, base_left, base_right; a pixel is inside when it is on the
  // inner side of all three edges (the distance is the largest of the three edge distances).
  double corners[3][2] = {{x1, y1},
                          {base_x - uy * half_base, base_y + ux * half_base},
                          {base_x + uy * half_base, base_y - ux * half_base}};
  double min_x = std::min({corners[0][0], corners[1][0], corners[2][0]});
  double max_x = std::max({corners[0][0], corners[1][0], corners[2][0]});
  double min_y = std::min({corners[0][1], corners[1][1], corners[2][1]});
  double max_y = std::max({corners[0][1], corners[1][1], corners[2][1]});
  double orientation = (corners[1][0] - corners[0][0]) * (corners[2][1] - corners[0][1]) -
                       (corners[1][1] - corners[0][1]) * (corners[2][0] - corners[0][0]);
  fill_shape(min_x, min_y, max_x, max_y, color, [&](double px, double py) {
    double outside = -1e9;
    for (int i = 0; i < 3; ++i) {
      const double* a = corners[i];
      const double* b = corners[(i + 1) % 3];
      double ex = b[0] - a[0], ey = b[1] - a[1];
      // Signed distance to the edge's line, positive on the outer side.
      double distance = ((px - a[0]) * ey - (py - a[1]) * ex) / std::hypot(ex, ey);
      outside = std::max(outside, orientation > 0 ? distance : -distance);
    }
    return outside;
  });
}

void Canvas::fill_circle(double cx, double cy, double radius, Color color) {
  fill_shape(cx - radius, cy - radius, cx + radius, cy + radius, color,
             [&](double px, double py) { return std::hypot(px - cx, py - cy) - radius; });
}

void Canvas::stroke_circle(double cx, double cy, double radius, Color color, double width) {
  double outer = radius + width / 2;
  fill_shape(cx - outer, cy - outer, cx + outer, cy + outer, color, [&](double px, double py) {
    return std::abs(std::hypot(px - cx, py - cy) - radius) - width / 2;
  });
}

void Canvas::draw_text(int x, int y, const std::string& text, Color color, int scale) {
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t* rows = glyph_rows(text[i]);
    int left = x + static_cast<int>(i) * kGlyphAdvance * scale;
    for (int row = 0; row < kGlyphHeight; ++row)
      for (int column = 0; column < kGlyphWidth; ++column)
        if (rows[row] & (0x10 >> column))
          fill_rect(left + column * scale, y + row * scale, left + (column + 1) * scale, y + (row + 1) * scale, color);
  }
}

void Canvas::draw_text_vertical(int x, int y, const std::string& text, Color color, int scale) {
  // Turned counter-clockwise, the text's first glyph sits at the bottom of the box; glyph
  // column c becomes box row (from the bottom) and glyph row r becomes box column r.
  int box_height = text_width(text, scale);
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t* rows = glyph_rows(text[i]);
    int bottom = y + box_height - static_cast<int>(i) * kGlyphAdvance * scale;
    for (int row = 0; row < kGlyphHeight; ++row)
      for (int column = 0; column < kGlyphWidth; ++column)
        if (rows[row] & (0x10 >> column))
          fill_rect(x + row * scale, bottom - (column + 1) * scale, x + (row + 1) * scale, bottom - column * scale, color);
  }
}

int Canvas::text_width(const std::string& text, int scale) {
  // The last glyph's spacing column is not part of the text.
  return text.empty() ? 0 : (static_cast<int>(text.size()) * kGlyphAdvance - 1) * scale;
}

int Canvas::text_height(int scale) { return kGlyphHeight * scale; }

void Canvas::save_png(const std::string& path) const {
  // Encoded in memory, then written atomically: a failed write leaves no half picture.
  std::string png;
  auto append = [](void* target, void* data, int size) {
    static_cast<std::string*>(target)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &png, width_, height_, 3, rgb_.data(), width_ * 3))
    fail("Canvas::save_png: cannot encode ", path, " (", width_, "×", height_, " RGB)");
  try {
    write_file_atomically(path, png);
  } catch (const Error& e) {
    fail("Canvas::save_png: cannot write ", path, ": ", e.what());
  }
}

}  // namespace margin
