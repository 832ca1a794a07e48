// data/idx.cpp — reading IDX files through zlib, with an error naming the file for every way
// the file can be wrong. See idx.h for the format.
#include "data/idx.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "backends/types.h"

namespace margin {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  if (!std::filesystem::exists(path)) fail("idx: ", path, ": no such file");
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) fail("idx: ", path, ": cannot open (", std::strerror(errno), ")");
  // gzopen reads a file without the gzip magic as plain bytes; a ".gz" file that is not gzip
  // is far more likely a mistake than a plain file, so say so.
  bool is_plain = gzdirect(file) == 1;
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> chunk(1 << 20);
  while (true) {
    int got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (got <= 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
  }
  int zlib_error = Z_OK;
  std::string zlib_message = gzerror(file, &zlib_error);
  gzclose(file);
  if (zlib_error == Z_BUF_ERROR)
    fail("idx: ", path, ": truncated gzip stream (ends after ", bytes.size(),
         " uncompressed bytes; zlib: ", zlib_message, ")");
  if (zlib_error != Z_OK)
    fail("idx: ", path, ": corrupt gzip data after ", bytes.size(), " bytes (zlib: ", zlib_message, ")");
  if (is_plain && path.ends_with(".gz"))
    fail("idx: ", path, ": named .gz but is not gzip'd (no gzip header)");
  return bytes;
}

static uint32_t big_endian_u32(const uint8_t* bytes) {
  return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | bytes[3];
}

IdxArray read_idx(const std::string& path, uint32_t expected_magic) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  if (bytes.size() < 4)
    fail("idx: ", path, ": truncated: ", bytes.size(), " bytes, too short for the magic number");
  uint32_t magic = big_endian_u32(bytes.data());
  if (magic != expected_magic)
    fail("idx: ", path, ": magic number ", magic, ", expected ", expected_magic,
         " (uint8 with ", expected_magic & 0xFF, " dims)");
  size_t ndims = magic & 0xFF;
  size_t header_bytes = 4 + 4 * ndims;
  if (bytes.size() < header_bytes)
    fail("idx: ", path, ": truncated: ", bytes.size(), " bytes, the header alone needs ", header_bytes);
  IdxArray array;
  int64_t count = 1;
  for (size_t d = 0; d < ndims; ++d) {
    int64_t size = big_endian_u32(bytes.data() + 4 + 4 * d);
    array.dims.push_back(size);
    count *= size;
  }
  int64_t data_bytes = static_cast<int64_t>(bytes.size() - header_bytes);
  if (data_bytes < count)
    fail("idx: ", path, ": truncated: ", data_bytes, " bytes of data for dims ", shape_str(array.dims),
         ", expected ", count);
  if (data_bytes > count)
    fail("idx: ", path, ": ", data_bytes - count, " bytes past the end of the data for dims ",
         shape_str(array.dims), " (expected exactly ", count, ")");
  array.values.assign(bytes.begin() + header_bytes, bytes.end());
  return array;
}

IdxImagesAndLabels read_idx_images_and_labels(const std::string& images_path,
                                              const std::string& labels_path, int64_t num_classes) {
  IdxImagesAndLabels pair{read_idx(images_path, kIdxImagesMagic), read_idx(labels_path, kIdxLabelsMagic)};
  int64_t image_count = pair.images.dims[0], label_count = pair.labels.dims[0];
  if (image_count != label_count)
    fail("idx: ", images_path, " holds ", image_count, " images but ", labels_path, " holds ",
         label_count, " labels (expected the same count)");
  for (int64_t i = 0; i < label_count; ++i)
    if (pair.labels.values[i] >= num_classes)
      fail("idx: ", labels_path, ": label ", int(pair.labels.values[i]), " at index ", i,
           " is out of range (expected 0..", num_classes - 1, ")");
  return pair;
}

}  // namespace margin
