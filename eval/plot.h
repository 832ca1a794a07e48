// eval/plot.h — a small 2-D plotting module: a Plot collects series (scatter points, lines,
// rays from the origin) in data coordinates and renders them on a Canvas with a frame,
// ticks at "nice" steps with numeric labels, axis labels, a title and a legend, then
// saves a PNG. Enough for the pictures of this project: features on the unit circle with the
// class-weight directions, accuracy against the margin m, ROC curves.
//
//   Plot plot(800, 600);
//   plot.title("accuracy vs m").x_label("m").y_label("accuracy");
//   plot.line(ms, accuracies, class_color(0), "LFW");
//   plot.save("accuracy.png");
//
// Layout: the title on top, tick labels and axis labels left and below, the legend outside
// the plot area on the right, so nothing drawn covers data or text. Series are drawn in the
// order they were added, clipped to the plot area. Left out: log scales, bar charts,
// subplots, text inside the plot area, dashed lines.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "eval/canvas.h"

namespace margin {

struct Range {
  double low = 0, high = 1;
};

enum class Marker { Dot, Line, Arrow };

// Where things go in the image; computed from the canvas size, the text and the ranges.
struct PlotLayout {
  int area_x0, area_y0, area_x1, area_y1;  // the plot area, in pixels
  Range x, y;                              // the data ranges it shows
  int legend_x0, legend_y0;                // the legend box's top-left corner
  // Pixel position of a data point (the centre of a pixel has .5 coordinates).
  double pixel_x(double data_x) const;
  double pixel_y(double data_y) const;
};

class Plot {
 public:
  Plot(int width, int height);

  Plot& size(int width, int height);  // the canvas, legend and labels included
  int width() const { return width_; }
  int height() const { return height_; }
  Plot& title(std::string text);
  Plot& x_label(std::string text);
  Plot& y_label(std::string text);
  Plot& x_range(double low, double high);  // unset: fitted to the data, with 5% to spare
  Plot& y_range(double low, double high);
  Plot& equal_aspect(bool on = true);  // one data unit is as long across as up (circles stay round)
  Plot& axes(bool on = true);          // frame, ticks and their labels (off for the sphere view)
  Plot& grid(bool on = true);          // faint lines at the ticks

  // Points of one colour, or of one colour each (`colors` as long as xs).
  void scatter(const std::vector<double>& xs, const std::vector<double>& ys, Color color,
               const std::string& label = "", double radius = 3.0);
  void scatter(const std::vector<double>& xs, const std::vector<double>& ys, const std::vector<Color>& colors,
               double radius = 3.0);
  // A polyline through the points in order.
  void line(const std::vector<double>& xs, const std::vector<double>& ys, Color color,
            const std::string& label = "", double width = 2.0);
  // An arrow from the origin to (x, y), for directions such as a class's weight vector.
  void ray(double x, double y, Color color, const std::string& label = "", double width = 2.5);
  // A legend line of its own, for series drawn without a label.
  void legend_entry(const std::string& label, Color color, Marker marker = Marker::Dot);

  PlotLayout layout() const;
  Canvas render() const;
  void save(const std::string& path) const { render().save_png(path); }

  static constexpr int kTextScale = 2, kTitleScale = 3;

 private:
  struct Series {
    Marker kind;
    std::vector<double> xs, ys;
    std::vector<Color> colors;  // one, or one per point
    double size;                // radius of dots, width of lines and rays
  };
  struct LegendEntry {
    std::string label;
    Color color;
    Marker marker;
  };
  Range fitted(bool x_axis) const;
  void draw_axes(Canvas& canvas, const PlotLayout& layout) const;
  void draw_legend(Canvas& canvas, const PlotLayout& layout) const;
  int legend_width() const;

  int width_, height_;
  std::string title_, x_label_, y_label_;
  std::optional<Range> x_range_, y_range_;
  bool equal_aspect_ = false, axes_ = true, grid_ = false;
  std::vector<Series> series_;
  std::vector<LegendEntry> legend_;
};

// Tick positions for a range: multiples of 1, 2 or 5 × 10^k, about `target` of them.
std::vector<double> nice_ticks(Range range, int target = 6);
// A tick's label with as many decimals as the step between ticks needs ("0.25", "10").
std::string tick_label(double value, double step);

}  // namespace margin
