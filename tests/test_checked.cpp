// tests/test_checked.cpp — core/checked.h: checked_product multiplies declared sizes exactly up
// to 2⁶³ − 1 and refuses an overflow or a negative factor, naming what was being counted;
// checked_vector turns an allocation that cannot succeed into a margin::Error naming it (the
// 2⁶²-byte case skips under AddressSanitizer, whose operator new aborts instead of throwing).
#include <cstdint>
#include <limits>
#include <new>

#include "core/checked.h"
#include "gradcheck.h"
#include "skip.h"

namespace margin {
namespace {

using testing::error_of;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUnderAddressSanitizer = true;
#else
constexpr bool kUnderAddressSanitizer = false;
#endif
#else
constexpr bool kUnderAddressSanitizer = false;
#endif

TEST_CASE("checked_product multiplies every factor, and the empty product is 1") {
  CHECK(checked_product({60000, 28, 28}, "images") == 47040000);
  CHECK(checked_product(std::vector<int64_t>{3, 5, 7}, "shape") == 105);
  CHECK(checked_product(std::vector<int64_t>{}, "scalar") == 1);
  CHECK(checked_product({kMax}, "one factor") == kMax);
}

TEST_CASE("checked_product reaches 2^63 - 1 exactly and refuses one more") {
  // 2⁶³ − 1 = 7² · 73 · 127 · 337 · 92737 · 649657.
  CHECK(checked_product({7, 7, 73, 127, 337, 92737, 649657}, "primes") == kMax);
  CHECK(checked_product({2, int64_t(1) << 61, 1}, "just below") == int64_t(1) << 62);
  CHECK(checked_product({3037000499, 3037000499}, "square") == 9223372030926249001);
  CHECK(error_of([] { checked_product({2, int64_t(1) << 62}, "dims"); }) ==
        "dims: 2×4611686018427387904 overflows a 64-bit count");
  CHECK(error_of([] { checked_product({3037000500, 3037000500}, "square"); }) ==
        "square: 3037000500×3037000500 overflows a 64-bit count");
  CHECK(error_of([] { checked_product({4294967295, 4294967295, 4294967295}, "idx: f: dims"); }) ==
        "idx: f: dims: 4294967295×4294967295×4294967295 overflows a 64-bit count");
}

TEST_CASE("checked_product refuses a negative factor, naming it and the factors") {
  CHECK(error_of([] { checked_product({3, -2, 4}, "tensor 'w'"); }) == "tensor 'w': negative size -2 in 3×-2×4");
  CHECK(error_of([] { checked_product(std::vector<int64_t>{-1}, "count"); }) == "count: negative size -1 in -1");
  // A zero before the negative factor does not hide it.
  CHECK(error_of([] { checked_product({0, -5}, "rows"); }) == "rows: negative size -5 in 0×-5");
}

TEST_CASE("a zero factor makes the product 0 whatever follows it") {
  CHECK(checked_product({0, kMax, kMax}, "empty") == 0);
  CHECK(checked_product({5, 0}, "empty") == 0);
  CHECK(checked_product({kMax, 0}, "empty") == 0);
  CHECK(checked_product({kMax, 2, 0}, "empty") == 0);  // the overflow of the first two is never reached
}

TEST_CASE("checked_vector turns the bad_alloc of 2^62 bytes into an error naming what (needs no AddressSanitizer)") {
  // AddressSanitizer's operator new ends the program instead of throwing bad_alloc.
  if (kUnderAddressSanitizer) return testing::skip("AddressSanitizer does not throw bad_alloc");
  // 2⁶² bytes: a valid vector size that no allocator can give. error_of catches margin::Error
  // alone: a bare bad_alloc fails the test.
  CHECK(error_of([] { checked_vector<uint64_t>(int64_t(1) << 59, "embeddings of huge.bin"); }) ==
        "embeddings of huge.bin: out of memory allocating 576460752303423488 values of 8 bytes");
}

TEST_CASE("checked_vector allocates what it can and refuses a count no vector can hold") {
  std::vector<float> small = checked_vector<float>(3, "three");
  CHECK(small.size() == 3);
  CHECK(small == std::vector<float>{0, 0, 0});
  CHECK(checked_vector<uint8_t>(0, "none").empty());

  // More elements than a vector can index: the length_error becomes a margin::Error too.
  CHECK(error_of([] { checked_vector<uint64_t>(kMax, "idx: f"); }) ==
        "idx: f: 9223372036854775807 values of 8 bytes is more than a vector can hold");
  CHECK(error_of([] { checked_vector<float>(-4, "rows"); }) == "rows: negative element count -4");
}

}  // namespace
}  // namespace margin
