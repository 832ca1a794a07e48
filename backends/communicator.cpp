// backends/communicator.cpp — the single-process communicator and the choice of
// communicator (see communicator.h). The only place above backends/mpi and backends/cuda that
// knows whether margin was built with MPI or NCCL.
#include "backends/communicator.h"

#include <cstdlib>

#include "backends/backend.h"

namespace margin {

namespace {

// One rank: a gather or a scatter is a copy of the rank's own part, a reduction is nothing.
class SingleCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single"; }
  bool serves(Device) const override { return true; }
  void all_reduce(const View&, ReduceOp) override {}
  void all_gather(const View& mine, const View& all, std::span<const int64_t>) override {
    backend_for(mine.device).copy(mine, all);
  }
  void reduce_scatter(const View& all, const View& mine, std::span<const int64_t>) override {
    backend_for(all.device).copy(all, mine);
  }
  void broadcast(const View&, int) override {}
  void barrier() override {}
  void abort_job(int) override {}
};

// Started by mpirun (Open MPI sets OMPI_COMM_WORLD_SIZE; PMI launchers set PMI_SIZE).
bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr;
}

}  // namespace

namespace detail {
std::unique_ptr<Communicator> make_single_communicator() {
  return std::make_unique<SingleCommunicator>();
}
#ifndef MARGIN_MPI
std::unique_ptr<Communicator> make_mpi_communicator() {
  fail("this program was started by mpirun, but margin was built without MPI: install "
       "libopenmpi-dev and reconfigure (MARGIN_MPI is on by default when CMake finds MPI)");
}
#endif
#ifndef MARGIN_NCCL
std::unique_ptr<Communicator> make_nccl_communicator(Communicator&, Device device) {
  fail("training on ", device.str(), " with more than one process needs NCCL, and margin was "
       "built without it (configure with -DMARGIN_CUDA=ON where nccl.h is found)");
}
#endif
}  // namespace detail

bool mpi_built() {
#ifdef MARGIN_MPI
  return true;
#else
  return false;
#endif
}

bool nccl_built() {
#ifdef MARGIN_NCCL
  return true;
#else
  return false;
#endif
}

Communicator& world() {
  static std::unique_ptr<Communicator> job =
      launched_by_mpirun() ? detail::make_mpi_communicator() : detail::make_single_communicator();
  return *job;
}

Communicator& communicator_for(Device device) {
  Communicator& job = world();
  if (job.serves(device)) return job;
  static std::unique_ptr<Communicator> gpus = detail::make_nccl_communicator(job, device);
  if (!gpus->serves(device))
    fail("communicator_for: ", device.str(), " asked for, but this rank's NCCL communicator serves another GPU "
         "(one GPU per rank)");
  return *gpus;
}

Communicator& host_communicator(Communicator& comm) { return comm.serves(kCPU) ? comm : world(); }

Part even_part(int64_t n, int rank, int size) {
  const int64_t base = n / size, extra = n % size;
  return {.start = rank * base + std::min<int64_t>(rank, extra), .count = base + (rank < extra ? 1 : 0)};
}

}  // namespace margin
