// losses/angular.cpp — the margins that act on the angle θ_y = arccos(cos θ_y) itself:
// ArcFace (additive angle), SphereFace (multiplicative angle), and CombinedMargin (all three).
//
//   ArcFace     ψ = cos(θ + m)                 (Deng et al. 2019, arXiv:1801.07698)
//   SphereFace  ψ = (−1)^k cos(mθ) − 2k,  k = ⌊mθ/π⌋ ∈ [0, m−1]   (Liu et al. 2017)
//               z_y = ‖x‖ (λ cos θ + ψ) / (1 + λ)
//   Combined    ψ = (−1)^k cos(m1 θ + m2) − 2k − m3,  k = ⌊(m1 θ + m2)/π⌋
// The (−1)^k, −2k continuation makes ψ monotone decreasing in θ on [0, π] (cos(m1θ + m2)
// alone turns back up once its argument passes π); it is SphereFace's, generalized, so the
// combined margin reproduces SphereFace at (m, 0, 0), ArcFace at (1, m, 0) wherever θ + m ≤ π
// (ArcFace's own continuation beyond π is insightface's linear one, below) and LMCL at (1, 0, m).
// k and the masks are constants of the batch (piecewise-constant in θ), computed on the host
// from the B target cosines; the gradient flows through the smooth pieces only.
// Left out: ArcFace's sub-center and dynamic margins.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/autograd.h"
#include "core/ops.h"
#include "losses/margin_loss.h"

namespace margin {

namespace {

// A [B, 1] constant tensor shaped, typed and placed like `like`.
Tensor constant_like(const std::vector<double>& values, const Tensor& like) {
  return Tensor::from_vector(values, like.shape(), like.dtype(), like.device());
}

// θ ∈ [0, π] of each cosine, clamped first (so |cos| = 1 + rounding gives 0 or π, not NaN).
std::vector<double> angles(const Tensor& cos_y) {
  std::vector<double> theta = cos_y.to_vector();
  for (double& t : theta) t = std::acos(std::clamp(t, -1.0, 1.0));
  return theta;
}

// (−1)^k cos(argument) − 2k with k = ⌊argument_value / π⌋ clamped to [0, k_max]. At a
// multiple of π both neighbouring k give the same value, so the clamp is harmless.
Tensor monotone_cosine(const Tensor& cos_of_argument, const std::vector<double>& argument,
                       int64_t k_max) {
  std::vector<double> sign(argument.size()), shift(argument.size());
  for (size_t b = 0; b < argument.size(); ++b) {
    int64_t k = std::clamp<int64_t>(static_cast<int64_t>(std::floor(argument[b] / std::numbers::pi)),
                                    0, k_max);
    sign[b] = k % 2 == 0 ? 1.0 : -1.0;
    shift[b] = -2.0 * static_cast<double>(k);
  }
  return cos_of_argument * constant_like(sign, cos_of_argument) +
         constant_like(shift, cos_of_argument);
}

// T_m(c) = cos(m·arccos c), the Chebyshev polynomial SphereFace's code evaluates: smooth in c,
// so its gradient is exact even at |c| = 1 (where arccos's slope is infinite).
Tensor chebyshev(const Tensor& c, int64_t m) {
  Tensor previous = c * 0.0 + 1.0, current = c;  // T_0, T_1
  for (int64_t n = 1; n < m; ++n) {
    Tensor next = c * current * 2.0 - previous;
    previous = current;
    current = next;
  }
  return m == 0 ? previous : current;
}

}  // namespace

// ψ(cos θ) = cos(θ + m) where θ + m ≤ π, else insightface's linear continuation
// cos θ − m·sin m (th = cos(π − m), mm = sin(π − m)·m): the line through the point θ = π − m
// with ψ decreasing in θ, so a sample beyond π − m is still pushed toward its class.
// easy_margin: the margin only where cos θ > 0, else ψ = cos θ.
// Exact gradient: ∂ψ/∂cos θ = sin(θ + m)/sin θ (unbounded as θ → 0; acos's slope is capped at
// 1e6 there, see UnaryOp::Acos). straight_through: insightface's cos θ + (ψ − cos θ).detach(),
// which takes ∂ψ/∂cos θ = 1 everywhere: the value of ArcFace with the gradient of NSL.
Tensor ArcFaceLoss::target_cosine(const Tensor& cos_y) {
  double m = current_margin();
  auto psi = [&](const Tensor& c) {
    double threshold = options_.easy_margin ? 0.0 : std::cos(std::numbers::pi - m);
    std::vector<double> values = c.to_vector(), use_margin(values.size());
    for (size_t b = 0; b < values.size(); ++b) use_margin[b] = values[b] > threshold ? 1.0 : 0.0;
    Tensor mask = constant_like(use_margin, c);
    Tensor with_margin = cos(acos(c) + m);
    Tensor fallback = options_.easy_margin ? c : c - std::sin(std::numbers::pi - m) * m;
    return mask * with_margin + (1.0 - mask) * fallback;
  };
  if (!options_.straight_through) return psi(cos_y);
  Tensor offset;
  {
    NoGradGuard no_grad;
    offset = psi(cos_y.detach()) - cos_y.detach();
  }
  return cos_y + offset;
}

SphereFaceLoss::SphereFaceLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options)
    : MarginLoss(dim, classes, gen, options, {.scale = 1, .margin = 4}) {
  if (margin_ < 1 || margin_ != std::floor(margin_))
    fail("SphereFaceLoss: the angular margin m must be an integer ≥ 1, got ", margin_);
}

// λ = max(λ_min, base·(1 + γ·step)^−power): starts near plain softmax (λ ≫ 1 weighs cos θ)
// and hands over to ψ as training goes (SphereFace's MarginInnerProduct layer).
double SphereFaceLoss::lambda() const {
  if (!options_.anneal_lambda) return 0.0;
  double annealed = options_.lambda_base *
                    std::pow(1.0 + options_.lambda_gamma * static_cast<double>(step_),
                             -options_.lambda_power);
  return std::max(options_.lambda_min, annealed);
}

// (λ cos θ + ψ(θ)) / (1 + λ). The margin is an integer and is not warmed up: λ is
// SphereFace's own warm-up.
Tensor SphereFaceLoss::target_cosine(const Tensor& cos_y) {
  int64_t m = static_cast<int64_t>(margin_);
  std::vector<double> argument = angles(cos_y);
  for (double& a : argument) a *= static_cast<double>(m);
  Tensor psi = monotone_cosine(chebyshev(cos_y, m), argument, m - 1);
  double weight = lambda();
  if (weight == 0.0) return psi;
  return (cos_y * weight + psi) / (1.0 + weight);
}

// ‖x‖ is kept: z_j = ‖x‖ cos θ_j = Ŵ_j · x.
Tensor SphereFaceLoss::scale_logits(const Tensor& x, const Tensor& cosines) {
  return cosines * sqrt(sum(x * x, 1, true));
}

// During warm-up m1 → 1 + (m1 − 1)·f, m2 → m2·f, m3 → m3·f (f = the warm-up fraction).
Tensor CombinedMarginLoss::target_cosine(const Tensor& cos_y) {
  double f = warmup_fraction();
  double m1 = 1.0 + (options_.m1 - 1.0) * f, m2 = options_.m2 * f, m3 = options_.m3 * f;
  std::vector<double> argument = angles(cos_y);
  for (double& a : argument) a = m1 * a + m2;
  int64_t k_max = static_cast<int64_t>(std::ceil(m1 + m2 / std::numbers::pi)) - 1;
  Tensor psi = monotone_cosine(cos(acos(cos_y) * m1 + m2), argument, std::max<int64_t>(k_max, 0));
  return psi - m3;
}

}  // namespace margin
