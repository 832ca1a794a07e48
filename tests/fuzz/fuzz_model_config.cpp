// tests/fuzz/fuzz_model_config.cpp — train/face_model.h load_model_config on an arbitrary
// model.txt ("key = value" lines). Only the reader: building the network it describes is
// build_face_model's business.
// Seeds (corpus/model_config): save_model_config's model.txt of a small CNN and of an
// iresnet18 with a crop (tests/fuzz/write_seeds.cpp), and one written by hand with comments.
#include "fuzz_input.h"
#include "train/face_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = margin::fuzz::write_scratch(data, size);
  margin::fuzz::refused([&] { margin::load_model_config(path); });
  return 0;
}
