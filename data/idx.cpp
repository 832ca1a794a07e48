// data/idx.cpp — reading IDX files through zlib, with an error naming the file for every way
// the file can be wrong. See idx.h for the format and the order of the checks.
#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <exception>
#include <system_error>

#include "backends/types.h"
#include "core/checked.h"

namespace margin {

namespace {

// A file opened through zlib (gzip'd or plain), read front to back. Every error names the
// file; a gzip stream that is truncated or corrupt fails where zlib notices it.
class ZlibFile {
 public:
  explicit ZlibFile(const std::string& path) : path_(path) {
    if (!std::filesystem::exists(path)) fail("idx: ", path, ": no such file");
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) fail("idx: ", path, ": cannot open (", std::strerror(errno), ")");
    // gzopen reads a file without the gzip magic as plain bytes; a ".gz" file that is not
    // gzip is far more likely a mistake than a plain file, so say so.
    plain_ = gzdirect(file_) == 1;
    if (plain_ && path.ends_with(".gz")) {
      gzclose(file_);
      fail("idx: ", path, ": named .gz but is not gzip'd (no gzip header)");
    }
  }
  ~ZlibFile() { gzclose(file_); }
  ZlibFile(const ZlibFile&) = delete;
  ZlibFile& operator=(const ZlibFile&) = delete;

  bool plain() const { return plain_; }

  // Appends up to `count` bytes to `out`, fewer only where the data ends. `out` grows with
  // the bytes that really arrive, never by what a header merely declares.
  void read(std::vector<uint8_t>& out, int64_t count) {
    while (count > 0) {
      size_t start = out.size();
      unsigned piece = static_cast<unsigned>(std::min<int64_t>(count, 1 << 20));
      try {
        out.resize(start + piece);
      } catch (const std::exception&) {  // std::bad_alloc or std::length_error
        fail("idx: ", path_, ": out of memory after ", start, " bytes");
      }
      int got = gzread(file_, out.data() + start, piece);
      out.resize(start + std::max(got, 0));
      if (got > 0) read_so_far_ += got;
      if (got < static_cast<int>(piece)) {
        check_zlib();
        return;
      }
      count -= got;
    }
  }

 private:
  void check_zlib() {
    int zlib_error = Z_OK;
    std::string zlib_message = gzerror(file_, &zlib_error);
    if (zlib_error == Z_BUF_ERROR)
      fail("idx: ", path_, ": truncated gzip stream (ends after ", read_so_far_,
           " uncompressed bytes; zlib: ", zlib_message, ")");
    if (zlib_error != Z_OK)
      fail("idx: ", path_, ": corrupt gzip data after ", read_so_far_, " bytes (zlib: ", zlib_message, ")");
  }

  const std::string& path_;
  gzFile file_ = nullptr;
  bool plain_ = false;
  int64_t read_so_far_ = 0;  // uncompressed
};

// `count` bytes and one more, to see whether the data goes on (and, for gzip, to reach the
// end of the stream, where zlib checks the CRC).
int64_t one_more(int64_t count) { return count < std::numeric_limits<int64_t>::max() ? count + 1 : count; }

uint32_t big_endian_u32(const uint8_t* bytes) {
  return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | bytes[3];
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes) {
  ZlibFile file(path);
  std::vector<uint8_t> bytes;
  file.read(bytes, one_more(max_bytes));
  if (static_cast<int64_t>(bytes.size()) > max_bytes)
    fail("idx: ", path, ": longer than the limit of ", max_bytes, " bytes", file.plain() ? "" : " once gunzipped",
         " (read no further)");
  return bytes;
}

IdxArray read_idx(const std::string& path, uint32_t expected_magic) {
  ZlibFile file(path);
  std::vector<uint8_t> header;
  file.read(header, 4);
  if (header.size() < 4)
    fail("idx: ", path, ": truncated: ", header.size(), " bytes, too short for the magic number");
  uint32_t magic = big_endian_u32(header.data());
  if (magic != expected_magic)
    fail("idx: ", path, ": magic number ", magic, ", expected ", expected_magic,
         " (uint8 with ", expected_magic & 0xFF, " dims)");
  size_t ndims = magic & 0xFF;
  size_t header_bytes = 4 + 4 * ndims;
  file.read(header, static_cast<int64_t>(header_bytes - 4));
  if (header.size() < header_bytes)
    fail("idx: ", path, ": truncated: ", header.size(), " bytes, the header alone needs ", header_bytes);
  IdxArray array;
  for (size_t d = 0; d < ndims; ++d) array.dims.push_back(big_endian_u32(header.data() + 4 + 4 * d));
  const int64_t count = checked_product(array.dims, "idx: " + path + ": dims");

  // A plain file's size says how much data there is before anything is read.
  std::error_code no_size;
  uintmax_t file_size = std::filesystem::file_size(path, no_size);
  if (file.plain() && !no_size) {
    int64_t data_bytes = static_cast<int64_t>(file_size - header_bytes);
    if (data_bytes < count)
      fail("idx: ", path, ": truncated: ", data_bytes, " bytes of data for dims ", shape_str(array.dims),
           ", expected ", count);
    if (data_bytes > count)
      fail("idx: ", path, ": ", data_bytes - count, " bytes past the end of the data for dims ",
           shape_str(array.dims), " (expected exactly ", count, ")");
  }
  file.read(array.values, one_more(count));
  int64_t data_bytes = static_cast<int64_t>(array.values.size());
  if (data_bytes < count)
    fail("idx: ", path, ": truncated: ", data_bytes, " bytes of data for dims ", shape_str(array.dims),
         ", expected ", count);
  if (data_bytes > count)
    fail("idx: ", path, ": bytes past the declared ", count, " bytes of data for dims ", shape_str(array.dims),
         file.plain() ? " (the file goes on)" : " (the gzip stream inflates to more; read no further)");
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
