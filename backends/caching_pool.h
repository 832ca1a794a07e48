// backends/caching_pool.h — a caching allocator: freed blocks are kept in per-size free
// lists and handed out again, so a steady-state training step (the same shapes every step)
// asks the system for no new memory. Fresh memory is expensive on both devices: on the CPU
// each new page faults and is zeroed by the kernel on first touch (that alone halved the
// speed of a 1024³ matmul that wrote into a new output each call); on a GPU cudaMalloc
// synchronizes the device.
//
// Sizes are rounded up (to 64 bytes up to 4 KiB, 512 bytes up to 1 MiB, then 1/8 of the size's power of two above 1 MiB, to
// bound waste at 12.5%), and a block is reused only for the same rounded size. Thread-safe
// (data-loader threads allocate too). Left out: splitting and merging blocks, streams.
#pragma once
#include <cstddef>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace margin {

class CachingPool {
 public:
  using RawAllocate = std::function<void*(size_t)>;
  using RawFree = std::function<void(void*)>;

  CachingPool(RawAllocate allocate, RawFree release)
      : raw_allocate_(std::move(allocate)), raw_free_(std::move(release)) {}
  ~CachingPool() { release_cached(); }

  static size_t round_size(size_t bytes) {
    if (bytes <= 4096) return (bytes + 63) / 64 * 64;
    if (bytes <= (size_t(1) << 20)) return (bytes + 511) / 512 * 512;
    size_t power = size_t(1) << 20;
    while (power < bytes) power <<= 1;
    size_t step = power / 8;
    return (bytes + step - 1) / step * step;
  }

  void* allocate(size_t bytes) {
    size_t size = round_size(bytes == 0 ? 1 : bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& free_list = free_[size];
      if (!free_list.empty()) {
        void* block = free_list.back();
        free_list.pop_back();
        cached_bytes_ -= size;
        return block;
      }
    }
    void* block = raw_allocate_(size);
    std::lock_guard<std::mutex> lock(mutex_);
    ++system_allocations_;
    return block;
  }

  void deallocate(void* block, size_t bytes) {
    if (!block) return;
    size_t size = round_size(bytes == 0 ? 1 : bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    free_[size].push_back(block);
    cached_bytes_ += size;
  }

  // Gives every cached (free) block back to the system.
  void release_cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* block : blocks) raw_free_(block);
    free_.clear();
    cached_bytes_ = 0;
  }

  // How many times the system allocator was asked (the steady-state check reads it).
  size_t system_allocations() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return system_allocations_;
  }
  size_t cached_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_bytes_;
  }

 private:
  RawAllocate raw_allocate_;
  RawFree raw_free_;
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_bytes_ = 0;
  size_t system_allocations_ = 0;
};

}  // namespace margin
