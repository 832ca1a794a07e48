// tests/test_plot.cpp — plots written as PNG and read back (data/image.h): the size, the
// background, and the colour of the pixels where a point, a line, a ray, text or a class
// feature must land; the tick rule; and the errors of bad input.
#include <doctest/doctest.h>

#include "eval/feature_plot.h"
#include "eval/font5x7.h"
#include "eval/plot.h"
#include "gradcheck.h"
#include "png_reader.h"

namespace margin {
namespace {

using testing::Image;
using testing::TempDir;
using testing::error_of;
using testing::read_png;

Image saved_and_read(const Plot& plot, const std::string& name) {
  TempDir dir("plot");
  plot.save(dir.file(name));
  return read_png(dir.file(name));
}

TEST_CASE("ticks fall on 1, 2, 5 × 10^k and print with the decimals their step needs") {
  CHECK(nice_ticks({0, 1}).size() == 6);  // 0, 0.2, ..., 1
  CHECK(nice_ticks({0, 1})[1] == doctest::Approx(0.2));
  CHECK(nice_ticks({-1.12, 1.12}) == std::vector<double>{-1.0, -0.5, 0.0, 0.5, 1.0});
  CHECK(nice_ticks({3, 97}) == std::vector<double>{20, 40, 60, 80});
  CHECK(tick_label(0.2, 0.2) == "0.2");
  CHECK(tick_label(-1e-17, 0.5) == "0.0");  // no "-0.0"
  CHECK(tick_label(40, 20) == "40");
  CHECK(tick_label(0.25, 0.05) == "0.25");
}

TEST_CASE("text: the glyph bits of the 5×7 font land on the canvas, upright and turned") {
  Canvas canvas(20, 20);
  canvas.draw_text(2, 3, "A", kBlack, 1);
  const uint8_t* rows = glyph_rows('A');
  for (int row = 0; row < kGlyphHeight; ++row)
    for (int column = 0; column < kGlyphWidth; ++column) {
      bool ink = rows[row] & (0x10 >> column);
      CHECK(canvas.pixel(2 + column, 3 + row) == (ink ? kBlack : kWhite));
    }
  CHECK(Canvas::text_width("AB", 1) == 11);  // 2 glyphs of 5 and 1 column between them

  // Turned counter-clockwise, the glyph's top row becomes the left column, read upward.
  Canvas turned(20, 20);
  turned.draw_text_vertical(0, 0, "L", kBlack, 1);  // a box 7 wide and 5 tall
  const uint8_t* l = glyph_rows('L');
  for (int row = 0; row < kGlyphHeight; ++row)
    for (int column = 0; column < kGlyphWidth; ++column) {
      bool ink = l[row] & (0x10 >> column);
      CHECK(turned.pixel(row, 4 - column) == (ink ? kBlack : kWhite));
    }
}

TEST_CASE("a scatter point, a line and a ray land where the layout puts their data") {
  Plot plot(400, 300);
  plot.title("test").x_label("x").y_label("y").x_range(-1, 1).y_range(-1, 1);
  plot.scatter({0.5}, {0.5}, class_color(3), "points", 4);
  plot.line({-1, 0}, {-0.5, -0.5}, class_color(1), "line", 3);
  plot.ray(0, -0.8, class_color(2), "ray", 3);
  PlotLayout layout = plot.layout();
  Image image = saved_and_read(plot, "plot.png");

  CHECK(image.width == 400);
  CHECK(image.height == 300);
  CHECK(image.at(1, 1) == kWhite);  // background, outside everything
  CHECK(image.at(layout.pixel_x(-0.5), layout.pixel_y(0.5)) == kWhite);  // an empty spot of the area
  CHECK(image.at(layout.pixel_x(0.5), layout.pixel_y(0.5)) == class_color(3));
  CHECK(image.at(layout.pixel_x(-0.5), layout.pixel_y(-0.5)) == class_color(1));
  CHECK(image.at(layout.pixel_x(0), layout.pixel_y(-0.3)) == class_color(2));
  CHECK(image.at(layout.pixel_x(0), layout.pixel_y(-0.78)) == class_color(2));  // in the head
  CHECK(image.at(layout.pixel_x(0.03), layout.pixel_y(-0.3)) == kWhite);        // beside the shaft
  CHECK(image.at(layout.area_x0 - 1, (layout.area_y0 + layout.area_y1) / 2) == kBlack);  // the frame
  // The legend sits right of the area, inside the canvas.
  CHECK(layout.legend_x0 > layout.area_x1);
  CHECK(layout.legend_x0 < 400);
}

TEST_CASE("equal aspect keeps one data unit as long across as up") {
  Plot plot(600, 300);
  plot.x_range(-1, 1).y_range(-1, 1).equal_aspect();
  PlotLayout layout = plot.layout();
  CHECK(std::abs((layout.area_x1 - layout.area_x0) - (layout.area_y1 - layout.area_y0)) <= 1);
}

TEST_CASE("the feature circle: features normalized onto the circle, coloured by class, weight arrows") {
  // Class 0 around +x, class 1 around +y; lengths differ, normalization removes them.
  Tensor embeddings = Tensor::from_vector({3, 0, 0.2, 0, 0, 5}, {3, 2}, DType::F32, kCPU);
  Tensor labels = Tensor::from_indices({0, 0, 1}, {3}, kCPU);
  Tensor weights = Tensor::from_vector({1, 0, 0, 2}, {2, 2}, DType::F32, kCPU);
  FeaturePlotOptions options;
  options.size = 300;
  options.point_radius = 4;
  Plot plot = feature_circle_plot(embeddings, labels, weights, options);
  PlotLayout layout = plot.layout();
  Image image = saved_and_read(plot, "circle.png");
  CHECK(image.width == plot.width());
  CHECK(std::abs((layout.area_x1 - layout.area_x0) - 300) <= 1);
  CHECK(image.at(layout.pixel_x(1), layout.pixel_y(0)) == class_color(0));
  CHECK(image.at(layout.pixel_x(0), layout.pixel_y(1)) == class_color(1));
  CHECK(image.at(layout.pixel_x(0), layout.pixel_y(0.4)) == mix(class_color(1), kBlack, 0.25));  // W_1
  CHECK(image.at(layout.pixel_x(0.4), layout.pixel_y(0)) == mix(class_color(0), kBlack, 0.25));  // W_0
  CHECK(image.at(layout.pixel_x(-0.4), layout.pixel_y(-0.3)) == kWhite);
  CHECK(image.at(2, image.height - 2) == kWhite);

  Tensor with_zero = Tensor::from_vector({3, 0, 0, 0, 0, 5}, {3, 2}, DType::F32, kCPU);
  CHECK(error_of([&] { feature_circle_plot(with_zero, labels, weights); }) ==
        "feature plot: row 1 of embeddings has length 0 (expected > 0 to normalize it)");
  Tensor bad_labels = Tensor::from_indices({0, 2, 1}, {3}, kCPU);
  CHECK(error_of([&] { feature_circle_plot(embeddings, bad_labels, weights); }) ==
        "feature plot: label 2 at 1 is out of range (expected 0..1, one per class weight)");
  CHECK(error_of([&] { feature_circle_plot(embeddings.reshape({2, 3}), labels, weights); }).find(
            "embeddings is float32[2, 3]") != std::string::npos);
}

TEST_CASE("the sphere view: front points in their colour, back points faded") {
  // With no rotation the screen shows (x, y) and z points at the viewer.
  Tensor embeddings = Tensor::from_vector({0.6, 0, 0.8, 0, 0.6, -0.8}, {2, 3}, DType::F32, kCPU);
  Tensor labels = Tensor::from_indices({0, 1}, {2}, kCPU);
  Tensor weights = Tensor::from_vector({0.6, 0, 0.8, 0, -1, 0}, {2, 3}, DType::F32, kCPU);
  FeaturePlotOptions options;
  options.size = 300;
  options.point_radius = 4;
  options.yaw_degrees = options.pitch_degrees = 0;
  Plot plot = feature_sphere_plot(embeddings, labels, weights, options);
  PlotLayout layout = plot.layout();
  Image image = saved_and_read(plot, "sphere.png");
  CHECK(image.at(layout.pixel_x(0.6), layout.pixel_y(0)) == class_color(0));
  CHECK(image.at(layout.pixel_x(0), layout.pixel_y(0.6)) == mix(class_color(1), kWhite, 0.65));
  CHECK(image.at(layout.pixel_x(0), layout.pixel_y(-0.5)) == mix(class_color(1), kBlack, 0.25));  // W_1
}

TEST_CASE("errors: unwritable paths, mismatched series, impossible sizes") {
  Plot plot(300, 200);
  CHECK(error_of([&] { plot.save("/nonexistent-dir/plot.png"); }).find("cannot write /nonexistent-dir/plot.png") !=
        std::string::npos);
  CHECK(error_of([&] { plot.scatter({1, 2}, {1}, kBlack); }) ==
        "Plot::scatter: 2 x values and 1 y values (expected as many)");
  CHECK(error_of([&] { plot.x_range(1, 1); }) == "Plot::x_range: [1, 1] (expected low < high)");
  CHECK(error_of([] { Plot(10, 10); }) == "Plot: size 10×10 (expected 200×150 to 16384×16384)");
}

}  // namespace
}  // namespace margin
