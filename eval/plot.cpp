// eval/plot.cpp — layout, ticks, series drawing and the legend of a Plot.
#include "eval/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "backends/types.h"

namespace margin {

// Spacing between text and the things around it, in pixels.
static constexpr int kPad = 10, kTickLength = 6, kLegendMarker = 24;

double PlotLayout::pixel_x(double data_x) const {
  return area_x0 + (data_x - x.low) / (x.high - x.low) * (area_x1 - area_x0);
}
double PlotLayout::pixel_y(double data_y) const {
  return area_y1 - (data_y - y.low) / (y.high - y.low) * (area_y1 - area_y0);
}

std::vector<double> nice_ticks(Range range, int target) {
  double span = range.high - range.low;
  if (!(span > 0) || !std::isfinite(span)) return {range.low};
  double raw_step = span / target, magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  double step = magnitude;
  for (double factor : {1.0, 2.0, 5.0, 10.0})
    if (factor * magnitude >= raw_step) {
      step = factor * magnitude;
      break;
    }
  std::vector<double> ticks;
  for (double k = std::ceil(range.low / step - 1e-9); k * step <= range.high + step * 1e-9; k += 1)
    ticks.push_back(k * step);
  return ticks;
}

std::string tick_label(double value, double step) {
  int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  if (std::abs(value) < step * 1e-6) value = 0;  // no "-0.0" from rounding
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

Plot::Plot(int width, int height) { size(width, height); }

Plot& Plot::size(int width, int height) {
  if (width < 200 || height < 150 || width > 16384 || height > 16384)
    fail("Plot: size ", width, "×", height, " (expected 200×150 to 16384×16384)");
  width_ = width;
  height_ = height;
  return *this;
}

Plot& Plot::title(std::string text) { title_ = std::move(text); return *this; }
Plot& Plot::x_label(std::string text) { x_label_ = std::move(text); return *this; }
Plot& Plot::y_label(std::string text) { y_label_ = std::move(text); return *this; }
Plot& Plot::equal_aspect(bool on) { equal_aspect_ = on; return *this; }
Plot& Plot::axes(bool on) { axes_ = on; return *this; }
Plot& Plot::grid(bool on) { grid_ = on; return *this; }

Plot& Plot::x_range(double low, double high) {
  if (!(low < high)) fail("Plot::x_range: [", low, ", ", high, "] (expected low < high)");
  x_range_ = Range{low, high};
  return *this;
}
Plot& Plot::y_range(double low, double high) {
  if (!(low < high)) fail("Plot::y_range: [", low, ", ", high, "] (expected low < high)");
  y_range_ = Range{low, high};
  return *this;
}

static void check_lengths(const char* what, size_t xs, size_t ys) {
  if (xs != ys) fail("Plot::", what, ": ", xs, " x values and ", ys, " y values (expected as many)");
}

void Plot::scatter(const std::vector<double>& xs, const std::vector<double>& ys, Color color,
                   const std::string& label, double radius) {
  check_lengths("scatter", xs.size(), ys.size());
  series_.push_back({Marker::Dot, xs, ys, {color}, radius});
  if (!label.empty()) legend_.push_back({label, color, Marker::Dot});
}

void Plot::scatter(const std::vector<double>& xs, const std::vector<double>& ys,
                   const std::vector<Color>& colors, double radius) {
  check_lengths("scatter", xs.size(), ys.size());
  if (colors.size() != xs.size())
    fail("Plot::scatter: ", colors.size(), " colours for ", xs.size(), " points (expected one each)");
  series_.push_back({Marker::Dot, xs, ys, colors, radius});
}

void Plot::line(const std::vector<double>& xs, const std::vector<double>& ys, Color color,
                const std::string& label, double width) {
  check_lengths("line", xs.size(), ys.size());
  series_.push_back({Marker::Line, xs, ys, {color}, width});
  if (!label.empty()) legend_.push_back({label, color, Marker::Line});
}

void Plot::ray(double x, double y, Color color, const std::string& label, double width) {
  series_.push_back({Marker::Arrow, {0.0, x}, {0.0, y}, {color}, width});
  if (!label.empty()) legend_.push_back({label, color, Marker::Arrow});
}

void Plot::legend_entry(const std::string& label, Color color, Marker marker) {
  legend_.push_back({label, color, marker});
}

Range Plot::fitted(bool x_axis) const {
  double low = INFINITY, high = -INFINITY;
  for (const Series& series : series_)
    for (double value : x_axis ? series.xs : series.ys)
      if (std::isfinite(value)) {
        low = std::min(low, value);
        high = std::max(high, value);
      }
  if (low > high) return {0, 1};  // no data
  if (low == high) return {low - 1, high + 1};
  double spare = 0.05 * (high - low);
  return {low - spare, high + spare};
}

int Plot::legend_width() const {
  int widest = 0;
  for (const LegendEntry& entry : legend_) widest = std::max(widest, Canvas::text_width(entry.label, kTextScale));
  return legend_.empty() ? 0 : kPad + kLegendMarker + kPad + widest + kPad;
}

PlotLayout Plot::layout() const {
  PlotLayout layout{};
  layout.x = x_range_.value_or(fitted(true));
  layout.y = y_range_.value_or(fitted(false));
  int text_height = Canvas::text_height(kTextScale);
  int left = kPad, bottom = kPad, top = kPad, right = kPad;
  if (!title_.empty()) top += Canvas::text_height(kTitleScale) + kPad;
  if (axes_) {
    std::vector<double> y_ticks = nice_ticks(layout.y);
    double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
    int widest_tick = 0;
    for (double tick : y_ticks) widest_tick = std::max(widest_tick, Canvas::text_width(tick_label(tick, y_step), kTextScale));
    left += widest_tick + kTickLength + kPad;
    bottom += text_height + kTickLength + kPad;
    top += text_height / 2;  // room for the top tick label, centred on its tick
    right += Canvas::text_width("00", kTextScale) / 2;  // and for half of the rightmost x label
  }
  if (!y_label_.empty()) left += text_height + kPad;
  if (!x_label_.empty()) bottom += text_height + kPad;
  int legend = legend_width();
  if (legend > 0) right += legend + 2 * kPad;
  layout.area_x0 = left;
  layout.area_y0 = top;
  layout.area_x1 = width_ - right;
  layout.area_y1 = height_ - bottom;
  if (layout.area_x1 - layout.area_x0 < 20 || layout.area_y1 - layout.area_y0 < 20)
    fail("Plot: a ", width_, "×", height_, " canvas leaves no room for the plot area after the labels and legend");
  if (equal_aspect_) {
    // Shrink the longer side of the area (keeping it centred) until both axes have the same
    // pixels per data unit.
    double per_unit_x = (layout.area_x1 - layout.area_x0) / (layout.x.high - layout.x.low);
    double per_unit_y = (layout.area_y1 - layout.area_y0) / (layout.y.high - layout.y.low);
    if (per_unit_x > per_unit_y) {
      int width = static_cast<int>(std::lround(per_unit_y * (layout.x.high - layout.x.low)));
      layout.area_x0 += (layout.area_x1 - layout.area_x0 - width) / 2;
      layout.area_x1 = layout.area_x0 + width;
    } else {
      int height = static_cast<int>(std::lround(per_unit_x * (layout.y.high - layout.y.low)));
      layout.area_y0 += (layout.area_y1 - layout.area_y0 - height) / 2;
      layout.area_y1 = layout.area_y0 + height;
    }
  }
  layout.legend_x0 = layout.area_x1 + (axes_ ? Canvas::text_width("00", kTextScale) / 2 : 0) + 2 * kPad;
  layout.legend_y0 = layout.area_y0;
  return layout;
}

void Plot::draw_axes(Canvas& canvas, const PlotLayout& layout) const {
  int text_height = Canvas::text_height(kTextScale);
  std::vector<double> x_ticks = nice_ticks(layout.x), y_ticks = nice_ticks(layout.y);
  double x_step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
  double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
  for (double tick : x_ticks) {
    int x = static_cast<int>(std::floor(layout.pixel_x(tick)));
    if (grid_) canvas.fill_rect(x, layout.area_y0, x + 1, layout.area_y1, kLightGrey);
    canvas.fill_rect(x, layout.area_y1, x + 1, layout.area_y1 + kTickLength, kBlack);
    std::string label = tick_label(tick, x_step);
    canvas.draw_text(x - Canvas::text_width(label, kTextScale) / 2, layout.area_y1 + kTickLength + kPad / 2,
                     label, kBlack, kTextScale);
  }
  for (double tick : y_ticks) {
    int y = static_cast<int>(std::floor(layout.pixel_y(tick)));
    if (grid_) canvas.fill_rect(layout.area_x0, y, layout.area_x1, y + 1, kLightGrey);
    canvas.fill_rect(layout.area_x0 - kTickLength, y, layout.area_x0, y + 1, kBlack);
    std::string label = tick_label(tick, y_step);
    canvas.draw_text(layout.area_x0 - kTickLength - kPad / 2 - Canvas::text_width(label, kTextScale),
                     y - text_height / 2, label, kBlack, kTextScale);
  }
  canvas.stroke_rect(layout.area_x0 - 1, layout.area_y0 - 1, layout.area_x1 + 1, layout.area_y1 + 1, kBlack);
}

void Plot::draw_legend(Canvas& canvas, const PlotLayout& layout) const {
  if (legend_.empty()) return;
  int text_height = Canvas::text_height(kTextScale), row = text_height + kPad;
  int x0 = layout.legend_x0, y0 = layout.legend_y0;
  int box_width = legend_width(), box_height = static_cast<int>(legend_.size()) * row + kPad;
  canvas.stroke_rect(x0, y0, x0 + box_width, y0 + box_height, kGrey);
  for (size_t i = 0; i < legend_.size(); ++i) {
    const LegendEntry& entry = legend_[i];
    int top = y0 + kPad + static_cast<int>(i) * row;
    double middle_y = top + text_height / 2.0, marker_x0 = x0 + kPad, marker_x1 = marker_x0 + kLegendMarker;
    if (entry.marker == Marker::Dot) canvas.fill_circle((marker_x0 + marker_x1) / 2, middle_y, 5, entry.color);
    if (entry.marker == Marker::Line) canvas.draw_line(marker_x0, middle_y, marker_x1, middle_y, entry.color, 2.5);
    if (entry.marker == Marker::Arrow) canvas.draw_arrow(marker_x0, middle_y, marker_x1, middle_y, entry.color, 2.5, 9);
    canvas.draw_text(static_cast<int>(marker_x1) + kPad, top, entry.label, kBlack, kTextScale);
  }
}

Canvas Plot::render() const {
  PlotLayout layout = this->layout();
  Canvas canvas(width_, height_);
  int text_height = Canvas::text_height(kTextScale);
  if (!title_.empty()) {
    int area_middle = (layout.area_x0 + layout.area_x1) / 2;
    int x = std::clamp(area_middle - Canvas::text_width(title_, kTitleScale) / 2, kPad, width_ - kPad);
    canvas.draw_text(x, kPad, title_, kBlack, kTitleScale);
  }
  if (axes_) draw_axes(canvas, layout);
  if (!x_label_.empty())
    canvas.draw_text((layout.area_x0 + layout.area_x1 - Canvas::text_width(x_label_, kTextScale)) / 2,
                     height_ - kPad - text_height, x_label_, kBlack, kTextScale);
  if (!y_label_.empty())
    canvas.draw_text_vertical(kPad, (layout.area_y0 + layout.area_y1 - Canvas::text_width(y_label_, kTextScale)) / 2,
                              y_label_, kBlack, kTextScale);

  canvas.set_clip(layout.area_x0, layout.area_y0, layout.area_x1, layout.area_y1);
  for (const Series& series : series_) {
    auto color_of = [&](size_t i) { return series.colors.size() == 1 ? series.colors[0] : series.colors[i]; };
    for (size_t i = 0; i < series.xs.size(); ++i) {
      double x = layout.pixel_x(series.xs[i]), y = layout.pixel_y(series.ys[i]);
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      if (series.kind == Marker::Dot) canvas.fill_circle(x, y, series.size, color_of(i));
      if (i == 0) continue;
      double from_x = layout.pixel_x(series.xs[i - 1]), from_y = layout.pixel_y(series.ys[i - 1]);
      if (!std::isfinite(from_x) || !std::isfinite(from_y)) continue;
      if (series.kind == Marker::Line) canvas.draw_line(from_x, from_y, x, y, color_of(i), series.size);
      if (series.kind == Marker::Arrow)
        canvas.draw_arrow(from_x, from_y, x, y, color_of(i), series.size, 4 * series.size + 4);
    }
  }
  canvas.reset_clip();
  draw_legend(canvas, layout);
  return canvas;
}

}  // namespace margin
