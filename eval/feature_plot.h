// eval/feature_plot.h — the CosFace paper's feature picture (Wang et al. 2018, Fig. 2 and 3):
// embeddings normalized onto the unit circle, coloured by class, with each class's weight
// vector drawn as a direction from the origin. With a margin m the classes' arcs pull apart
// and each clusters around its own weight direction; that is what the picture shows.
//
// For 3-D embeddings, a view of the unit sphere: points and weight directions rotated by a
// yaw (about the vertical axis) and a pitch (tilting toward the viewer), projected straight
// onto the screen; the far hemisphere is drawn first and faded. Left out: embeddings of more
// than 3 dimensions (project them first, e.g. by PCA), interactive rotation.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "eval/plot.h"

namespace margin {

struct FeaturePlotOptions {
  std::string title = "features on the unit circle";
  std::vector<std::string> class_names;  // empty: "class 0", "class 1", ...
  int size = 720;                        // the plot area's side; the legend adds to the width
  double point_radius = 3.0;
  double yaw_degrees = 30, pitch_degrees = 20;  // the sphere view's rotation
};

// embeddings [N, 2], labels [N] int64 in [0, C), class_weights [C, 2] (any float dtype).
// Zero-length embeddings or weights cannot be normalized and raise margin::Error.
Plot feature_circle_plot(const Tensor& embeddings, const Tensor& labels, const Tensor& class_weights,
                         const FeaturePlotOptions& options = {});

// The same for embeddings [N, 3] and class_weights [C, 3], on a sphere.
Plot feature_sphere_plot(const Tensor& embeddings, const Tensor& labels, const Tensor& class_weights,
                         const FeaturePlotOptions& options = {});

}  // namespace margin
