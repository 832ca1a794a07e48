// eval/canvas.h — an RGB raster to draw plots on, saved as PNG (stb_image_write): filled and
// stroked shapes with anti-aliased edges (coverage from the distance to the shape), arrows,
// and text in the built-in 5×7 font. Coordinates are pixels, x to the right, y down; shapes
// take doubles so that data positions need no rounding, and pixel (i, j) covers
// [i, i+1) × [j, j+1), its centre at (i + 0.5, j + 0.5).
//
// Everything is clipped to the clip rectangle (the whole canvas unless set). Left out:
// transparency in the saved image, fonts other than the built-in one, curves beyond circles.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace margin {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Color&) const = default;
};
std::ostream& operator<<(std::ostream& out, Color color);  // "rgb(31, 119, 180)"
inline constexpr Color kWhite{255, 255, 255};
inline constexpr Color kBlack{0, 0, 0};
inline constexpr Color kGrey{128, 128, 128};
inline constexpr Color kLightGrey{220, 220, 220};

// `from` moved toward `to` by `amount` in [0, 1] (0: from, 1: to).
Color mix(Color from, Color to, double amount);

// The fixed class palette (12 colours, told apart in print and by most colour-blind readers
// for the first 10: Tableau 10), and the colour of a class label, cycling past 12.
const std::vector<Color>& palette();
Color class_color(int64_t label);

class Canvas {
 public:
  Canvas(int width, int height, Color background = kWhite);
  int width() const { return width_; }
  int height() const { return height_; }
  Color pixel(int x, int y) const;  // x, y inside the canvas, else margin::Error
  const std::vector<uint8_t>& rgb() const { return rgb_; }

  // Drawing is limited to [x0, x1) × [y0, y1) until reset_clip().
  void set_clip(int x0, int y0, int x1, int y1);
  void reset_clip();

  void set_pixel(int x, int y, Color color);
  // Paints `color` over the pixel with weight `coverage` in [0, 1].
  void blend_pixel(int x, int y, Color color, double coverage);
  void fill_rect(int x0, int y0, int x1, int y1, Color color);  // [x0, x1) × [y0, y1)
  void stroke_rect(int x0, int y0, int x1, int y1, Color color, int thickness = 1);

  // A segment of the given width with round ends.
  void draw_line(double x0, double y0, double x1, double y1, Color color, double width = 1.0);
  // A line from (x0, y0) to (x1, y1) ending in a filled triangular head at (x1, y1).
  void draw_arrow(double x0, double y0, double x1, double y1, Color color, double width = 2.0,
                  double head_length = 12.0);
  void fill_circle(double cx, double cy, double radius, Color color);
  void stroke_circle(double cx, double cy, double radius, Color color, double width = 1.0);

  // Text with its top-left corner at (x, y), each font pixel drawn as scale×scale pixels.
  void draw_text(int x, int y, const std::string& text, Color color, int scale = 2);
  // Text turned a quarter counter-clockwise (read bottom to top), its bounding box's
  // top-left corner at (x, y); for y-axis labels.
  void draw_text_vertical(int x, int y, const std::string& text, Color color, int scale = 2);
  static int text_width(const std::string& text, int scale = 2);
  static int text_height(int scale = 2);

  // Writes the canvas as an 8-bit RGB PNG; margin::Error naming `path` if that fails.
  void save_png(const std::string& path) const;

 private:
  bool inside_clip(int x, int y) const { return x >= clip_x0_ && x < clip_x1_ && y >= clip_y0_ && y < clip_y1_; }
  // Paints every pixel near the box [x0, x1] × [y0, y1] by the coverage `distance_outside`
  // gives: the signed distance from a pixel centre to the shape's edge (negative inside).
  template <class SignedDistance>
  void fill_shape(double x0, double y0, double x1, double y1, Color color, SignedDistance distance_outside);

  int width_, height_;
  std::vector<uint8_t> rgb_;  // row-major, 3 bytes per pixel
  int clip_x0_ = 0, clip_y0_ = 0, clip_x1_ = 0, clip_y1_ = 0;
};

}  // namespace margin
