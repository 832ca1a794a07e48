// data/idx.h — a reader for IDX files, the format of MNIST and Fashion-MNIST: a big-endian
// magic number (two zero bytes, an element type, the number of dimensions), one uint32 per
// dimension, then the elements in row-major order.
//
// Files are read through zlib, which reads gzip'd and plain files alike. The header comes
// first: the magic, then the dimensions, multiplied without overflow (core/checked.h). Then
// the data, never more than the header declares plus one byte: a plain file's size is
// compared with the declared size before anything is read, and a gzip stream is inflated
// only that far, so a gzip bomb stops at the declared size ("bytes past the declared …").
// Memory grows with the bytes that arrive, not with what a header claims. Every problem
// (missing file, corrupt or truncated gzip, wrong magic, dimensions that overflow, too few or
// too many bytes) throws margin::Error naming the file. Left out: element types other than
// uint8, and writing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace margin {

struct IdxArray {
  std::vector<int64_t> dims;    // e.g. {60000, 28, 28}
  std::vector<uint8_t> values;  // product(dims) bytes, row-major
};

// The magic numbers of uint8 IDX files: 0x0803 (3 dims) for images, 0x0801 (1 dim) for labels.
inline constexpr uint32_t kIdxImagesMagic = 2051;
inline constexpr uint32_t kIdxLabelsMagic = 2049;

// All bytes of a file, gunzipped when it is gzip'd; more than `max_bytes` (gunzipped) is an
// error naming the file, found after reading max_bytes + 1 bytes and no more.
inline constexpr int64_t kReadFileMaxBytes = int64_t(1) << 32;
std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes = kReadFileMaxBytes);

// Reads an IDX file whose magic number must be `expected_magic` (uint8 elements).
IdxArray read_idx(const std::string& path, uint32_t expected_magic);

// Images N×H×W and labels N, checked against each other: the same N, and every label
// below `num_classes`. Errors name both files where the problem is between them.
struct IdxImagesAndLabels {
  IdxArray images;
  IdxArray labels;
};
IdxImagesAndLabels read_idx_images_and_labels(const std::string& images_path,
                                              const std::string& labels_path, int64_t num_classes);

}  // namespace margin
