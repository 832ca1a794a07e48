// losses/bounds.cpp — the formulas of losses/bounds.h; the cap fraction by Simpson's rule.
#include "losses/bounds.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "backends/types.h"

namespace margin::bounds {

namespace {

// ∫₀^φ sin^{K−2} t dt by composite Simpson (the integrand is smooth; 2000 panels give ~1e-12).
double sine_power_integral(double phi, int64_t dim) {
  const int panels = 2000;
  double h = phi / panels, total = 0;
  for (int i = 0; i <= panels; ++i) {
    double weight = (i == 0 || i == panels) ? 1.0 : (i % 2 == 1 ? 4.0 : 2.0);
    total += weight * std::pow(std::sin(i * h), static_cast<double>(dim - 2));
  }
  return total * h / 3.0;
}

void check_classes(int64_t classes, const char* who) {
  if (classes < 2) fail(who, ": needs at least 2 classes, got C=", classes);
}

}  // namespace

double scale_lower_bound(int64_t classes, double p_w) {
  check_classes(classes, "scale_lower_bound");
  if (!(p_w > 0 && p_w < 1)) fail("scale_lower_bound: P_W must be in (0, 1), got ", p_w);
  double c = static_cast<double>(classes);
  return (c - 1) / c * std::log((c - 1) * p_w / (1 - p_w));
}

double margin_upper_bound_circle(int64_t classes) {
  check_classes(classes, "margin_upper_bound_circle");
  return 1.0 - std::cos(2.0 * std::numbers::pi / static_cast<double>(classes));
}

double margin_upper_bound_simplex(int64_t classes) {
  check_classes(classes, "margin_upper_bound_simplex");
  double c = static_cast<double>(classes);
  return c / (c - 1);
}

double cap_fraction(double phi, int64_t dim) {
  if (dim < 2) fail("cap_fraction: the sphere needs K ≥ 2 dimensions, got K=", dim);
  phi = std::clamp(phi, 0.0, std::numbers::pi);
  return sine_power_integral(phi, dim) / sine_power_integral(std::numbers::pi, dim);
}

double margin_upper_bound_packing(int64_t classes, int64_t dim) {
  check_classes(classes, "margin_upper_bound_packing");
  double target = 1.0 / static_cast<double>(classes), low = 0, high = std::numbers::pi;
  for (int i = 0; i < 60; ++i) {  // cap_fraction increases with φ: bisect
    double mid = 0.5 * (low + high);
    (cap_fraction(mid, dim) < target ? low : high) = mid;
  }
  return 1.0 - std::cos(std::min(2.0 * low, std::numbers::pi));
}

double margin_upper_bound(int64_t classes, int64_t dim) {
  if (dim == 2) return margin_upper_bound_circle(classes);
  if (classes <= dim + 1) return margin_upper_bound_simplex(classes);
  return std::min(margin_upper_bound_packing(classes, dim), margin_upper_bound_simplex(classes));
}

double nsl_boundary_angle(double phi) { return phi / 2; }

double lmcl_boundary_angle(double phi, double margin) {
  double reach = 2.0 * std::sin(phi / 2);
  if (margin > reach)
    fail("lmcl_boundary_angle: margin ", margin, " exceeds 2·sin(φ/2) = ", reach,
         " for centres φ = ", phi, " apart: no point of class 1 clears it");
  return phi / 2 - std::asin(margin / reach);
}

}  // namespace margin::bounds
