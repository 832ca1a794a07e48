// tests/fuzz/fuzz_idx.cpp — data/idx.h read_idx on an arbitrary file (plain or gzip'd: zlib
// reads both), as an images file (magic 0x0803, 3 dims) and as a labels file (0x0801, 1 dim).
// What it accepts must hold exactly product(dims) values, a product that does not overflow.
// Seeds (corpus/idx): a 2×3×2 images file, plain and gzip'd, and a labels file of 4.
#include <cstdlib>

#include "data/idx.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = margin::fuzz::write_scratch(data, size);
  for (uint32_t magic : {margin::kIdxImagesMagic, margin::kIdxLabelsMagic}) {
    margin::fuzz::refused([&] {
      margin::IdxArray array = margin::read_idx(path, magic);
      // An accepted file's dims multiply, without overflow, to the number of values.
      uint64_t count = 1;
      for (int64_t dim : array.dims)
        if (dim < 0 || __builtin_mul_overflow(count, uint64_t(dim), &count)) std::abort();
      if (array.dims.size() != (magic & 0xFF) || array.values.size() != count) std::abort();
    });
  }
  return 0;
}
