// train/checkpoint.h — saving and resuming training: the named parameters AND buffers of
// one or more modules (model, loss head), the SGD momentum buffers, and where training was
// (epoch, step, free string key/values such as a Generator's state()).
//
// File format, version 1 (every integer little-endian; margin refuses big-endian hosts):
//   offset  size   field
//   0       8      magic "MARGINCK"
//   8       4      u32 format version (1)
//   12      8      u64 body length L in bytes
//   20      L      body:
//                    i64 epoch, i64 step
//                    u32 pair count, then per pair: string key, string value
//                    u32 tensor count, then per tensor:
//                      string name, u8 dtype (0 float32, 1 float64, 2 int64, 3 bfloat16,
//                      4 float16: DType's values), u32 ndim,
//                      i64 size[ndim], the elements row-major (numel · dtype size bytes)
//                  (a string is a u32 byte count followed by the bytes, no terminator)
//   20 + L  4      u32 CRC-32 (zlib's crc32) of every byte before it
// Tensor names: "<prefix>.<dotted module name>" ("model.0.weight", "head.weight"; no dot
// when the prefix is empty) for parameters and buffers; "optimizer.velocity.<that name>"
// for the momentum buffer of each SGD parameter.
//
// Saving writes "<path>.tmp" in the same directory, fsyncs it, renames it over `path` and
// fsyncs the directory: a crash or a failed write leaves the previous file whole. (Two
// processes saving to one path at once would share the temporary: don't.)
// Loading checks everything before it writes anything: size, magic, version, checksum, each
// stored shape (at most 8 dimensions, none negative, a byte count that neither overflows nor
// runs past the body; errors name the tensor), then that the stored tensors are exactly the expected ones (no missing, no extra) with equal
// dtypes and shapes; only then are the values copied, in place, into the existing tensors
// (so every handle on them, the optimizer's included, sees the loaded values). Without an
// optimizer, stored velocities are ignored (loading a model to evaluate it).
// Left out: other optimizers' state, the SGD hyper-parameters (the caller rebuilds them),
// dtype conversion on load, partial loads.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/optim.h"
#include "layers/module.h"

namespace margin {

struct TrainingState {
  int64_t epoch = 0;
  int64_t step = 0;
  std::map<std::string, std::string> values;  // e.g. {"data_rng", generator.state()}
};

// A module and the prefix its tensor names get in the file.
struct NamedModule {
  std::string prefix;
  Module* module;
};

inline constexpr uint32_t kCheckpointVersion = 1;

void save_checkpoint(const std::string& path, const std::vector<NamedModule>& modules,
                     const SGD* optimizer, const TrainingState& state);
// `check_state`, when given, sees the stored TrainingState before any tensor is compared or
// loaded, and may refuse the file by throwing (the trainer refuses a Partial FC checkpoint of
// another number of ranks that way, before its shapes could mislead).
TrainingState load_checkpoint(const std::string& path, const std::vector<NamedModule>& modules,
                              SGD* optimizer,
                              const std::function<void(const TrainingState&)>& check_state = {});

// The first parameter or buffer of `modules` holding a NaN or an infinity, named as in a
// checkpoint ("<prefix>.<name>", no dot for an empty prefix), with that value; nullopt when
// every value is finite. A diverged model embeds every image as NaN: the trainer stops on
// one, and a model is refused on load.
struct NonFinite {
  std::string name;
  double value = 0;
};
std::optional<NonFinite> first_non_finite(const std::vector<NamedModule>& modules);

// The TrainingState alone (epoch, step, values), after the same checks of size, magic,
// version and checksum as load_checkpoint: what a program compares before it writes anything.
TrainingState read_checkpoint_state(const std::string& path);

// One module, names without a prefix.
void save_checkpoint(const std::string& path, Module& module, const SGD* optimizer,
                     const TrainingState& state);
TrainingState load_checkpoint(const std::string& path, Module& module, SGD* optimizer);

}  // namespace margin
