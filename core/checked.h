// core/checked.h — sizes declared by a file, multiplied without overflow, and allocations for
// them that fail with a message instead of a bare std::bad_alloc.
//
//   int64_t count = checked_product({items, rows, columns}, "idx: " + path + ": dimensions");
//   std::vector<uint8_t> pixels = checked_vector<uint8_t>(count, "image " + path);
//
// A reader multiplies the sizes a header declares, compares the product with the bytes that
// are really there, and only then allocates. checked_product refuses a negative factor and a
// product above 2⁶³ − 1 (margin::Error naming `what` and the factors); checked_vector turns
// std::bad_alloc and std::length_error into a margin::Error naming `what` and the byte count.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "backends/types.h"

namespace margin {

namespace detail {
inline std::string factors_text(const int64_t* begin, const int64_t* end) {
  std::string text;
  for (const int64_t* f = begin; f != end; ++f) {
    if (f != begin) text += "×";
    text += std::to_string(*f);
  }
  return text;
}
}  // namespace detail

// The product of `count` factors; margin::Error naming `what` for a negative factor or an
// overflow of int64_t.
inline int64_t checked_product(const int64_t* factors, size_t count, std::string_view what) {
  bool zero = false;
  for (size_t i = 0; i < count; ++i) {
    if (factors[i] < 0)
      fail(what, ": negative size ", factors[i], " in ", detail::factors_text(factors, factors + count));
    zero = zero || factors[i] == 0;
  }
  if (zero) return 0;  // whatever the other factors
  int64_t product = 1;
  for (size_t i = 0; i < count; ++i) {
    if (product > std::numeric_limits<int64_t>::max() / factors[i])
      fail(what, ": ", detail::factors_text(factors, factors + count), " overflows a 64-bit count");
    product *= factors[i];
  }
  return product;
}

inline int64_t checked_product(std::initializer_list<int64_t> factors, std::string_view what) {
  return checked_product(factors.begin(), factors.size(), what);
}

inline int64_t checked_product(const std::vector<int64_t>& factors, std::string_view what) {
  return checked_product(factors.data(), factors.size(), what);
}

// A vector of `count` values; margin::Error naming `what` when memory runs out.
template <class T>
std::vector<T> checked_vector(int64_t count, std::string_view what) {
  if (count < 0) fail(what, ": negative element count ", count);
  try {
    return std::vector<T>(static_cast<size_t>(count));
  } catch (const std::bad_alloc&) {
    fail(what, ": out of memory allocating ", count, " values of ", sizeof(T), " bytes");
  } catch (const std::length_error&) {
    fail(what, ": ", count, " values of ", sizeof(T), " bytes is more than a vector can hold");
  }
}

}  // namespace margin
