// tests/fuzz/fuzz_pairs.cpp — eval/pairs.h read_pairs on an arbitrary file; a file it
// accepts must hold folds · 2 · per_fold pairs, each with a fold for 10-fold accuracy.
// Seeds (corpus/pairs): View 2's layout (2 folds of 2), View 1's (one count), "\r\n" ends.
#include <cstdlib>

#include "eval/pairs.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = margin::fuzz::write_scratch(data, size);
  margin::fuzz::refused([&] {
    margin::PairsFile pairs = margin::read_pairs(path);
    if (pairs.pairs.size() != size_t(pairs.folds * 2 * pairs.per_fold)) std::abort();
    for (size_t i = 0; i < pairs.pairs.size(); ++i) {
      pairs.fold_of(i);
      pairs.accuracy_fold_of(i);
    }
  });
  return 0;
}
