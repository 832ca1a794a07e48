// tests/test_fast_exp.cpp — the vectorizable float32 exponential against std::exp.
#include <doctest/doctest.h>

#include <cmath>

#include "backends/cpu/fast_exp.h"

TEST_CASE("fast_exp is within 2 ulp of std::exp over the float range") {
  double worst_ulps = 0;
  float worst_x = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.000731f) {
    float expected = std::exp(x);
    float ulp = std::nextafter(expected, INFINITY) - expected;
    double ulps = std::abs(static_cast<double>(margin::cpu::fast_exp(x)) - expected) / ulp;
    if (ulps > worst_ulps) {
      worst_ulps = ulps;
      worst_x = x;
    }
  }
  CAPTURE(worst_x);
  CHECK(worst_ulps <= 2.0);
  CHECK(margin::cpu::fast_exp(0.0f) == 1.0f);
  CHECK(margin::cpu::fast_exp(-1000.0f) < 1.3e-38f);  // clamped, never NaN or negative
  CHECK(margin::cpu::fast_exp(-1000.0f) >= 0.0f);
}
