// core/atomic_file.h — writing a file so that a reader (or a crash) sees either the old file
// or the whole new one, never half of it: checkpoints, pairs files, model configs.
//
// The bytes go to "<path>.tmp", which is synced to disk and renamed over `path`; then the
// directory entry is synced too. On failure the temporary file is removed, the file at
// `path` is untouched, and margin::Error says which step failed: "<step> failed: <reason>"
// (callers prefix what they were writing).
#pragma once
#include <string>
#include <string_view>

namespace margin {

void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace margin
