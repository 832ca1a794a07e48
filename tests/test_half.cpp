// tests/test_half.cpp — bfloat16 and float16 (backends/half.h) as storage dtypes, checked bit
// for bit: every 16-bit pattern survives widening and narrowing, narrowing rounds to nearest
// even at ties, at the overflow threshold, among the subnormals and from double (where rounding
// through float first would land on the wrong side of a tie), and a million random floats and
// doubles agree with an independent reference. Then the tensors: creation, conversion both
// ways on the default device, fills, printing, and ops refusing a storage dtype with what to do.
//
// The reference (reference_bits) knows nothing of half.h: it bisects over the 16-bit patterns
// for the two neighbours of |x|, reading each pattern's value with std::ldexp, and takes the
// nearer; a tie goes to the even pattern, and past the largest finite value the pattern after
// it (read as the next power of two, as if the exponent were unbounded) means infinity.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

#include "backends/half.h"
#include "gradcheck.h"

namespace margin {
namespace {

using testing::contains;
using testing::error_of;

struct Format {
  const char* name;
  int exponent_bits, mantissa_bits;
  uint16_t quiet_bit;
};
constexpr Format kBF16{"bfloat16", 8, 7, 0x0040};
constexpr Format kFP16{"float16", 5, 10, 0x0200};

uint16_t infinity_pattern(Format f) {
  return static_cast<uint16_t>(((1u << f.exponent_bits) - 1) << f.mantissa_bits);
}

// The value of a pattern without its sign bit; the infinity pattern reads as the power of two
// one binade past the largest finite value.
double decoded(Format f, uint32_t magnitude) {
  const int bias = (1 << (f.exponent_bits - 1)) - 1;
  const int exponent = static_cast<int>(magnitude >> f.mantissa_bits);
  const uint32_t mantissa = magnitude & ((1u << f.mantissa_bits) - 1);
  if (exponent == 0) return std::ldexp(mantissa, 1 - bias - f.mantissa_bits);  // subnormal
  return std::ldexp((1u << f.mantissa_bits) + mantissa, exponent - bias - f.mantissa_bits);
}

// The correctly rounded 16-bit pattern of a finite x (see the file header).
uint16_t reference_bits(Format f, double x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double magnitude = std::fabs(x);
  const uint32_t infinity = infinity_pattern(f);
  if (decoded(f, infinity) <= magnitude) return sign | infinity;
  uint32_t low = 0, high = infinity;  // decoded(low) ≤ magnitude < decoded(high)
  while (high - low > 1) {
    const uint32_t middle = (low + high) / 2;
    if (decoded(f, middle) <= magnitude)
      low = middle;
    else
      high = middle;
  }
  // Both neighbours have at most 12 significant bits: their midpoint is exact in double.
  const double midpoint = (decoded(f, low) + decoded(f, high)) / 2;
  const uint32_t nearest = magnitude < midpoint ? low : magnitude > midpoint ? high : (low % 2 == 0 ? low : high);
  return static_cast<uint16_t>(sign | nearest);
}

// What half.h gives, from float and from double.
uint16_t bits_from_float(Format f, float x) { return f.mantissa_bits == 7 ? bf16_bits(x) : fp16_bits(x); }
uint16_t bits_from_double(Format f, double x) {
  return f.mantissa_bits == 7 ? bfloat16(x).bits : float16(x).bits;
}
float widened(Format f, uint16_t bits) { return f.mantissa_bits == 7 ? bf16_float(bits) : fp16_float(bits); }

double p2(int exponent) { return std::ldexp(1.0, exponent); }

std::string hex(uint64_t bits) {
  std::ostringstream out;
  out << "0x" << std::hex << bits;
  return out.str();
}

// The parts written one after the other, as fail() joins a message.
template <class... Parts>
std::string joined(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

// Collects the first few mismatches of a long loop for one CHECK at its end.
struct Mismatches {
  int64_t count = 0;
  std::string first;
  template <class... Parts>
  void add(const Parts&... parts) {
    if (count++ < 8) first += joined(parts..., '\n');
  }
};

// Every pattern: widening is exact (against the reference reading of the bits), narrowing
// the widened value (from float and from double) gives the pattern back; a NaN stays NaN,
// quiet, with its sign (from float, with its payload too).
Mismatches round_trip_all_patterns(Format f) {
  Mismatches bad;
  for (uint32_t pattern = 0; pattern <= 0xffff; ++pattern) {
    const uint16_t bits = static_cast<uint16_t>(pattern), sign = bits & 0x8000;
    const uint16_t magnitude = bits & 0x7fff, infinity = infinity_pattern(f);
    const float value = widened(f, bits);
    const uint16_t from_float = bits_from_float(f, value), from_double = bits_from_double(f, value);
    if (magnitude > infinity) {
      const auto is_quiet_nan = [&](uint16_t b) {
        return (b & 0x7fff) > infinity && (b & f.quiet_bit) && (b & 0x8000) == sign;
      };
      if (!std::isnan(value) || std::signbit(value) != (sign != 0)) bad.add(hex(bits), " widens to ", value);
      if (from_float != (bits | f.quiet_bit)) bad.add(hex(bits), " from float gives ", hex(from_float));
      if (!is_quiet_nan(from_double)) bad.add(hex(bits), " from double gives ", hex(from_double));
      continue;
    }
    const double expected = magnitude == infinity ? std::numeric_limits<double>::infinity() : decoded(f, magnitude);
    if (static_cast<double>(value) != (sign ? -expected : expected) || std::signbit(value) != (sign != 0))
      bad.add(hex(bits), " widens to ", value);
    if (from_float != bits) bad.add(hex(bits), " from float gives ", hex(from_float));
    if (from_double != bits) bad.add(hex(bits), " from double gives ", hex(from_double));
  }
  return bad;
}

TEST_CASE("every bfloat16 bit pattern widens to float exactly and narrows back to itself") {
  Mismatches bad = round_trip_all_patterns(kBF16);
  INFO(bad.first);
  CHECK(bad.count == 0);
  for (uint32_t pattern = 0; pattern <= 0xffff; ++pattern)  // bfloat16 is the top half of a float
    if (float_bits(bf16_float(static_cast<uint16_t>(pattern))) != pattern << 16) bad.add(hex(pattern));
  INFO(bad.first);
  CHECK(bad.count == 0);
}

TEST_CASE("every float16 bit pattern widens to float exactly and narrows back to itself") {
  Mismatches bad = round_trip_all_patterns(kFP16);
  INFO(bad.first);
  CHECK(bad.count == 0);
}

// Each value, and its negative, narrowed from float and from double.
void check_rounds(Format f, double value, uint16_t expected) {
  for (double x : {value, -value}) {
    const uint16_t want = static_cast<uint16_t>(expected | (x < 0 ? 0x8000 : 0));
    CAPTURE(x);
    CHECK(hex(bits_from_float(f, static_cast<float>(x))) == hex(want));
    CHECK(hex(bits_from_double(f, x)) == hex(want));
  }
}

TEST_CASE("narrowing rounds to nearest at and just off ties, ties to the even pattern") {
  // bfloat16 around 1 (0x3f80): its ulp is 2^-7, ties at odd multiples of 2^-8.
  check_rounds(kBF16, 1 + p2(-8), 0x3f80);                  // tie: down to even 1.0
  check_rounds(kBF16, 1 + 3 * p2(-8), 0x3f82);              // tie: up to even 1 + 2^-6
  check_rounds(kBF16, 1 + p2(-8) + p2(-20), 0x3f81);        // just above a tie: 1 + 2^-7
  check_rounds(kBF16, 1 + p2(-8) - p2(-20), 0x3f80);        // just below
  check_rounds(kBF16, 1 + 3 * p2(-8) - p2(-20), 0x3f81);
  check_rounds(kBF16, 1 + 3 * p2(-8) + p2(-20), 0x3f82);
  // float16 around 1 (0x3c00): ulp 2^-10, ties at odd multiples of 2^-11.
  check_rounds(kFP16, 1 + p2(-11), 0x3c00);
  check_rounds(kFP16, 1 + 3 * p2(-11), 0x3c02);
  check_rounds(kFP16, 1 + p2(-11) + p2(-20), 0x3c01);
  check_rounds(kFP16, 1 + p2(-11) - p2(-20), 0x3c00);
  check_rounds(kFP16, 1 + 3 * p2(-11) - p2(-20), 0x3c01);
  check_rounds(kFP16, 1024 + 0.5, 0x6400);  // 1024 (0x6400): ulp 1, the tie 1024.5 stays
  check_rounds(kFP16, 1025 + 0.5, 0x6402);  // 1025.5 goes up to 1026
}

TEST_CASE("past the largest finite value narrowing gives infinity exactly where IEEE rounding does") {
  // float16: 65504 (0x7bff) is the largest; 65520, half an ulp above, is the tie to ∞.
  check_rounds(kFP16, 65504, 0x7bff);
  check_rounds(kFP16, 65520 - p2(-8), 0x7bff);  // 65519.996…, the float just below 65520
  check_rounds(kFP16, 65520, 0x7c00);
  check_rounds(kFP16, 1e10, 0x7c00);
  CHECK(hex(bits_from_double(kFP16, 65520 - p2(-30))) == hex(0x7bff));  // float(x) would be 65520
  // bfloat16: FLT_MAX is past the tie (2 − 2^-8) · 2^127; the largest float below that tie,
  // 0x7f7f7fff, still rounds down to the largest finite bfloat16 0x7f7f.
  check_rounds(kBF16, FLT_MAX, 0x7f80);
  check_rounds(kBF16, bits_float(0x7f7f7fffu), 0x7f7f);
  check_rounds(kBF16, bits_float(0x7f7f8000u), 0x7f80);  // the tie itself: 0x7f7f is odd
  CHECK(hex(bits_from_double(kBF16, (2 - p2(-8)) * p2(127) * (1 - p2(-40)))) == hex(0x7f7f));
  check_rounds(kBF16, 1e300, 0x7f80);  // beyond float: infinity too
  // Infinities map to infinities.
  const double infinity = std::numeric_limits<double>::infinity();
  check_rounds(kBF16, infinity, 0x7f80);
  check_rounds(kFP16, infinity, 0x7c00);
  CHECK(std::isinf(bf16_float(0xff80)));
  CHECK(fp16_float(0xfc00) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("subnormals are rounded to nearest even, not flushed") {
  // float16 subnormals are multiples of 2^-24 below 2^-14.
  check_rounds(kFP16, p2(-24), 0x0001);
  check_rounds(kFP16, p2(-25), 0x0000);             // tie between 0 and 2^-24: even 0
  check_rounds(kFP16, 1.5 * p2(-25), 0x0001);
  check_rounds(kFP16, 3 * p2(-25), 0x0002);         // tie between 1 and 2 ulps: even 2
  check_rounds(kFP16, p2(-14) - p2(-24), 0x03ff);   // the largest subnormal
  check_rounds(kFP16, p2(-14) - p2(-25), 0x0400);   // tie: carries into the smallest normal
  check_rounds(kFP16, p2(-25) + p2(-40), 0x0001);   // from double: just above the tie
  CHECK(fp16_float(0x0001) == static_cast<float>(p2(-24)));
  CHECK(fp16_float(0x03ff) == static_cast<float>(p2(-14) - p2(-24)));
  // bfloat16 keeps float's subnormals: multiples of 2^-133 below 2^-126.
  check_rounds(kBF16, p2(-133), 0x0001);
  CHECK(bf16_float(0x0001) == static_cast<float>(p2(-133)));
  check_rounds(kBF16, p2(-134), 0x0000);                // tie: even 0
  check_rounds(kBF16, p2(-134) + p2(-149), 0x0001);     // the float just above the tie
  check_rounds(kBF16, 3 * p2(-134), 0x0002);            // tie: even 2
  CHECK(hex(bits_from_double(kBF16, p2(-134) + p2(-160))) == hex(0x0001));  // below float's grid
  check_rounds(kBF16, 1e-300, 0x0000);                  // far below: zero, with its sign
}

TEST_CASE("from double the one rounding is correct where rounding through float first is not") {
  // 1 + 2^-8 + 2^-40 rounds to the float 1 + 2^-8, a bfloat16 tie that goes down to 1.0;
  // the value itself is above the tie and must go up.
  const double above_tie = 1 + p2(-8) + p2(-40);
  REQUIRE(bf16_bits(static_cast<float>(above_tie)) == 0x3f80);  // the trap is real
  CHECK(hex(bfloat16(above_tie).bits) == hex(0x3f81));
  CHECK(hex(bfloat16(-above_tie).bits) == hex(0xbf81));
  CHECK(hex(bfloat16(1 + 3 * p2(-8) - p2(-40)).bits) == hex(0x3f81));  // below a tie that rounds up
  const double above_half_tie = 1 + p2(-11) + p2(-40);
  REQUIRE(fp16_bits(static_cast<float>(above_half_tie)) == 0x3c00);
  CHECK(hex(float16(above_half_tie).bits) == hex(0x3c01));
  CHECK(hex(float16(-above_half_tie).bits) == hex(0xbc01));
  CHECK(hex(float16(1 + 3 * p2(-11) - p2(-40)).bits) == hex(0x3c01));
  // From int64 the same: 2^60 + 2^52 + 1 becomes the bfloat16 tie 2^60 + 2^52 in double.
  const int64_t big = (int64_t{1} << 60) + (int64_t{1} << 52) + 1;
  REQUIRE(bfloat16(static_cast<double>(big)).bits == 0x5d80);  // 2^60
  CHECK(hex(bfloat16(big).bits) == hex(0x5d81));                // 2^60 + 2^53
  CHECK(hex(bfloat16(-big).bits) == hex(0xdd81));
  CHECK(hex(bfloat16(std::numeric_limits<int64_t>::min()).bits) == hex(0xdf00));  // -2^63
  CHECK(hex(float16(int64_t{2049}).bits) == hex(0x6800));   // tie between 2048 and 2050
  CHECK(hex(float16(int64_t{65519}).bits) == hex(0x7bff));
  CHECK(hex(float16(int64_t{-65520}).bits) == hex(0xfc00));
  CHECK(hex(float16(int64_t{1} << 62).bits) == hex(0x7c00));
}

// A finite float pattern. Every other draw puts the exponent where the format's edges are
// (float16: its whole range and beyond, bfloat16: the subnormals and the overflow); the
// dropped bits are random, exactly a tie, or a tie ± 1.
uint32_t random_pattern(std::mt19937_64& gen, Format f, int64_t draw) {
  uint32_t bits = static_cast<uint32_t>(gen());
  uint32_t exponent = (bits >> 23) & 0xff;
  if (draw % 2 == 1) {
    const uint32_t pick = static_cast<uint32_t>(gen() % 48);
    exponent = f.mantissa_bits == 10 ? 98 + pick : (pick < 24 ? pick % 4 : 251 + pick % 4);
  } else if (exponent == 0xff) {
    exponent = static_cast<uint32_t>(gen() % 255);
  }
  bits = (bits & 0x807fffffu) | (exponent << 23);
  const uint32_t half = 1u << (22 - f.mantissa_bits), dropped = 2 * half - 1;
  switch ((draw / 2) % 4) {
    case 1: bits = (bits & ~dropped) | half; break;
    case 2: bits = (bits & ~dropped) | (half + 1); break;
    case 3: bits = (bits & ~dropped) | (half - 1); break;
    default: break;
  }
  return bits;
}

void check_against_reference(Format f) {
  std::mt19937_64 gen(20240611);
  Mismatches bad;
  const int64_t draws = 1000000;
  for (int64_t draw = 0; draw < draws; ++draw) {
    const float x = bits_float(random_pattern(gen, f, draw));
    const uint16_t expected = reference_bits(f, x);
    if (bits_from_float(f, x) != expected)
      bad.add("float ", hex(float_bits(x)), ": ", hex(bits_from_float(f, x)), ", reference ", hex(expected));
    if (bits_from_double(f, x) != expected)
      bad.add("double of float ", hex(float_bits(x)), ": ", hex(bits_from_double(f, x)), ", reference ", hex(expected));
    // The same value with 29 random bits below float's last: a double no float equals.
    uint64_t wide;
    const double widened_x = x;
    std::memcpy(&wide, &widened_x, sizeof wide);
    wide |= gen() & ((uint64_t{1} << 29) - 1);
    double y;
    std::memcpy(&y, &wide, sizeof y);
    const uint16_t expected_y = reference_bits(f, y);
    if (bits_from_double(f, y) != expected_y)
      bad.add("double ", hex(wide), ": ", hex(bits_from_double(f, y)), ", reference ", hex(expected_y));
  }
  const std::string report = joined(f.name, ": ", bad.first);
  INFO(report);
  CHECK(bad.count == 0);
}

TEST_CASE("a million random floats and doubles narrow to bfloat16 as the reference rounds them") {
  check_against_reference(kBF16);
}

TEST_CASE("a million random floats and doubles narrow to float16 as the reference rounds them") {
  check_against_reference(kFP16);
}

// ---- tensors ----------------------------------------------------------------------------

// A 16-bit tensor's bit patterns, row-major.
std::vector<uint16_t> bits_of(const Tensor& t) {
  REQUIRE(dtype_size(t.dtype()) == 2);
  Tensor host = t.detach().to(kCPU).contiguous();
  std::vector<uint16_t> bits(static_cast<size_t>(t.numel()));
  backend_for(kCPU).copy_to_host(host.view(), bits.data());
  return bits;
}

std::vector<std::string> hex_all(const std::vector<uint16_t>& bits) {
  std::vector<std::string> text;
  for (uint16_t b : bits) text.push_back(hex(b));
  return text;
}

TEST_CASE("from_vector in bfloat16 rounds each value once, and float32 reads the rounded values back") {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor t = Tensor::from_vector({1 + p2(-8), 1 + 3 * p2(-8), 1 + p2(-8) + p2(-40), -(1 + p2(-8) + p2(-20)),
                                  p2(-133), 3.4e38, 0.0, -0.0},
                                 {2, 4}, DType::BF16, default_device());
  CHECK(t.dtype() == DType::BF16);
  CHECK(t.device() == default_device());
  CHECK(dtype_size(DType::BF16) == 2);
  CHECK(hex_all(bits_of(t)) ==
        hex_all({0x3f80, 0x3f82, 0x3f81, 0xbf81, 0x0001, 0x7f80, 0x0000, 0x8000}));
  const std::vector<double> rounded{1, 1 + p2(-6), 1 + p2(-7), -(1 + p2(-7)), p2(-133), inf, 0, 0};
  Tensor wide = t.to(DType::F32);
  CHECK(wide.dtype() == DType::F32);
  CHECK(wide.to_vector() == rounded);
  CHECK(t.to_vector() == rounded);
  CHECK(std::signbit(t.to_vector()[7]));
}

TEST_CASE("to(float16) of a float32 tensor rounds each element and to(float32) gives those values back") {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = Tensor::from_vector({65504, 65520 - p2(-8), 65520, -65520, p2(-24), p2(-25), 1.5 * p2(-25), 3 * p2(-25),
                                  p2(-14) - p2(-25), 1 + p2(-11), 1 + 3 * p2(-11), -(1 + 3 * p2(-11))},
                                 {3, 4}, DType::F32, default_device());
  Tensor h = x.to(DType::F16);
  CHECK(h.dtype() == DType::F16);
  CHECK(hex_all(bits_of(h)) == hex_all({0x7bff, 0x7bff, 0x7c00, 0xfc00, 0x0001, 0x0000, 0x0001, 0x0002, 0x0400,
                                        0x3c00, 0x3c02, 0xbc02}));
  const std::vector<float> back{65504, 65504, inf, -inf, 0x1p-24f, 0, 0x1p-24f, 0x1p-23f, 0x1p-14f, 1, 1 + 0x1p-9f,
                                -(1 + 0x1p-9f)};
  std::vector<double> expected(back.begin(), back.end());
  CHECK(h.to(DType::F32).to_vector() == expected);
  // A strided source converts element by element; a strided 16-bit tensor copies as one.
  CHECK(hex_all(bits_of(x.t().to(DType::F16))) == hex_all(bits_of(h.t())));
  CHECK(h.t().to(DType::F32).to_vector() == x.t().to(DType::F16).to(DType::F32).to_vector());
}

TEST_CASE("to(bfloat16) of a float32 tensor rounds each element as bf16_bits does, and to(float32) widens them back") {
  // Ties, NaN, infinities, subnormals and the largest finite floats among random values, in a
  // tensor long enough to be converted by several threads, contiguous and strided.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> values{1 + 0x1p-8f, 1 + 3 * 0x1p-8f, -(1 + 0x1p-8f), inf, -inf, nan, 0x1p-133f,
                            0x1p-126f - 0x1p-149f, 3.4028235e38f, -3.4028235e38f, 0.0f, -0.0f};
  std::mt19937_64 gen(41);
  while (values.size() < 200000) values.push_back(bits_float(static_cast<uint32_t>(gen())));
  Tensor x = Tensor::from_vector(std::vector<double>(values.begin(), values.end()), {400, 500}, DType::F32,
                                 default_device());
  // what x holds (through double, a signalling NaN may have come back quiet)
  backend_for(kCPU).copy_to_host(x.to(kCPU).view(), values.data());
  Tensor b = x.to(DType::BF16);
  const std::vector<uint16_t> got = bits_of(b);
  size_t wrong = 0, first_wrong = 0;
  for (size_t i = 0; i < values.size(); ++i)
    if (got[i] != bf16_bits(values[i]) && wrong++ == 0) first_wrong = i;
  CAPTURE(hex(float_bits(values[first_wrong])));
  CHECK(wrong == 0);
  const std::vector<double> wide = b.to(DType::F32).to_vector();
  size_t unequal = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const float expected = bf16_float(bf16_bits(values[i]));
    if (!(wide[i] == expected || (std::isnan(wide[i]) && std::isnan(expected)))) ++unequal;
  }
  CHECK(unequal == 0);
  // a strided source converts element by element, to the same bits
  CHECK(bits_of(x.t().to(DType::BF16)) == bits_of(b.t()));
}

TEST_CASE("float64, int64, bfloat16 and float16 tensors convert into each other with one rounding") {
  // float64: the double-rounding trap, on the device.
  Tensor d = Tensor::from_vector({1 + p2(-8) + p2(-40), 1 + p2(-11) + p2(-40)}, {2}, DType::F64, default_device());
  CHECK(hex_all(bits_of(d.to(DType::BF16))) == hex_all({0x3f81, 0x3f80}));
  CHECK(hex_all(bits_of(d.to(DType::F16))) == hex_all({0x3c04, 0x3c01}));
  // int64 → bfloat16 → int64.
  const int64_t big = (int64_t{1} << 60) + (int64_t{1} << 52) + 1;
  Tensor i = Tensor::from_indices({big, -3, std::numeric_limits<int64_t>::min()}, {3}, default_device());
  Tensor b = i.to(DType::BF16);
  CHECK(hex_all(bits_of(b)) == hex_all({0x5d81, 0xc040, 0xdf00}));
  CHECK(b.to(DType::I64).to_indices() ==
        std::vector<int64_t>{(int64_t{1} << 60) + (int64_t{1} << 53), -3, std::numeric_limits<int64_t>::min()});
  // Between the two 16-bit types: 65504 is not a bfloat16 (it rounds to 65536), 1 + 2^-7 is a float16.
  Tensor h = Tensor::from_vector({65504, 1 + p2(-7)}, {2}, DType::F16, default_device());
  CHECK(hex_all(bits_of(h.to(DType::BF16))) == hex_all({0x4780, 0x3f81}));
  CHECK(hex_all(bits_of(h.to(DType::BF16).to(DType::F16))) == hex_all({0x7c00, 0x3c08}));
  // copy_ converts too.
  Tensor target = Tensor::zeros({2}, DType::BF16, default_device());
  target.copy_(d);
  CHECK(hex_all(bits_of(target)) == hex_all({0x3f81, 0x3f80}));
}

TEST_CASE("full, zeros and ones fill bfloat16 and float16 tensors with the rounded value") {
  CHECK(hex_all(bits_of(Tensor::full({5}, 1 + p2(-8) + p2(-40), DType::BF16, default_device()))) ==
        hex_all(std::vector<uint16_t>(5, 0x3f81)));
  CHECK(hex_all(bits_of(Tensor::full({2, 3}, 65520, DType::F16, default_device()))) ==
        hex_all(std::vector<uint16_t>(6, 0x7c00)));
  CHECK(hex_all(bits_of(Tensor::full({2}, -3 * p2(-25), DType::F16, default_device()))) ==
        hex_all({0x8002, 0x8002}));
  CHECK(hex_all(bits_of(Tensor::zeros({3}, DType::BF16, default_device()))) == hex_all({0, 0, 0}));
  CHECK(hex_all(bits_of(Tensor::ones({2}, DType::F16, default_device()))) == hex_all({0x3c00, 0x3c00}));
  CHECK(Tensor::scalar(2.5, DType::BF16, default_device()).item() == 2.5);
  // randn in a 16-bit dtype rounds the same draws as float64 does, once.
  Generator first(7), second(7);
  CHECK(hex_all(bits_of(Tensor::randn({64}, first, DType::BF16, default_device()))) ==
        hex_all(bits_of(Tensor::randn({64}, second, DType::F64, default_device()).to(DType::BF16))));
}

TEST_CASE("a printed bfloat16 tensor shows its dtype and its rounded values") {
  Tensor t = Tensor::from_vector({1 + p2(-7), -2.5, 65504}, {3}, DType::BF16, default_device());
  std::ostringstream out;
  out << t;
  const std::string device = default_device().str();
  CHECK(out.str() == joined("Tensor(bfloat16[3] on ", device, ", values=[1.00781, -2.5, 65536])"));
  CHECK(t.describe() == joined("bfloat16[3] on ", device));
  std::ostringstream half;
  half << Tensor::from_vector({0.1}, {1}, DType::F16, default_device());
  CHECK(half.str() == joined("Tensor(float16[1] on ", device, ", values=[0.0999756])"));
}

TEST_CASE("an op on a bfloat16 or float16 tensor is refused, saying to convert to float32") {
  Tensor a = Tensor::from_vector({1, 2}, {2}, DType::BF16, default_device());
  Tensor h = Tensor::from_vector({1, 2, 3, 4}, {2, 2}, DType::F16, default_device());
  // The ops name the operand and say what to do.
  CHECK(contains(error_of([&] { a + a; }), "bfloat16[2] on "));
  CHECK(contains(error_of([&] { a + a; }), "(a storage type: convert with .to(DType::F32))"));
  CHECK(contains(error_of([&] { matmul(h, h); }), "float16[2, 2]"));
  CHECK(contains(error_of([&] { matmul(h, h); }), ".to(DType::F32)"));
  CHECK(contains(error_of([&] { exp(h); }), "float16"));
  // The kernels, reached directly, say what to do.
  Backend& backend = backend_for(default_device());
  Tensor out = Tensor::empty({2}, DType::BF16, default_device());
  CHECK(error_of([&] { backend.binary(BinaryOp::Add, a.view(), a.view(), out.view()); }) ==
        "add: expected float32 or float64, got bfloat16 (a storage type: convert with .to(DType::F32))");
  Tensor h_out = Tensor::empty({2, 2}, DType::F16, default_device());
  CHECK(error_of([&] { backend.unary(UnaryOp::Exp, 0, 0, h.view(), h_out.view()); }) ==
        "exp: expected float32 or float64, got float16 (a storage type: convert with .to(DType::F32))");
  Tensor labels = Tensor::from_indices({1, 2}, {2}, default_device());
  CHECK(error_of([&] { backend.unary(UnaryOp::Exp, 0, 0, labels.view(), labels.view()); }) ==
        "exp: expected float32 or float64, got int64");
  CHECK(error_of([&] { a.requires_grad_(); }) ==
        joined("requires_grad_: only float32 and float64 tensors can require grad, got bfloat16[2] on ",
               default_device().str(), " (a storage type: convert with .to(DType::F32))"));
  // What the message says works: compute in float32, store the result.
  Tensor doubled = (a.to(DType::F32) + a.to(DType::F32)).to(DType::BF16);
  CHECK(hex_all(bits_of(doubled)) == hex_all({0x4000, 0x4080}));
}

TEST_CASE("a round trip through bfloat16 passes the gradient straight through") {
  Tensor x = Tensor::from_vector({1 + p2(-8) + p2(-20), -3}, {2}, DType::F32, default_device()).requires_grad_();
  Tensor y = x.to(DType::BF16).to(DType::F32);
  CHECK(y.to_vector() == std::vector<double>{1 + p2(-7), -3});
  sum(y * y).backward();
  CHECK(x.grad().dtype() == DType::F32);
  CHECK(x.grad().to_vector() == std::vector<double>{2 * (1 + p2(-7)), -6});
}

}  // namespace
}  // namespace margin
