// backends/cpu/memory.cpp — host memory, transfers, copies and fills.
#include <cstdlib>
#include <cstring>

#include "backends/caching_pool.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"
#include "backends/half.h"

namespace margin {
using namespace cpu;

namespace {

CachingPool& host_pool() {
  // Never destroyed: tensors in other static objects may be freed after main() returns.
  static CachingPool& pool = *new CachingPool(
      [](size_t bytes) {
        // 64-byte alignment lets Eigen and the compiler use aligned vector loads.
        void* block = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!block) fail("cpu allocate: out of memory asking for ", bytes, " bytes");
        return block;
      },
      [](void* block) { std::free(block); });
  return pool;
}

}  // namespace

void* CpuBackend::allocate(size_t bytes) { return host_pool().allocate(bytes); }
void CpuBackend::deallocate(void* ptr, size_t bytes) { host_pool().deallocate(ptr, bytes); }
size_t CpuBackend::system_allocations() const { return host_pool().system_allocations(); }
void CpuBackend::release_cached() { host_pool().release_cached(); }

// Every CPU kernel has finished when it returns.
void CpuBackend::synchronize() {}

// memcpy of n bytes; an empty tensor may have no storage at all, and memcpy's pointers must
// not be null even for 0 bytes.
static void copy_bytes(void* to, const void* from, size_t bytes) {
  if (bytes > 0) std::memcpy(to, from, bytes);
}

void CpuBackend::copy_from_host(const void* host, const View& dst) {
  copy_bytes(dst.data, host, dst.numel() * dtype_size(dst.dtype));
}

void CpuBackend::copy_to_host(const View& src, void* host) {
  copy_bytes(host, src.data, src.numel() * dtype_size(src.dtype));
}

void CpuBackend::copy(const View& src, const View& dst) {
  if (src.dtype == dst.dtype && src.is_contiguous() && dst.is_contiguous()) {
    copy_bytes(dst.data, src.data, dst.numel() * dtype_size(dst.dtype));
    return;
  }
  // float32 ↔ bfloat16, contiguous (the inputs ops keep for their backward under bf16
  // autocast, core/precision.h): loops that vectorize. A float rounds to bfloat16 in one
  // step, as through double (exact from float) in the general loop below.
  const int64_t n = dst.numel();
  if (src.is_contiguous() && dst.is_contiguous() && src.dtype == DType::F32 && dst.dtype == DType::BF16) {
    const float* in = src.ptr<float>();
    uint16_t* out = static_cast<uint16_t*>(dst.data);
#pragma omp parallel for if (worth_threads(n))
    for (int64_t i = 0; i < n; ++i) out[i] = bf16_bits(in[i]);
    return;
  }
  if (src.is_contiguous() && dst.is_contiguous() && src.dtype == DType::BF16 && dst.dtype == DType::F32) {
    const uint16_t* in = static_cast<const uint16_t*>(src.data);
    float* out = dst.ptr<float>();
#pragma omp parallel for if (worth_threads(n))
    for (int64_t i = 0; i < n; ++i) out[i] = bf16_float(in[i]);
    return;
  }
  RowWalk walk(dst.shape);
  dispatch_any(src.dtype, [&](auto s) {
    dispatch_any(dst.dtype, [&](auto d) {
      using S = decltype(s);
      using D = decltype(d);
      const S* from = src.ptr<S>();
      D* to = dst.ptr<D>();
      int64_t src_step = walk.col_stride(src.strides), dst_step = walk.col_stride(dst.strides);
#pragma omp parallel for if (worth_threads(dst.numel()))
      for (int64_t row = 0; row < walk.rows; ++row) {
        const S* in = from + walk.row_offset(row, src.strides);
        D* out = to + walk.row_offset(row, dst.strides);
        for (int64_t col = 0; col < walk.cols; ++col)
          out[col * dst_step] = static_cast<D>(in[col * src_step]);
      }
    });
  });
}

void CpuBackend::fill(const View& dst, double value) {
  dispatch_any(dst.dtype, [&](auto t) {
    using T = decltype(t);
    T* out = dst.ptr<T>();
    int64_t n = dst.numel();
#pragma omp parallel for if (worth_threads(n))
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(value);
  });
}

}  // namespace margin
