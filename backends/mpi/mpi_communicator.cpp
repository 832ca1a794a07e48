// backends/mpi/mpi_communicator.cpp — the communicator over Open MPI's MPI_COMM_WORLD, for
// tensors in CPU memory (see backends/communicator.h for the contracts).
//
// Each collective is the MPI call of the same name: MPI_Allreduce, MPI_Allgatherv,
// MPI_Reduce_scatter, MPI_Bcast, MPI_Barrier, MPI_Abort. MPI counts are int: a part of 2³¹
// elements or more is refused with an error rather than truncated.
// MPI is initialized when the communicator is made (the first world()) and finalized at exit;
// MPI_THREAD_FUNNELED: only the thread that made it calls MPI (OpenMP's workers never do).
#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <vector>

#include "backends/communicator.h"

namespace margin {

namespace {

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return MPI_FLOAT;
    case DType::F64: return MPI_DOUBLE;
    case DType::I64: return MPI_INT64_T;
    case DType::BF16:
    case DType::F16: break;
  }
  fail("mpi communicator: expected float32, float64 or int64, got ", dtype_name(dtype), dtype_hint(dtype));
}

int mpi_count(int64_t count, const char* what) {
  if (count < 0 || count > INT_MAX)
    fail("mpi communicator: ", what, " of ", count, " elements is outside MPI's int counts [0, ", INT_MAX, "]");
  return static_cast<int>(count);
}

void check_cpu(const View& view, const char* what) {
  if (view.device != kCPU)
    fail("mpi communicator: ", what, " is on ", view.device.str(), "; MPI moves CPU memory (GPUs use NCCL)");
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      std::atexit(finalize);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  bool serves(Device device) const override { return device == kCPU; }

  void all_reduce(const View& data, ReduceOp op) override {
    check_cpu(data, "all_reduce's data");
    MPI_Allreduce(MPI_IN_PLACE, data.data, mpi_count(data.numel(), "all_reduce"), mpi_type(data.dtype),
                  op == ReduceOp::Sum ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD);
  }

  void all_gather(const View& mine, const View& all, std::span<const int64_t> counts) override {
    check_cpu(mine, "all_gather's input");
    check_cpu(all, "all_gather's output");
    auto [sizes, offsets] = layout(counts);
    MPI_Allgatherv(mine.data, sizes[rank_], mpi_type(mine.dtype), all.data, sizes.data(), offsets.data(),
                   mpi_type(all.dtype), MPI_COMM_WORLD);
  }

  void reduce_scatter(const View& all, const View& mine, std::span<const int64_t> counts) override {
    check_cpu(all, "reduce_scatter's input");
    check_cpu(mine, "reduce_scatter's output");
    auto [sizes, offsets] = layout(counts);
    MPI_Reduce_scatter(all.data, mine.data, sizes.data(), mpi_type(all.dtype), MPI_SUM, MPI_COMM_WORLD);
  }

  void broadcast(const View& data, int root) override {
    check_cpu(data, "broadcast's data");
    MPI_Bcast(data.data, mpi_count(data.numel(), "broadcast"), mpi_type(data.dtype), root, MPI_COMM_WORLD);
  }

  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  void abort_job(int code) override { MPI_Abort(MPI_COMM_WORLD, code); }

 private:
  // MPI's int counts and displacements of the ranks' parts.
  std::pair<std::vector<int>, std::vector<int>> layout(std::span<const int64_t> counts) const {
    if (static_cast<int>(counts.size()) != size_)
      fail("mpi communicator: ", counts.size(), " counts for ", size_, " ranks");
    std::vector<int> sizes(size_), offsets(size_);
    int64_t offset = 0;
    for (int r = 0; r < size_; ++r) {
      sizes[r] = mpi_count(counts[r], "a rank's part");
      offsets[r] = mpi_count(offset, "an offset");
      offset += counts[r];
    }
    return {sizes, offsets};
  }

  static void finalize() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank_ = 0, size_ = 1;
};

}  // namespace

namespace detail {
std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }
}  // namespace detail

}  // namespace margin
