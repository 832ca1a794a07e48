// tests/cuda_emulator/runtime.cpp — the CUDA execution model and the runtime calls margin
// makes, on the CPU (see emulator.h for what the emulator is for and what it cannot show).
//
// Execution: a launch runs its blocks in order. Within a block every thread is a fiber, a
// function with its own small stack: the fibers run one at a time until each finishes or
// waits at a barrier (__syncthreads, or the warp barrier of a shuffle); a barrier opens when
// every thread it waits for has arrived, and the waiting fibers run on. A barrier that can
// never open (some threads finished or wait elsewhere) is a kernel bug on a GPU, a hang or
// worse, and an error here. Each warp runs ahead of the others as far as it can, and the
// order of the warps (and of the threads in a warp) flips at every __syncthreads, so a read
// of shared memory that a missing barrier leaves unordered is likely to see the wrong value
// and fail a test.
//
// Memory: cudaMalloc hands out host memory, filled with 0xFF bytes (NaN in float and double),
// so a kernel that reads what nobody wrote produces NaN rather than a plausible zero. Host
// code cannot touch it (it is mapped inaccessible outside device code; see below), and
// cudaMemcpy checks its direction and that the device side lies inside one allocation.
//
// Left out: streams, events, asynchrony (everything has finished when a call returns), more
// than one device, and any check of the addresses a kernel reads (they are plain pointers).
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/cuda_emulator/emulator.h"

// ---- switching stacks (x86-64 System V) ----
// cuda_emulator_switch(&save, next) pushes the registers a callee must preserve, stores the
// stack pointer in save, loads next and pops that stack's registers: it returns into whatever
// fiber (or the scheduler) last switched away from `next`. ucontext would do the same but
// makes a system call per switch (about 1 µs here); this is a few nanoseconds.
#if !defined(__x86_64__)
#error "the CUDA emulator switches fibers with x86-64 code; port cuda_emulator_switch first"
#endif
extern "C" void cuda_emulator_switch(void** save_stack, void* next_stack);
asm(R"(
  .text
  .globl cuda_emulator_switch
  .type cuda_emulator_switch, @function
cuda_emulator_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cuda_emulator_switch, .-cuda_emulator_switch
  .section .note.GNU-stack,"",@progbits
)");

namespace cuda_emulator {

thread_local uint3 thread_index, block_index;
thread_local dim3 block_dim, grid_dim;

namespace {

// What a fiber is doing when it is not running.
enum class State { Ready, AtBlockBarrier, AtWarpBarrier, Done };

const char* state_name(State state) {
  switch (state) {
    case State::Ready: return "running";
    case State::AtBlockBarrier: return "waiting at __syncthreads";
    case State::AtWarpBarrier: return "waiting at a warp shuffle";
    case State::Done: return "finished";
  }
  return "?";
}

// A stack with an inaccessible page below it, so an overflow faults instead of corrupting.
constexpr size_t kStackBytes = size_t(256) << 10;
const size_t kPageBytes = static_cast<size_t>(sysconf(_SC_PAGESIZE));

struct Fiber {
  char* memory = nullptr;  // guard page + stack
  void* stack_pointer = nullptr;
  State state = State::Ready;

  Fiber() {
    void* mapped = mmap(nullptr, kStackBytes + kPageBytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapped == MAP_FAILED) throw std::runtime_error("cuda emulator: no memory for a fiber stack");
    memory = static_cast<char*>(mapped);
    mprotect(memory, kPageBytes, PROT_NONE);
  }
  ~Fiber() {
    if (memory) munmap(memory, kStackBytes + kPageBytes);
  }
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;
};

// The block being run on this host thread.
struct BlockRun {
  const std::function<void()>* kernel = nullptr;
  std::vector<std::unique_ptr<Fiber>>* fibers = nullptr;
  unsigned threads = 0;
  unsigned current = 0;  // the running fiber
  void* scheduler_stack = nullptr;
  std::exception_ptr error;
  std::vector<uint64_t> slots;  // __shfl_down_sync's exchange
};
thread_local BlockRun* running = nullptr;

uint3 unflatten(unsigned linear, dim3 extent) {
  return uint3{linear % extent.x, (linear / extent.x) % extent.y, linear / (extent.x * extent.y)};
}

void resume(BlockRun& run, unsigned t) {
  run.current = t;
  thread_index = unflatten(t, block_dim);
  cuda_emulator_switch(&run.scheduler_stack, (*run.fibers)[t]->stack_pointer);
}

// Every fiber starts here, on its own stack, and ends by switching back for good.
[[noreturn]] void fiber_main() {
  BlockRun& run = *running;
  try {
    (*run.kernel)();
  } catch (...) {
    run.error = std::current_exception();
  }
  Fiber& self = *(*run.fibers)[run.current];
  self.state = State::Done;
  cuda_emulator_switch(&self.stack_pointer, run.scheduler_stack);
  __builtin_unreachable();
}

// Lays out a fresh stack as cuda_emulator_switch expects to find one: six saved registers,
// then the address to "return" to (fiber_main), then a dummy return address for fiber_main
// itself, placed so that fiber_main starts with the stack aligned as after a call.
void start_fiber(Fiber& fiber) {
  auto top = reinterpret_cast<uintptr_t>(fiber.memory + kPageBytes + kStackBytes);
  auto** stack = reinterpret_cast<void**>(top & ~uintptr_t(15));
  *--stack = nullptr;
  *--stack = reinterpret_cast<void*>(&fiber_main);
  for (int saved = 0; saved < 6; ++saved) *--stack = nullptr;
  fiber.stack_pointer = stack;
  fiber.state = State::Ready;
}

std::string describe_stuck(const BlockRun& run) {
  std::ostringstream text;
  text << "cuda emulator: a barrier can never open in block (" << block_index.x << ", "
       << block_index.y << ", " << block_index.z << ") of " << run.threads
       << " threads; on a GPU this kernel hangs or misbehaves:";
  const auto& fibers = *run.fibers;
  for (unsigned t = 0; t < run.threads;) {  // runs of threads in the same state
    unsigned end = t;
    while (end < run.threads && fibers[end]->state == fibers[t]->state) ++end;
    text << " threads " << t << "-" << end - 1 << " " << state_name(fibers[t]->state) << ";";
    t = end;
  }
  return text.str();
}

// Whether every thread in [begin, end) is in `state`; if so, they all become ready.
bool release_if_all(BlockRun& run, unsigned begin, unsigned end, State state) {
  auto& fibers = *run.fibers;
  for (unsigned t = begin; t < end; ++t)
    if (fibers[t]->state != state) return false;
  for (unsigned t = begin; t < end; ++t) fibers[t]->state = State::Ready;
  return true;
}

// Runs the threads of one warp, through its shuffles, until each has finished or waits at
// __syncthreads (or the warp is stuck, which the block-level check then reports).
void run_warp_ahead(BlockRun& run, unsigned begin, unsigned end, bool backwards) {
  do {
    for (unsigned i = begin; i < end; ++i) {
      unsigned t = backwards ? end - 1 - (i - begin) : i;
      if ((*run.fibers)[t]->state != State::Ready) continue;
      resume(run, t);
      if (run.error) std::rethrow_exception(run.error);
    }
  } while (release_if_all(run, begin, end, State::AtWarpBarrier));
}

// Warps run ahead of each other as far as the barriers let them, first to last and then last
// to first: a warp that reads what another writes without a barrier between them sees it
// too early in one of the two orders.
void run_block(BlockRun& run) {
  auto& fibers = *run.fibers;
  for (unsigned t = 0; t < run.threads; ++t) start_fiber(*fibers[t]);
  unsigned warps = (run.threads + 31) / 32;
  bool backwards = false;
  while (true) {
    for (unsigned i = 0; i < warps; ++i) {
      unsigned warp = backwards ? warps - 1 - i : i;
      run_warp_ahead(run, warp * 32, std::min(run.threads, warp * 32 + 32), backwards);
    }
    backwards = !backwards;
    bool all_done = std::all_of(fibers.begin(), fibers.begin() + run.threads,
                                [](const auto& f) { return f->state == State::Done; });
    if (all_done) return;
    if (!release_if_all(run, 0, run.threads, State::AtBlockBarrier))
      throw std::runtime_error(describe_stuck(run));
  }
}

void wait_at(State barrier) {
  if (!running) throw std::logic_error("cuda emulator: a barrier outside of a kernel");
  BlockRun& run = *running;
  Fiber& self = *(*run.fibers)[run.current];
  self.state = barrier;
  cuda_emulator_switch(&self.stack_pointer, run.scheduler_stack);
}

thread_local cudaError_t last_error = cudaSuccess;

}  // namespace

void sync_block() { wait_at(State::AtBlockBarrier); }

void sync_warp(unsigned mask) {
  if (mask != 0xffffffffu)
    throw std::runtime_error("cuda emulator: only full-warp masks (0xffffffff) are emulated");
  wait_at(State::AtWarpBarrier);
}

uint64_t* exchange_slots() { return running->slots.data(); }

void launch(dim3 grid, dim3 block, const std::function<void()>& kernel) {
  unsigned long long threads = 1ull * block.x * block.y * block.z;
  bool valid = grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.y <= 65535 && grid.z <= 65535 &&
               grid.x <= 0x7fffffffu && block.x >= 1 && block.y >= 1 && block.z >= 1 &&
               block.z <= 64 && threads <= 1024;
  if (!valid) {
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  if (running) throw std::logic_error("cuda emulator: a launch from inside a kernel");
  static thread_local std::vector<std::unique_ptr<Fiber>> fibers;
  while (fibers.size() < threads) fibers.push_back(std::make_unique<Fiber>());
  BlockRun run;
  run.kernel = &kernel;
  run.fibers = &fibers;
  run.threads = static_cast<unsigned>(threads);
  run.slots.assign(threads, 0);
  grid_dim = grid;
  block_dim = block;
  running = &run;
  DeviceCode device_code;
  try {
    unsigned long long blocks = 1ull * grid.x * grid.y * grid.z;
    for (unsigned long long b = 0; b < blocks; ++b) {
      block_index = unflatten(static_cast<unsigned>(b), grid);
      run_block(run);
    }
  } catch (...) {
    running = nullptr;
    throw;
  }
  running = nullptr;
}

// ---- device memory ----
// Each allocation is its own mapping, inaccessible except while device code runs: a kernel
// launch, a copy, a cuBLAS or cuDNN call (a DeviceCode scope). Device code's first touch of
// an allocation faults; the handler opens that allocation and the access runs again; the
// outermost scope closes what was opened when it ends. A touch from host code faults too,
// and the handler names the allocation and aborts: on a GPU that access would crash or read
// garbage, and here it would silently work.
namespace {

size_t mapped_size(size_t bytes) { return (bytes + kPageBytes - 1) / kPageBytes * kPageBytes; }

struct Allocations {
  std::mutex mutex;
  std::map<uintptr_t, size_t> live;  // start → bytes asked for

  // The allocation holding [p, p + bytes), or live.end().
  std::map<uintptr_t, size_t>::iterator holding(const void* p, size_t bytes) {
    auto address = reinterpret_cast<uintptr_t>(p);
    auto after = live.upper_bound(address);
    if (after == live.begin()) return live.end();
    auto candidate = std::prev(after);
    if (address + bytes > candidate->first + candidate->second) return live.end();
    return candidate;
  }
};

thread_local int device_code_depth = 0;
thread_local std::vector<std::pair<void*, size_t>> opened;  // mappings made accessible

void on_fault(int signal, siginfo_t* info, void*);

Allocations& allocations() {
  static Allocations* instance = new Allocations;  // outlives static tensors freed at exit
  return *instance;
}

// The SIGSEGV handler this one stands in front of (a test framework's, or the default).
struct sigaction previous_handler = {};

// Installs on_fault unless it is installed: called at every allocation and every outermost
// device-code scope, since a test framework may install its own handler per test case.
void ensure_fault_handler() {
  struct sigaction current = {};
  sigaction(SIGSEGV, nullptr, &current);
  if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_fault) return;
  struct sigaction action = {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, &previous_handler);
}

// The live allocation holding the byte at `p`: {start, bytes asked for}, or {0, 0}.
std::pair<uintptr_t, size_t> allocation_at(const void* p) {
  Allocations& a = allocations();
  std::lock_guard<std::mutex> lock(a.mutex);
  auto found = a.holding(p, 1);
  if (found == a.live.end()) return {0, 0};
  return {found->first, found->second};
}

// Makes an allocation accessible until the outermost DeviceCode scope ends.
void open_allocation(uintptr_t start, size_t bytes) {
  mprotect(reinterpret_cast<void*>(start), mapped_size(bytes), PROT_READ | PROT_WRITE);
  opened.emplace_back(reinterpret_cast<void*>(start), mapped_size(bytes));
}

void on_fault(int signal, siginfo_t* info, void*) {
  auto [start, bytes] = allocation_at(info->si_addr);
  if (bytes == 0 || (device_code_depth > 0 && opened.size() == opened.capacity())) {
    // Not device memory: the access faults again, and goes where it would have gone.
    sigaction(signal, &previous_handler, nullptr);
    return;
  }
  if (device_code_depth > 0) {
    open_allocation(start, bytes);
    return;
  }
  char message[256];
  int length = std::snprintf(message, sizeof message,
                             "cuda emulator: host code touched device memory at %p, inside the "
                             "%zu-byte cudaMalloc block at %p; on a GPU this crashes or reads "
                             "garbage (copy the tensor to the CPU first)\n",
                             info->si_addr, bytes, reinterpret_cast<void*>(start));
  if (write(STDERR_FILENO, message, static_cast<size_t>(length)) < 0) {}
  abort();
}

bool on_device(const void* p, size_t bytes) {
  Allocations& a = allocations();
  std::lock_guard<std::mutex> lock(a.mutex);
  return a.holding(p, bytes) != a.live.end();
}

cudaError_t invalid(const std::string& why) {
  std::fprintf(stderr, "cuda emulator: %s\n", why.c_str());
  return cudaErrorInvalidValue;
}

}  // namespace

DeviceCode::DeviceCode() {
  if (device_code_depth++ > 0) return;
  ensure_fault_handler();
  opened.reserve(4096);  // the fault handler must not allocate
}

void DeviceCode::open(const void* pointer) {
  auto [start, bytes] = allocation_at(pointer);
  if (bytes > 0) open_allocation(start, bytes);
}

DeviceCode::~DeviceCode() {
  if (--device_code_depth > 0) return;
  for (auto [start, size] : opened) mprotect(start, size, PROT_NONE);
  opened.clear();
}

void check_device_range(const void* pointer, size_t bytes, const char* what) {
  if (bytes == 0 || on_device(pointer, bytes)) return;
  std::ostringstream text;
  text << "cuda emulator: " << what << ": " << bytes << " bytes at " << pointer
       << " are not inside one device allocation";
  throw std::runtime_error(text.str());
}

}  // namespace cuda_emulator

using cuda_emulator::invalid;
using cuda_emulator::on_device;

extern "C" {

// Page-aligned (cudaMalloc promises 256 bytes), filled with 0xFF bytes (NaN), then closed.
cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  if (!pointer) return cudaErrorInvalidValue;
  *pointer = nullptr;
  if (bytes == 0) return cudaSuccess;
  auto& a = cuda_emulator::allocations();
  cuda_emulator::ensure_fault_handler();  // for host code touching this block from now on
  size_t size = cuda_emulator::mapped_size(bytes);
  void* block = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED) return cudaErrorMemoryAllocation;
  std::memset(block, 0xFF, size);
  mprotect(block, size, PROT_NONE);
  std::lock_guard<std::mutex> lock(a.mutex);
  a.live[reinterpret_cast<uintptr_t>(block)] = bytes;
  *pointer = block;
  return cudaSuccess;
}

cudaError_t cudaFree(void* pointer) {
  if (!pointer) return cudaSuccess;
  auto& a = cuda_emulator::allocations();
  std::lock_guard<std::mutex> lock(a.mutex);
  auto found = a.live.find(reinterpret_cast<uintptr_t>(pointer));
  if (found == a.live.end()) return invalid("cudaFree of a pointer cudaMalloc did not return");
  munmap(pointer, cuda_emulator::mapped_size(found->second));
  a.live.erase(found);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  bool src_device = on_device(src, bytes), dst_device = on_device(dst, bytes);
  bool want_src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  bool want_dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyHostToHost || kind == cudaMemcpyDefault) {
    want_src_device = src_device;
    want_dst_device = dst_device;
  }
  if (src_device != want_src_device || dst_device != want_dst_device) {
    std::ostringstream text;
    auto where = [](bool device) { return device ? "device memory" : "not device memory"; };
    text << "cudaMemcpy of " << bytes << " bytes, kind " << int(kind) << ": the source is "
         << where(src_device) << ", the destination " << where(dst_device)
         << " (device memory: inside one live cudaMalloc block)";
    return invalid(text.str());
  }
  cuda_emulator::DeviceCode copying;
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return cudaErrorInvalidValue;
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

cudaError_t cudaGetLastError() {
  cudaError_t error = cuda_emulator::last_error;
  cuda_emulator::last_error = cudaSuccess;
  return error;
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    default: return "unknown error";
  }
}

}  // extern "C"
