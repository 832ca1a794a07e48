// train/checkpoint.cpp — the checkpoint format of train/checkpoint.h: a byte writer and a
// bounds-checked reader, the atomic file write, and the validate-then-copy load. A stored
// shape is checked before its data is taken: at most 8 dimensions, none negative, the
// element and byte counts multiplied without overflow (core/checked.h) and no more than the
// body still holds.
#include "train/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "core/atomic_file.h"
#include "core/checked.h"

namespace margin {

static_assert(std::endian::native == std::endian::little,
              "the checkpoint format is little-endian and margin writes the host's bytes");

namespace {

constexpr char kMagic[8] = {'M', 'A', 'R', 'G', 'I', 'N', 'C', 'K'};
constexpr size_t kHeaderBytes = 8 + 4 + 8;  // magic, version, body length
constexpr size_t kChecksumBytes = 4;
constexpr uint32_t kMaxStoredRank = 8;  // more dimensions than any tensor margin saves

using Bytes = std::vector<char>;

uint32_t crc32_of(const char* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes a uInt length: feed very large buffers in pieces.
  while (size > 0) {
    uInt piece = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), piece);
    data += piece;
    size -= piece;
  }
  return static_cast<uint32_t>(crc);
}

// ---- writing ------------------------------------------------------------------------

template <class T>
void put(Bytes& out, T value) {
  const char* raw = reinterpret_cast<const char*>(&value);
  out.insert(out.end(), raw, raw + sizeof(T));
}

void put_string(Bytes& out, const std::string& text) {
  put<uint32_t>(out, static_cast<uint32_t>(text.size()));
  out.insert(out.end(), text.begin(), text.end());
}

void put_tensor(Bytes& out, const std::string& name, const Tensor& tensor) {
  put_string(out, name);
  put<uint8_t>(out, static_cast<uint8_t>(tensor.dtype()));
  put<uint32_t>(out, static_cast<uint32_t>(tensor.ndim()));
  for (int64_t size : tensor.shape()) put<int64_t>(out, size);
  Tensor data = tensor.detach().contiguous();
  size_t start = out.size();
  out.resize(start + data.numel() * dtype_size(data.dtype()));
  backend_for(data.device()).copy_to_host(data.view(), out.data() + start);
}

// ---- reading ------------------------------------------------------------------------

// Reads fields in order and fails, naming the file, on a read past the end.
class Reader {
 public:
  Reader(const std::string& path, const Bytes& bytes, size_t begin, size_t end)
      : path_(path), bytes_(bytes), at_(begin), end_(end) {}
  template <class T>
  T get(const char* what) {
    T value;
    std::memcpy(&value, take(sizeof(T), what), sizeof(T));
    return value;
  }
  std::string get_string(const char* what) {
    uint32_t size = get<uint32_t>(what);
    const char* data = take(size, what);
    return std::string(data, size);
  }
  const char* take(size_t count, const char* what) {
    if (count > end_ - at_)
      fail("load_checkpoint: '", path_, "' is corrupt: reading ", what, " needs ", count,
           " bytes at offset ", at_, " but the body ends at ", end_);
    const char* data = bytes_.data() + at_;
    at_ += count;
    return data;
  }
  bool done() const { return at_ == end_; }
  size_t left() const { return end_ - at_; }
  size_t at() const { return at_; }

 private:
  const std::string& path_;
  const Bytes& bytes_;
  size_t at_, end_;
};

struct StoredTensor {
  DType dtype;
  Shape shape;
  const char* data;  // into the file's bytes
};

// ---- what a set of modules and an optimizer hold, by name ---------------------------

std::string joined(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

const char* kVelocityPrefix = "optimizer.velocity.";

// Name → tensor for every parameter and buffer, then every velocity (when asked).
std::vector<std::pair<std::string, Tensor>> expected_tensors(
    const char* caller, const std::string& path, const std::vector<NamedModule>& modules,
    const SGD* optimizer) {
  std::vector<std::pair<std::string, Tensor>> entries;
  std::vector<std::pair<std::string, Tensor>> parameters;
  for (const NamedModule& named : modules) {
    if (named.module == nullptr) fail(caller, ": '", path, "': module '", named.prefix, "' is null");
    for (const Parameter& p : named.module->named_parameters()) {
      parameters.emplace_back(joined(named.prefix, p.name), p.value);
      entries.push_back(parameters.back());
    }
    for (const Parameter& b : named.module->named_buffers())
      entries.emplace_back(joined(named.prefix, b.name), b.value);
  }
  if (optimizer != nullptr) {
    const std::vector<Tensor>& params = optimizer->params();
    for (size_t i = 0; i < params.size(); ++i) {
      auto owner = std::find_if(parameters.begin(), parameters.end(),
                                [&](const auto& entry) { return entry.second.same(params[i]); });
      if (owner == parameters.end())
        fail(caller, ": '", path, "': SGD parameter ", i, " ", params[i].describe(),
             " belongs to none of the modules, so its velocity has no name");
      entries.emplace_back(kVelocityPrefix + owner->first, optimizer->velocities()[i]);
    }
  }
  std::set<std::string> seen;
  for (const auto& entry : entries)
    if (!seen.insert(entry.first).second)
      fail(caller, ": '", path, "': two tensors are both named '", entry.first,
           "' (give each module its own prefix)");
  return entries;
}

// ---- the atomic write ---------------------------------------------------------------

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("load_checkpoint: cannot open '", path, "': ", std::strerror(errno));
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string names(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& name : list) out += (out.empty() ? "'" : ", '") + name + "'";
  return out;
}

}  // namespace

void save_checkpoint(const std::string& path, const std::vector<NamedModule>& modules,
                     const SGD* optimizer, const TrainingState& state) {
  Bytes bytes(kMagic, kMagic + sizeof(kMagic));
  put<uint32_t>(bytes, kCheckpointVersion);
  put<uint64_t>(bytes, 0);  // body length, filled in below
  put<int64_t>(bytes, state.epoch);
  put<int64_t>(bytes, state.step);
  put<uint32_t>(bytes, static_cast<uint32_t>(state.values.size()));
  for (const auto& [key, value] : state.values) {
    put_string(bytes, key);
    put_string(bytes, value);
  }
  auto entries = expected_tensors("save_checkpoint", path, modules, optimizer);
  put<uint32_t>(bytes, static_cast<uint32_t>(entries.size()));
  for (const auto& [name, tensor] : entries) put_tensor(bytes, name, tensor);
  uint64_t body_length = bytes.size() - kHeaderBytes;
  std::memcpy(bytes.data() + 12, &body_length, sizeof(body_length));
  put<uint32_t>(bytes, crc32_of(bytes.data(), bytes.size()));
  try {
    write_file_atomically(path, std::string_view(bytes.data(), bytes.size()));
  } catch (const Error& e) {
    fail("save_checkpoint: cannot write '", path, "': ", e.what(), " (the previous file, if any, is untouched)");
  }
}

namespace {

// A checkpoint file read and checked (size, magic, version, checksum), its TrainingState read;
// the tensors start at byte `tensors_at` of `bytes` and the body ends at `body_end`.
struct OpenedCheckpoint {
  Bytes bytes;
  TrainingState state;
  size_t tensors_at = 0, body_end = 0;
};

OpenedCheckpoint open_checkpoint(const std::string& path) {
  OpenedCheckpoint opened{read_file(path), {}, 0, 0};
  const Bytes& bytes = opened.bytes;
  auto corrupt = [&](const auto&... why) { fail("load_checkpoint: '", path, "': ", why...); };
  if (bytes.size() < kHeaderBytes + kChecksumBytes)
    corrupt("truncated: ", bytes.size(), " bytes, shorter than the ",
            kHeaderBytes + kChecksumBytes, "-byte header and checksum");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    corrupt("bad magic: not a margin checkpoint (expected the file to start with \"MARGINCK\")");
  Reader header(path, bytes, sizeof(kMagic), kHeaderBytes);
  uint32_t version = header.get<uint32_t>("version");
  if (version != kCheckpointVersion)
    corrupt("unsupported format version ", version, " (this build reads version ",
            kCheckpointVersion, ")");
  uint64_t body_length = header.get<uint64_t>("body length");
  if (body_length > bytes.size())  // before the sum below, which could wrap around
    corrupt("truncated: ", bytes.size(), " bytes, the header announces a body of ", body_length);
  uint64_t expected_size = kHeaderBytes + body_length + kChecksumBytes;
  if (bytes.size() < expected_size)
    corrupt("truncated: ", bytes.size(), " bytes, the header announces ", expected_size);
  if (bytes.size() > expected_size)
    corrupt(bytes.size() - expected_size, " unexpected bytes after the checksum (", bytes.size(),
            " bytes, the header announces ", expected_size, ")");
  size_t body_end = kHeaderBytes + body_length;
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + body_end, sizeof(stored_crc));
  uint32_t actual_crc = crc32_of(bytes.data(), body_end);
  if (stored_crc != actual_crc)
    corrupt("checksum mismatch: the file says CRC-32 ", stored_crc, ", its bytes give ",
            actual_crc, " (the file is corrupted)");

  Reader body(path, bytes, kHeaderBytes, body_end);
  TrainingState& state = opened.state;
  state.epoch = body.get<int64_t>("epoch");
  state.step = body.get<int64_t>("step");
  uint32_t pairs = body.get<uint32_t>("key/value count");
  for (uint32_t i = 0; i < pairs; ++i) {
    std::string key = body.get_string("a key");
    state.values[key] = body.get_string("a value");
  }
  opened.tensors_at = body.at();
  opened.body_end = body_end;
  return opened;
}

}  // namespace

TrainingState read_checkpoint_state(const std::string& path) { return open_checkpoint(path).state; }

std::optional<NonFinite> first_non_finite(const std::vector<NamedModule>& modules) {
  for (const auto& [prefix, module] : modules) {
    std::vector<Parameter> tensors = module->named_parameters();
    for (Parameter& buffer : module->named_buffers()) tensors.push_back(std::move(buffer));
    for (const Parameter& tensor : tensors)
      for (double value : tensor.value.to_vector())
        if (!std::isfinite(value)) return NonFinite{joined(prefix, tensor.name), value};
  }
  return std::nullopt;
}

TrainingState load_checkpoint(const std::string& path, const std::vector<NamedModule>& modules,
                              SGD* optimizer, const std::function<void(const TrainingState&)>& check_state) {
  OpenedCheckpoint opened = open_checkpoint(path);
  const TrainingState& state = opened.state;
  auto corrupt = [&](const auto&... why) { fail("load_checkpoint: '", path, "': ", why...); };
  if (check_state) check_state(state);
  Reader body(path, opened.bytes, opened.tensors_at, opened.body_end);
  std::map<std::string, StoredTensor> stored;
  uint32_t tensors = body.get<uint32_t>("tensor count");
  for (uint32_t i = 0; i < tensors; ++i) {
    std::string name = body.get_string("a tensor name");
    uint8_t dtype_code = body.get<uint8_t>("a dtype");
    if (dtype_code > static_cast<uint8_t>(DType::F16))
      corrupt("tensor '", name, "' has unknown dtype code ", int(dtype_code),
              " (expected 0 float32, 1 float64, 2 int64, 3 bfloat16 or 4 float16)");
    StoredTensor entry{static_cast<DType>(dtype_code), {}, nullptr};
    uint32_t ndim = body.get<uint32_t>("a rank");
    if (ndim > kMaxStoredRank)
      corrupt("tensor '", name, "' has ", ndim, " dimensions (expected at most ", kMaxStoredRank, ")");
    for (uint32_t d = 0; d < ndim; ++d) entry.shape.push_back(body.get<int64_t>("a size"));
    for (uint32_t d = 0; d < ndim; ++d)
      if (entry.shape[d] < 0)
        corrupt("tensor '", name, "' has size ", entry.shape[d], " in dimension ", d, " of ",
                shape_str(entry.shape), " (expected sizes ≥ 0)");
    // The declared bytes, counted without overflow and compared with what the body still
    // holds before the data is taken.
    const std::string what = "load_checkpoint: '" + path + "': tensor '" + name + "'";
    int64_t numel = checked_product(entry.shape, what + " of shape " + shape_str(entry.shape));
    int64_t byte_count = checked_product({numel, static_cast<int64_t>(dtype_size(entry.dtype))},
                                         what + " of " + dtype_name(entry.dtype) + " values");
    if (static_cast<uint64_t>(byte_count) > body.left())
      corrupt("tensor '", name, "' ", dtype_name(entry.dtype), " ", shape_str(entry.shape), " needs ", byte_count,
              " bytes but only ", body.left(), " are left in the body");
    entry.data = body.take(static_cast<size_t>(byte_count), name.c_str());
    if (!stored.emplace(name, entry).second) corrupt("tensor '", name, "' is stored twice");
  }
  if (!body.done()) corrupt("bytes left over after the last tensor");

  // Everything is checked before anything is written: a failed load changes nothing.
  auto expected = expected_tensors("load_checkpoint", path, modules, optimizer);
  std::vector<std::string> missing, extra;
  std::set<std::string> expected_names;
  for (const auto& [name, tensor] : expected) {
    expected_names.insert(name);
    auto found = stored.find(name);
    if (found == stored.end()) {
      missing.push_back(name);
      continue;
    }
    if (found->second.dtype != tensor.dtype())
      corrupt("dtype mismatch for '", name, "': the file has ", dtype_name(found->second.dtype),
              ", the model has ", tensor.describe());
    if (found->second.shape != tensor.shape())
      corrupt("shape mismatch for '", name, "': the file has ", shape_str(found->second.shape),
              ", the model has ", shape_str(tensor.shape()));
    if (!tensor.is_contiguous())
      corrupt("'", name, "' ", tensor.describe(), " is not contiguous and cannot be loaded in place");
  }
  for (const auto& [name, entry] : stored) {
    bool velocity = name.rfind(kVelocityPrefix, 0) == 0;
    if (!expected_names.count(name) && !(velocity && optimizer == nullptr)) extra.push_back(name);
  }
  if (!missing.empty())
    corrupt("missing tensor(s) ", names(missing), " that the model expects");
  if (!extra.empty()) corrupt("unexpected tensor(s) ", names(extra), " that the model lacks");

  for (const auto& [name, tensor] : expected)
    backend_for(tensor.device()).copy_from_host(stored.at(name).data, tensor.view());
  return state;
}

void save_checkpoint(const std::string& path, Module& module, const SGD* optimizer,
                     const TrainingState& state) {
  save_checkpoint(path, std::vector<NamedModule>{{"", &module}}, optimizer, state);
}

TrainingState load_checkpoint(const std::string& path, Module& module, SGD* optimizer) {
  return load_checkpoint(path, std::vector<NamedModule>{{"", &module}}, optimizer);
}

}  // namespace margin
