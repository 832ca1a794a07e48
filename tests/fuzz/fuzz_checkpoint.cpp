// tests/fuzz/fuzz_checkpoint.cpp — train/checkpoint.h on an arbitrary file: read_checkpoint_state,
// and load_checkpoint into one fixed module (Linear 3→2 then BatchNorm1d(2): parameters and
// buffers), with and without an SGD optimizer (whose momentum buffers the file may or may not
// hold).
//
// A checkpoint ends in a CRC-32 of everything before it, so almost every mutated file stops
// at the checksum. Each input is therefore loaded twice: as it is (the header, length and
// checksum checks) and sealed — its body length field set to what follows the header and
// the checksum recomputed, as save_checkpoint would — so that the body's parser sees it.
// Seeds (corpus/checkpoint): save_checkpoint's files for this module, with and without the
// optimizer and with key/values (tests/fuzz/write_seeds.cpp).
#include <zlib.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/optim.h"
#include "fuzz_input.h"
#include "fuzz_module.h"
#include "train/checkpoint.h"

namespace {

// The body length at offset 12 and the CRC-32 in the last 4 bytes made consistent with the
// rest (train/checkpoint.h's layout); inputs shorter than header + checksum stay as they are.
std::vector<uint8_t> sealed(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  constexpr size_t kHeader = 20, kChecksum = 4;
  if (size < kHeader + kChecksum) return bytes;
  uint64_t body_length = size - kHeader - kChecksum;
  std::memcpy(bytes.data() + 12, &body_length, 8);
  uint32_t crc = static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), bytes.data(), static_cast<uInt>(size - kChecksum)));
  std::memcpy(bytes.data() + size - kChecksum, &crc, 4);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static margin::fuzz::CheckpointModule target;
  for (const std::vector<uint8_t>& bytes : {std::vector<uint8_t>(data, data + size), sealed(data, size)}) {
    const std::string& path = margin::fuzz::write_scratch(bytes.data(), bytes.size());
    margin::fuzz::refused([&] { margin::read_checkpoint_state(path); });
    margin::fuzz::refused([&] { margin::load_checkpoint(path, *target.model, nullptr); });
    margin::fuzz::refused([&] { margin::load_checkpoint(path, *target.model, &target.optimizer); });
  }
  return 0;
}
