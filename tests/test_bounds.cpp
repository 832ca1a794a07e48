// tests/test_bounds.cpp — CosFace's scale and margin bounds and the two-class decision
// boundaries (losses/bounds.h) against hand-computed numbers and against the losses.
#include <cmath>
#include <numbers>

#include "gradcheck.h"
#include "losses/bounds.h"
#include "losses/margin_loss.h"

namespace margin {
namespace {

using namespace bounds;

TEST_CASE("the scale lower bound: s ≥ (C−1)/C · log((C−1) P_W / (1 − P_W))") {
  CHECK(scale_lower_bound(10, 0.9) == doctest::Approx(0.9 * std::log(81.0)));  // 3.9550
  CHECK(scale_lower_bound(10, 0.9) == doctest::Approx(3.955004).epsilon(1e-6));
  // CASIA-WebFace's 10,575 identities at P_W = 0.99: s ≥ 13.86 (CosFace uses 64).
  CHECK(scale_lower_bound(10575, 0.99) == doctest::Approx(13.8599625).epsilon(1e-7));
  CHECK(testing::error_of([] { scale_lower_bound(10, 1.0); }).find("P_W") != std::string::npos);
}

TEST_CASE("margin upper bounds: circle (K = 2), simplex (C ≤ K + 1), cap packing (C > K + 1)") {
  CHECK(margin_upper_bound_circle(4) == doctest::Approx(1.0));  // centres 90° apart
  CHECK(margin_upper_bound_circle(6) == doctest::Approx(0.5));  // 60°
  CHECK(margin_upper_bound(6, 2) == doctest::Approx(0.5));
  CHECK(margin_upper_bound_simplex(2) == doctest::Approx(2.0));
  CHECK(margin_upper_bound(3, 2) == doctest::Approx(1.5));       // the circle at C=3 is the simplex
  CHECK(margin_upper_bound(4, 3) == doctest::Approx(4.0 / 3.0));  // tetrahedron
  // The packing bound is exact in the plane: caps are arcs, φ* = π/C.
  CHECK(margin_upper_bound_packing(8, 2) == doctest::Approx(margin_upper_bound_circle(8)).epsilon(1e-9));
  // K = 3: cos φ* = 1 − 2/C; C = 12: m ≤ 1 − cos 2φ* = 2 − 2(5/6)² = 11/18.
  CHECK(margin_upper_bound(12, 3) == doctest::Approx(11.0 / 18.0).epsilon(1e-9));
  // Beyond the simplex the bound is strictly below C/(C−1) and shrinks as C grows.
  CHECK(margin_upper_bound(100, 8) < margin_upper_bound_simplex(100));
  CHECK(margin_upper_bound(1000, 8) < margin_upper_bound(100, 8));
  CHECK(cap_fraction(std::numbers::pi / 2, 5) == doctest::Approx(0.5));
}

TEST_CASE("two classes: NSL's boundary bisects, a point on LMCL's satisfies cos θ1 − cos θ2 = m") {
  const double phi = 1.2, m = 0.3, s = 20;
  CHECK(nsl_boundary_angle(phi) == doctest::Approx(0.6));
  double alpha = lmcl_boundary_angle(phi, m);
  CHECK(std::cos(alpha) - std::cos(phi - alpha) == doctest::Approx(m).epsilon(1e-12));
  CHECK(alpha < phi / 2);  // class 1 must come closer to W_1 than the bisector
  // The same point through the loss: W_1 = (1, 0), W_2 = (cos φ, sin φ); the LMCL logits of
  // class 1 (its label) and class 2 are equal there, so p = ½ each.
  LossOptions options;
  options.scale = s;
  options.margin = m;
  options.dtype = DType::F64;
  Generator gen(0);
  auto lmcl = make_loss("lmcl", 2, 2, gen, options);
  testing::assign(lmcl->weight(), {1, 0, std::cos(phi), std::sin(phi)});
  Tensor x = Tensor::from_vector({std::cos(alpha), std::sin(alpha)}, {1, 2}, DType::F64);
  std::vector<double> z = lmcl->logits(x, Tensor::from_indices({0}, {1})).to_vector();
  CHECK(z[0] == doctest::Approx(z[1]).epsilon(1e-12));
  CHECK(lmcl->forward(x, Tensor::from_indices({0}, {1})).item() == doctest::Approx(std::log(2.0)));
  CHECK(testing::error_of([] { lmcl_boundary_angle(0.1, 0.5); }).find("exceeds") != std::string::npos);
}

}  // namespace
}  // namespace margin
