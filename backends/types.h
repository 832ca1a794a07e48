// backends/types.h — the few plain types that every layer of margin shares:
// element types, devices, shapes and the strided View that kernels read and write.
//
// A View is a window on memory that belongs to someone else (a core Tensor's storage).
// Kernels never allocate or free what a View points at. Strides count elements, not bytes;
// a stride of 0 repeats an element (that is how broadcasting reaches the kernels).
#pragma once
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace margin {

// Every error margin raises: a message that names the operation, the shapes or the file,
// and what was expected. fail() builds it from pieces: fail("add: shapes ", a, " and ", b).
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw Error(message.str());
}

// float32 and float64 are the compute types: every floating kernel takes them. bfloat16 and
// float16 (backends/half.h) are storage types: copies and fills convert to and from them
// (rounding to nearest even), and a kernel refuses them: convert to float32 first, compute
// there, convert back. int64 holds labels and indices. The values are the checkpoint
// format's dtype codes (train/checkpoint.h): new ones go at the end.
enum class DType : uint8_t { F32, F64, I64, BF16, F16 };
size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", "float64", "int64", "bfloat16", "float16"
bool is_floating(DType dtype);        // float32 or float64: the dtypes kernels compute in
bool is_half(DType dtype);            // bfloat16 or float16: the 16-bit storage types
// Said after a dtype where float32 or float64 is expected: how to get there from a storage
// type (" (a storage type: convert with .to(DType::F32))"), else nothing.
const char* dtype_hint(DType dtype);

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device&) const = default;
  std::string str() const;  // "cpu", "cuda:0"
};
inline constexpr Device kCPU{DeviceType::CPU, 0};
// "cpu", "cuda" (cuda:0) or "cuda:N", as Device::str writes them and --device flags take them.
Device parse_device(const std::string& text);

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3]"

struct View {
  void* data = nullptr;
  DType dtype = DType::F32;
  Device device;
  Shape shape;
  Shape strides;

  int64_t numel() const { return shape_numel(shape); }
  int ndim() const { return static_cast<int>(shape.size()); }
  bool is_contiguous() const;
  template <class T>
  T* ptr() const { return static_cast<T*>(data); }
};

}  // namespace margin
