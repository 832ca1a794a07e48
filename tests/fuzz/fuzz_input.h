// tests/fuzz/fuzz_input.h — what every harness of tests/fuzz shares: the bytes libFuzzer
// hands over, written to a file when the reader under test takes a path, and the rule that
// margin::Error is the one expected outcome of a hostile file.
//
// Each harness is one reader: LLVMFuzzerTestOneInput gives it arbitrary bytes, and the reader
// must either return or throw margin::Error (backends/types.h fail). Anything else — another
// exception, a crash, an AddressSanitizer or UndefinedBehaviorSanitizer report, a leak, an
// allocation above libFuzzer's -malloc_limit_mb, a timeout — is a finding: it escapes to
// libFuzzer, which saves the input (tests/fuzz/README.md).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "backends/types.h"

namespace margin::fuzz {

// A file of this process's own (libFuzzer's -fork and -jobs run several processes at once),
// $TMPDIR/margin-fuzz-<pid>.input; removed when the process exits normally.
inline const std::string& scratch_path() {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("margin-fuzz-" + std::to_string(::getpid()) + ".input")).string();
  static const bool cleanup = [] { return std::atexit([] { std::remove(path.c_str()); }) == 0; }();
  (void)cleanup;
  return path;
}

// Writes the input to the scratch file, replacing what the previous input left.
inline const std::string& write_scratch(const uint8_t* data, size_t size) {
  const std::string& path = scratch_path();
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr || (size > 0 && std::fwrite(data, 1, size, file) != size) || std::fclose(file) != 0) {
    std::perror(path.c_str());
    std::abort();  // the harness's own failure, not the reader's: stop rather than fuzz nothing
  }
  return path;
}

// Runs `read`; margin::Error is a refusal, the expected answer to a bad file. Whether it
// refused is returned for harnesses that go on with what was read.
template <class Read>
bool refused(Read&& read) {
  try {
    read();
    return false;
  } catch (const Error&) {
    return true;
  }
}

}  // namespace margin::fuzz
