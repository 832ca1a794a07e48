// tests/fuzz/fuzz_embeddings.cpp — train/face_eval.h load_embeddings on an arbitrary
// embeddings file (the embed tool's <out>.bin); what it returns must be [N, d] float32.
// Seeds (corpus/embeddings): save_embeddings' files of 3×4 and of 0×2 (tests/fuzz/write_seeds.cpp).
#include <cstdlib>

#include "fuzz_input.h"
#include "train/face_eval.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = margin::fuzz::write_scratch(data, size);
  margin::fuzz::refused([&] {
    margin::Tensor rows = margin::load_embeddings(path);
    if (rows.ndim() != 2 || rows.dtype() != margin::DType::F32 || 28 + rows.numel() * 4 != int64_t(size))
      std::abort();
  });
  return 0;
}
