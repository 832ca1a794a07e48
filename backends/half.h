// backends/half.h — the two 16-bit floating types, bfloat16 and IEEE float16, as storage:
// their bits, and conversion to and from float and double with round-to-nearest-even.
//
//   bfloat16: sign, 8 exponent bits (float's), 7 mantissa bits: float's range, 3 significant
//             digits; the unit roundoff u = 2^-8. It is the top half of a float.
//   float16:  sign, 5 exponent bits (bias 15), 10 mantissa bits: largest finite 65504,
//             smallest normal 2^-14, subnormals down to 2^-24; u = 2^-11.
//
// Narrowing rounds to nearest, ties to even; a value past the largest finite one rounds to
// infinity exactly where IEEE says (float16: from 65520 on); NaN stays NaN (made quiet, sign
// kept); subnormals are rounded, not flushed. Widening is exact.
//
// From double, rounding twice (double → float → 16 bits) could land a tie the first step made
// on the wrong side; the first step therefore rounds to odd (truncate, then set the last bit
// if anything was lost), after which rounding float to 16 bits gives the correctly rounded
// result (float keeps ≥ 2 more bits than either 16-bit type). From int64 the same, without
// the detour through double (which is inexact above 2^53).
//
// Both backends compile this header (MARGIN_HD): no intrinsics, plain bit arithmetic.
#pragma once
#include <concepts>
#include <cstdint>
#include <cstring>

#include "backends/host_device.h"

namespace margin {

MARGIN_HD inline uint32_t float_bits(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
}
MARGIN_HD inline float bits_float(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

// float → bfloat16 bits. Adding 0x7fff plus the kept part's last bit to the dropped half
// carries into the kept half exactly when the dropped half is above 0x8000, or equal to it
// with the kept part odd: round to nearest, ties to even. The largest floats carry into
// the exponent and give infinity, as they should. NaN is kept quiet. (Branch-free, so that
// loops over arrays of floats vectorize: the GEMM's packing rounds with it.)
MARGIN_HD inline uint16_t bf16_bits(float value) {
  const uint32_t bits = float_bits(value);
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (bits >> 16) | 0x0040u;
  return static_cast<uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}
MARGIN_HD inline float bf16_float(uint16_t bits) { return bits_float(static_cast<uint32_t>(bits) << 16); }

// float → float16 bits.
MARGIN_HD inline uint16_t fp16_bits(float value) {
  const uint32_t bits = float_bits(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u)  // NaN: quiet, the payload's top bits kept
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // ≥ 65520 (65504 + half its ulp): ∞
  if (magnitude < 0x38800000u) {
    // Below 2^-14, float16's subnormals: value / 2^-24 rounded to an integer. Adding 0.5
    // (whose ulp is 2^-24) makes the float adder round it, to nearest even.
    const float shifted = bits_float(magnitude) + 0.5f;
    return static_cast<uint16_t>(sign | (float_bits(shifted) - 0x3f000000u));
  }
  // Normal: rebias the exponent (127 → 15: subtract 112 << 23) and round away the 13 low
  // mantissa bits as bf16_bits does (0xfff plus the kept part's last bit).
  magnitude += 0xc8000fffu + ((magnitude >> 13) & 1u);
  return static_cast<uint16_t>(sign | (magnitude >> 13));
}

MARGIN_HD inline float fp16_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu, mantissa = half & 0x3ffu;
  if (exponent == 0x1f) return bits_float(sign | 0x7f800000u | (mantissa << 13));  // ∞, NaN
  if (exponent == 0) {  // zero or subnormal: mantissa · 2^-24, exact in float
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return bits_float(sign | float_bits(magnitude));
  }
  return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// double → float rounded to odd: the float nearest toward zero, with its last bit set when
// the conversion was inexact (see the header).
MARGIN_HD inline float round_to_odd_float(double value) {
  const float nearest = static_cast<float>(value);
  const double back = static_cast<double>(nearest);
  if (back == value || value != value) return nearest;  // exact, or NaN
  uint32_t bits = float_bits(nearest);
  if ((back < 0 ? -back : back) > (value < 0 ? -value : value)) bits -= 1;  // toward zero
  return bits_float(bits | 1u);
}

// int64 → float rounded to odd. Not through double: above 2^53 that first rounding could
// itself land on a tie (2^60 + 2^52 + 1 becomes 2^60 + 2^52, whose bfloat16 is 2^60, not
// 2^60 + 2^53). Keeps the 24 leading bits and sets the last if any dropped bit was set.
MARGIN_HD inline float round_to_odd_float(int64_t value) {
  const bool negative = value < 0;
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  uint32_t dropped = 0;
  bool lost = false;
  for (; magnitude >= (uint64_t{1} << 24); ++dropped) {
    lost |= (magnitude & 1u) != 0;
    magnitude >>= 1;
  }
  // magnitude < 2^24 is exact in float, and so is the product by 2^dropped (dropped ≤ 40).
  const float rounded = static_cast<float>(magnitude | (lost ? 1u : 0u)) * bits_float((127u + dropped) << 23);
  return negative ? -rounded : rounded;
}

// The storage types. Conversion from a floating value goes through double (exact from
// float), from a signed integer through int64_t, each rounded once; to float it is exact
// (and on to double or int64_t as float's own conversions go).
struct bfloat16 {
  uint16_t bits = 0;
  bfloat16() = default;
  MARGIN_HD explicit bfloat16(double value) : bits(bf16_bits(round_to_odd_float(value))) {}
  template <std::signed_integral Integer>
  MARGIN_HD explicit bfloat16(Integer value)
      : bits(bf16_bits(round_to_odd_float(static_cast<int64_t>(value)))) {}
  MARGIN_HD static bfloat16 from_bits(uint16_t bits) {
    bfloat16 b;
    b.bits = bits;
    return b;
  }
  MARGIN_HD operator float() const { return bf16_float(bits); }
};

struct float16 {
  uint16_t bits = 0;
  float16() = default;
  MARGIN_HD explicit float16(double value) : bits(fp16_bits(round_to_odd_float(value))) {}
  template <std::signed_integral Integer>
  MARGIN_HD explicit float16(Integer value)
      : bits(fp16_bits(round_to_odd_float(static_cast<int64_t>(value)))) {}
  MARGIN_HD static float16 from_bits(uint16_t bits) {
    float16 h;
    h.bits = bits;
    return h;
  }
  MARGIN_HD operator float() const { return fp16_float(bits); }
};

}  // namespace margin
