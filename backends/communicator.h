// backends/communicator.h — the one list of collectives that training with more than one
// process uses, beside the kernel list (backend.h), with the same conventions: Views in,
// outputs assigned, shapes checked by the caller.
//
// A job is `size()` processes ("ranks", numbered 0 … size − 1) that run the same program and
// call the same collectives in the same order, each with its own Views. Three
// implementations:
//   single  one process (size 1): every collective is a copy or nothing. The default: nothing
//           that runs in one process needs MPI to build or run.
//   mpi     Open MPI (backends/mpi/), built when CMake finds MPI (-DMARGIN_MPI=ON by default
//           then), used when the program was started by mpirun. CPU memory.
//   nccl    NCCL between GPUs (backends/cuda/nccl_communicator.cpp), in the CUDA build where
//           CMake finds nccl.h; one GPU per rank, bootstrapped over MPI (ncclGetUniqueId on
//           rank 0, MPI_Bcast to the others). GPU memory of the rank's own device.
//
// Conventions, stated once:
//  * Every rank calls the same collectives in the same order with the same dtype and
//    counts; otherwise the job deadlocks or fails inside MPI/NCCL (nothing here can tell).
//  * float32, float64 and int64 (int64 for labels and the start-up checks; Max and Sum);
//    mpi and nccl refuse bfloat16 and float16 (convert to float32 first).
//  * `counts` lists how many elements each rank contributes, rank by rank (uneven allowed,
//    zero allowed); the big View is the ranks' parts concatenated in rank order.
//  * Views are contiguous and live where the communicator's memory is (cpu or cuda).
//  * Errors (a rank that died, a network failure) end the job through the engine: Open MPI's
//    mpirun stops the other ranks and names the one that failed. A rank that throws calls
//    abort_job (train/distributed.h report_failure does) so the others do not wait forever.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "backends/types.h"

namespace margin {

enum class ReduceOp { Sum, Max };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;  // "single", "mpi", "nccl"
  // Whether Views on `device` can be handed to this communicator: any device for single
  // (its collectives are copies), the CPU for mpi, the rank's own GPU for nccl.
  virtual bool serves(Device device) const = 0;

  // data ← op over the ranks of each rank's data (elementwise). In place, every rank the same.
  virtual void all_reduce(const View& data, ReduceOp op) = 0;
  // all ← the ranks' `mine` concatenated in rank order; mine has counts[rank()] elements, all
  // has Σ counts. Every rank receives the whole.
  virtual void all_gather(const View& mine, const View& all, std::span<const int64_t> counts) = 0;
  // mine ← the sum over ranks of each rank's `all`, restricted to this rank's part (the
  // counts[rank()] elements after Σ_{q<rank} counts[q]): the adjoint of all_gather.
  virtual void reduce_scatter(const View& all, const View& mine, std::span<const int64_t> counts) = 0;
  // data ← root's data on every rank.
  virtual void broadcast(const View& data, int root) = 0;
  // Returns once every rank has called it.
  virtual void barrier() = 0;
  // Ends every rank of the job with `code` (MPI_Abort); a single process just returns.
  virtual void abort_job(int code) = 0;
};

// The job this process belongs to, for CPU memory and for control (start-up checks, seeds):
// MPI when margin was built with it and the program was started by mpirun (Open MPI's
// OMPI_COMM_WORLD_SIZE, or PMI_SIZE, is in the environment), otherwise the single process.
// MPI is initialized on the first call and finalized at exit.
Communicator& world();
// The communicator for tensors on `device`: world() when it serves the device (the CPU, or any
// device in a single process not started by mpirun); otherwise, for this rank's GPU, NCCL
// (an error naming the build when margin has no NCCL). One GPU per process.
Communicator& communicator_for(Device device);
// The communicator for host values (row counts, fingerprints, totals) of a job that moves
// tensors with `comm`: comm itself when it moves CPU memory, else (NCCL) world().
Communicator& host_communicator(Communicator& comm);
// Whether this build can run more than one process (MPI found at configure time), and
// whether it can do so between GPUs (NCCL found in the CUDA build).
bool mpi_built();
bool nccl_built();

// The part of n items that rank r of `size` holds when split as evenly as possible, the
// first n mod size ranks one more (insightface's split of classes, and the loader's of rows).
struct Part {
  int64_t start = 0, count = 0;
};
Part even_part(int64_t n, int rank, int size);

namespace detail {
// Implementations, for world() and communicator_for (backends/communicator.cpp).
std::unique_ptr<Communicator> make_single_communicator();
std::unique_ptr<Communicator> make_mpi_communicator();             // MPI_Init here
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, Device device);
}  // namespace detail

}  // namespace margin
