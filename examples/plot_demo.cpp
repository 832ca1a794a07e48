// examples/plot_demo.cpp — draws the CosFace feature picture for synthetic data, to look at:
// each class's embeddings scattered around its own direction, normalized onto the unit circle
// (or sphere, --dims 3), with the class weight vectors as arrows. A smaller --spread is what
// a larger margin m does to real features: tighter arcs, wider gaps between classes.
#include <cmath>
#include <cstdio>

#include "core/flags.h"
#include "core/random.h"
#include "eval/feature_plot.h"

using namespace margin;

int main(int argc, char** argv) try {
  Flags flags("plot_demo", "Draws synthetic features on the unit circle (or sphere) with class weight directions.");
  std::string& out = flags.add<std::string>("out", "feature_circle.png", "PNG file to write");
  int64_t& dims = flags.add<int64_t>("dims", 2, "2 for the circle, 3 for the sphere view");
  int64_t& classes = flags.add<int64_t>("classes", 8, "number of classes (colours repeat after 12)");
  int64_t& per_class = flags.add<int64_t>("points", 120, "points per class");
  double& spread = flags.add("spread", 0.18, "angular spread of a class around its direction, in radians");
  int64_t& seed = flags.add<int64_t>("seed", 0, "random seed");
  flags.parse(argc, argv);
  if (dims != 2 && dims != 3) fail("--dims ", dims, " (expected 2 or 3)");
  if (classes < 1 || per_class < 1) fail("--classes ", classes, " and --points ", per_class, " (expected >= 1)");

  Generator gen(seed);
  std::vector<double> weights, embeddings;
  std::vector<int64_t> labels;
  for (int64_t c = 0; c < classes; ++c) {
    // Class directions: evenly spaced on the circle; on the sphere, spread over a spiral.
    std::vector<double> direction;
    if (dims == 2) {
      double angle = 2 * M_PI * (c + 0.5) / classes;
      direction = {std::cos(angle), std::sin(angle)};
    } else {
      double height = 1 - 2 * (c + 0.5) / classes, ring = std::sqrt(1 - height * height);
      double angle = c * M_PI * (3 - std::sqrt(5.0));  // the golden angle
      direction = {ring * std::cos(angle), height, ring * std::sin(angle)};
    }
    weights.insert(weights.end(), direction.begin(), direction.end());
    for (int64_t i = 0; i < per_class; ++i) {
      // Direction plus Gaussian noise with a random length (the normalization removes it).
      double length = gen.uniform(0.5, 3.0);
      for (double component : direction) embeddings.push_back(length * (component + spread * gen.normal()));
      labels.push_back(c);
    }
  }
  int64_t count = classes * per_class;
  Tensor embedding_tensor = Tensor::from_vector(embeddings, {count, dims}, DType::F32, kCPU);
  Tensor label_tensor = Tensor::from_indices(labels, {count}, kCPU);
  Tensor weight_tensor = Tensor::from_vector(weights, {classes, dims}, DType::F32, kCPU);

  FeaturePlotOptions options;
  char title[96];
  std::snprintf(title, sizeof title, "%s, spread %.2f rad", dims == 2 ? "synthetic features" : "features on the sphere",
                spread);
  options.title = title;
  Plot plot = dims == 2 ? feature_circle_plot(embedding_tensor, label_tensor, weight_tensor, options)
                        : feature_sphere_plot(embedding_tensor, label_tensor, weight_tensor, options);
  plot.save(out);
  std::printf("wrote %s (%lld points, %lld classes)\n", out.c_str(), static_cast<long long>(count),
              static_cast<long long>(classes));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "plot_demo: %s\n", e.what());
  return 1;
}
