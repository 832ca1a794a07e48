// eval/feature_plot.cpp — the feature circle and the sphere view built from Plot series.
#include "eval/feature_plot.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace margin {

// Weight arrows stop short of the circle, so their heads stay clear of the points on it.
static constexpr double kArrowLength = 0.82;
static constexpr double kViewExtent = 1.12;

namespace {

// Rows of a [rows, dims] tensor scaled to unit length, as host vectors.
std::vector<std::vector<double>> unit_rows(const Tensor& matrix, int64_t dims, const char* what) {
  // Only read: bfloat16 and float16 values widen exactly.
  const bool floating = is_floating(matrix.dtype()) || is_half(matrix.dtype());
  if (matrix.ndim() != 2 || matrix.size(1) != dims || !floating)
    fail("feature plot: ", what, " is ", matrix.describe(), " (expected a float [rows, ", dims, "] tensor)");
  std::vector<double> values = matrix.to(kCPU).contiguous().to_vector();
  std::vector<std::vector<double>> rows(matrix.size(0));
  for (int64_t i = 0; i < matrix.size(0); ++i) {
    std::vector<double> row(values.begin() + i * dims, values.begin() + (i + 1) * dims);
    double length = std::sqrt(std::inner_product(row.begin(), row.end(), row.begin(), 0.0));
    if (!(length > 0) || !std::isfinite(length))
      fail("feature plot: row ", i, " of ", what, " has length ", length, " (expected > 0 to normalize it)");
    for (double& value : row) value /= length;
    rows[i] = row;
  }
  return rows;
}

std::vector<int64_t> checked_labels(const Tensor& labels, int64_t count, int64_t classes) {
  if (labels.dtype() != DType::I64 || labels.ndim() != 1 || labels.size(0) != count)
    fail("feature plot: labels are ", labels.describe(), " (expected int64[", count, "], one per embedding)");
  std::vector<int64_t> values = labels.to(kCPU).contiguous().to_indices();
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] < 0 || values[i] >= classes)
      fail("feature plot: label ", values[i], " at ", i, " is out of range (expected 0..", classes - 1,
           ", one per class weight)");
  return values;
}

std::string class_name(const FeaturePlotOptions& options, int64_t label) {
  if (label < static_cast<int64_t>(options.class_names.size())) return options.class_names[label];
  return "class " + std::to_string(label);
}

// A plot with the legend already listed, sized so that its square plot area is
// options.size pixels across with nothing left over around it.
Plot framed_plot(const FeaturePlotOptions& options, int64_t classes, bool axes) {
  // Measured on a canvas large enough for any legend; the margins do not depend on its size.
  Plot plot(options.size + 4000, options.size + 4000);
  plot.title(options.title).axes(axes).x_range(-kViewExtent, kViewExtent).y_range(-kViewExtent, kViewExtent);
  for (int64_t c = 0; c < classes; ++c) plot.legend_entry(class_name(options, c), class_color(c));
  plot.legend_entry("weight W_j", kGrey, Marker::Arrow);
  PlotLayout probe = plot.layout();
  int margin_x = plot.width() - (probe.area_x1 - probe.area_x0);
  int margin_y = plot.height() - (probe.area_y1 - probe.area_y0);
  // The legend must fit beside the area too: it is as tall as its rows.
  int legend_height = static_cast<int>(classes + 1) * (Canvas::text_height(Plot::kTextScale) + 10) + 10;
  plot.size(options.size + margin_x, std::max(options.size, legend_height) + margin_y).equal_aspect();
  return plot;
}

std::vector<double> circle_coordinates(bool cosine, int steps = 360) {
  std::vector<double> values;
  for (int i = 0; i <= steps; ++i) {
    double angle = 2 * M_PI * i / steps;
    values.push_back(cosine ? std::cos(angle) : std::sin(angle));
  }
  return values;
}

}  // namespace

Plot feature_circle_plot(const Tensor& embeddings, const Tensor& labels, const Tensor& class_weights,
                         const FeaturePlotOptions& options) {
  std::vector<std::vector<double>> points = unit_rows(embeddings, 2, "embeddings");
  std::vector<std::vector<double>> weights = unit_rows(class_weights, 2, "class_weights");
  int64_t classes = static_cast<int64_t>(weights.size());
  std::vector<int64_t> label_values = checked_labels(labels, static_cast<int64_t>(points.size()), classes);

  Plot plot = framed_plot(options, classes, true);
  plot.grid().line(circle_coordinates(true), circle_coordinates(false), kGrey, "", 1.5);
  // On the circle, classes that share an arc overlap exactly: drawn class after class, the
  // last would hide the others. Drawing in rounds of 100 samples (each round class by class)
  // lets every class that is present show through.
  const size_t round = 100;
  for (size_t start = 0; start < points.size(); start += round)
    for (int64_t c = 0; c < classes; ++c) {
      std::vector<double> xs, ys;
      for (size_t i = start; i < std::min(points.size(), start + round); ++i)
        if (label_values[i] == c) {
          xs.push_back(points[i][0]);
          ys.push_back(points[i][1]);
        }
      if (!xs.empty()) plot.scatter(xs, ys, class_color(c), "", options.point_radius);
    }
  for (int64_t c = 0; c < classes; ++c)
    plot.ray(kArrowLength * weights[c][0], kArrowLength * weights[c][1], mix(class_color(c), kBlack, 0.25));
  return plot;
}

Plot feature_sphere_plot(const Tensor& embeddings, const Tensor& labels, const Tensor& class_weights,
                         const FeaturePlotOptions& options) {
  std::vector<std::vector<double>> points = unit_rows(embeddings, 3, "embeddings");
  std::vector<std::vector<double>> weights = unit_rows(class_weights, 3, "class_weights");
  int64_t classes = static_cast<int64_t>(weights.size());
  std::vector<int64_t> label_values = checked_labels(labels, static_cast<int64_t>(points.size()), classes);

  // Screen coordinates (x right, y up, depth toward the viewer) of a point on the sphere.
  double yaw = options.yaw_degrees * M_PI / 180, pitch = options.pitch_degrees * M_PI / 180;
  auto project = [&](const std::vector<double>& p) {
    double x = std::cos(yaw) * p[0] + std::sin(yaw) * p[2];
    double z = -std::sin(yaw) * p[0] + std::cos(yaw) * p[2];
    double y = std::cos(pitch) * p[1] - std::sin(pitch) * z;
    double depth = std::sin(pitch) * p[1] + std::cos(pitch) * z;
    return std::vector<double>{x, y, depth};
  };
  auto faded = [](Color color, double depth) { return depth < 0 ? mix(color, kWhite, 0.65) : color; };

  Plot plot = framed_plot(options, classes, false);
  // The outline, and the equator and two meridians as faint guides.
  plot.line(circle_coordinates(true), circle_coordinates(false), kGrey, "", 1.5);
  for (int guide = 0; guide < 3; ++guide) {
    std::vector<double> xs, ys;
    for (int i = 0; i <= 180; ++i) {
      double angle = 2 * M_PI * i / 180, c = std::cos(angle), s = std::sin(angle);
      std::vector<double> on_sphere = guide == 0 ? std::vector<double>{c, 0, s}
                                    : guide == 1 ? std::vector<double>{0, c, s}
                                                 : std::vector<double>{c, s, 0};
      std::vector<double> screen = project(on_sphere);
      xs.push_back(screen[0]);
      ys.push_back(screen[1]);
    }
    plot.line(xs, ys, kLightGrey, "", 1.0);
  }
  // Back to front, so nearer points cover farther ones; weights drawn between the halves.
  std::vector<std::vector<double>> screen(points.size());
  for (size_t i = 0; i < points.size(); ++i) screen[i] = project(points[i]);
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return screen[a][2] < screen[b][2]; });
  for (bool front : {false, true}) {
    std::vector<double> xs, ys;
    std::vector<Color> colors;
    for (size_t i : order)
      if ((screen[i][2] >= 0) == front) {
        xs.push_back(screen[i][0]);
        ys.push_back(screen[i][1]);
        colors.push_back(faded(class_color(label_values[i]), screen[i][2]));
      }
    plot.scatter(xs, ys, colors, front ? options.point_radius : options.point_radius * 0.8);
    if (front) break;
    for (int64_t c = 0; c < classes; ++c) {
      std::vector<double> tip = project(weights[c]);
      plot.ray(kArrowLength * tip[0], kArrowLength * tip[1], faded(mix(class_color(c), kBlack, 0.25), tip[2]));
    }
  }
  return plot;
}

}  // namespace margin
