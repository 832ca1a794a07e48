// tests/test_dist_collectives.cpp — each collective of the communicator (backends/communicator.h)
// against answers computed by hand from the ranks' inputs. ctest runs this file in one process
// and under mpirun with 2 and 3 ranks (CMakeLists.txt); rank r contributes values made from r,
// so every rank can compute what every other rank sent.
#include <doctest/doctest.h>

#include <numeric>

#include "backends/backend.h"
#include "backends/communicator.h"
#include "core/tensor.h"
#include "skip.h"

using namespace margin;

namespace {

Tensor cpu_tensor(const std::vector<double>& values, DType dtype) {
  return dtype == DType::I64 ? Tensor::from_indices(std::vector<int64_t>(values.begin(), values.end()),
                                                    {static_cast<int64_t>(values.size())}, kCPU)
                             : Tensor::from_vector(values, {static_cast<int64_t>(values.size())}, dtype, kCPU);
}

std::vector<double> values_of(const Tensor& t) {
  if (t.dtype() != DType::I64) return t.to_vector();
  std::vector<int64_t> v = t.to_indices();
  return {v.begin(), v.end()};
}

// Rank r's input: 3 values, r + 1, 10·(r + 1), −r.
std::vector<double> input_of(int rank) { return {rank + 1.0, 10.0 * (rank + 1), -1.0 * rank}; }

}  // namespace

TEST_CASE("even_part splits n items with the first n mod size parts one longer") {
  CHECK(even_part(10, 0, 3).start == 0);
  CHECK(even_part(10, 0, 3).count == 4);
  CHECK(even_part(10, 1, 3).start == 4);
  CHECK(even_part(10, 1, 3).count == 3);
  CHECK(even_part(10, 2, 3).start == 7);
  CHECK(even_part(10, 2, 3).count == 3);
  CHECK(even_part(2, 2, 3).count == 0);
  CHECK(even_part(2, 2, 3).start == 2);
}

TEST_CASE("all_reduce sums and maxes every element over the ranks, in each dtype") {
  Communicator& comm = world();
  const int n = comm.size();
  for (DType dtype : {DType::F32, DType::F64, DType::I64}) {
    CAPTURE(dtype_name(dtype));
    Tensor sum = cpu_tensor(input_of(comm.rank()), dtype), max = cpu_tensor(input_of(comm.rank()), dtype);
    comm.all_reduce(sum.view(), ReduceOp::Sum);
    comm.all_reduce(max.view(), ReduceOp::Max);
    // Σ_r (r + 1) = n(n + 1)/2, Σ_r 10(r + 1), Σ_r −r = −n(n − 1)/2; max: n, 10n, 0.
    CHECK(values_of(sum) == std::vector<double>{n * (n + 1) / 2.0, 10.0 * n * (n + 1) / 2, -n * (n - 1) / 2.0});
    CHECK(values_of(max) == std::vector<double>{1.0 * n, 10.0 * n, 0.0});
  }
}

TEST_CASE("all_gather concatenates uneven parts in rank order, an empty part included") {
  Communicator& comm = world();
  const int n = comm.size();
  // Rank r sends r elements (rank 0 none) of value 100·r + i.
  std::vector<int64_t> counts(n);
  std::iota(counts.begin(), counts.end(), 0);
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  std::vector<double> expected;
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < r; ++i) expected.push_back(100.0 * r + i);
  for (DType dtype : {DType::F32, DType::F64, DType::I64}) {
    CAPTURE(dtype_name(dtype));
    std::vector<double> mine;
    for (int i = 0; i < comm.rank(); ++i) mine.push_back(100.0 * comm.rank() + i);
    Tensor part = mine.empty() ? Tensor::empty({0}, dtype, kCPU) : cpu_tensor(mine, dtype);
    Tensor all = Tensor::empty({total}, dtype, kCPU);
    comm.all_gather(part.view(), all.view(), counts);
    CHECK(values_of(all) == expected);
  }
}

TEST_CASE("reduce_scatter gives each rank the sum over ranks of its own part") {
  Communicator& comm = world();
  const int n = comm.size();
  // Parts of 2, 1, 3, 2, 1, 3, … elements; rank q's input at position i is q·1000 + i.
  std::vector<int64_t> counts(n);
  for (int r = 0; r < n; ++r) counts[r] = 1 + (r + 1) % 3;
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  const int64_t start = std::accumulate(counts.begin(), counts.begin() + comm.rank(), int64_t{0});
  for (DType dtype : {DType::F32, DType::F64, DType::I64}) {
    CAPTURE(dtype_name(dtype));
    std::vector<double> input(total);
    for (int64_t i = 0; i < total; ++i) input[i] = comm.rank() * 1000.0 + i;
    Tensor all = cpu_tensor(input, dtype), mine = Tensor::empty({counts[comm.rank()]}, dtype, kCPU);
    comm.reduce_scatter(all.view(), mine.view(), counts);
    // Σ_q (1000 q + i) = 1000 · n(n − 1)/2 + n · i.
    std::vector<double> expected;
    for (int64_t i = start; i < start + counts[comm.rank()]; ++i) expected.push_back(1000.0 * n * (n - 1) / 2 + n * i);
    CHECK(values_of(mine) == expected);
  }
}

TEST_CASE("broadcast copies the root's data to every rank, and barrier returns on every rank") {
  Communicator& comm = world();
  const int root = comm.size() - 1;
  for (DType dtype : {DType::F32, DType::F64, DType::I64}) {
    CAPTURE(dtype_name(dtype));
    Tensor data = cpu_tensor(input_of(comm.rank()), dtype);
    comm.broadcast(data.view(), root);
    CHECK(values_of(data) == input_of(root));
  }
  comm.barrier();
  CHECK(comm.rank() < comm.size());
}

// The same collectives on float32 GPU tensors, rank r on cuda:r (one GPU per rank). Started by
// mpirun, communicator_for gives NCCL, also with one rank (bench/gpu_check.sh runs this case
// under mpirun -np 1); in one process without mpirun it gives world(), the single process.
TEST_CASE("nccl: each collective on the GPU equals the MPI answer (needs a CUDA device)") {
  if (!device_available(Device{DeviceType::CUDA, 0})) return testing::skip("no CUDA device");
  if (world().size() > 1 && !nccl_built()) return testing::skip("margin was built without NCCL");
  const int n = world().size(), rank = world().rank();
  // Every rank sees the same GPUs, so every rank skips alike.
  if (!device_available(Device{DeviceType::CUDA, n - 1}))
    return testing::skip(std::to_string(n) + " ranks need one CUDA device each");
  const Device gpu{DeviceType::CUDA, rank};
  Communicator& comm = communicator_for(gpu);
  REQUIRE(comm.serves(gpu));
  REQUIRE(comm.size() == n);
  REQUIRE(comm.rank() == rank);
  MESSAGE("communicator ", comm.name(), ", rank ", rank, " of ", n, " on ", gpu.str());
  auto on_gpu = [&](const std::vector<double>& values) {
    return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}, DType::F32, gpu);
  };
  auto values_on_cpu = [](const Tensor& t) { return t.to(kCPU).to_vector(); };

  Tensor sum = on_gpu(input_of(rank)), max = on_gpu(input_of(rank));
  comm.all_reduce(sum.view(), ReduceOp::Sum);
  comm.all_reduce(max.view(), ReduceOp::Max);
  CHECK(values_on_cpu(sum) == std::vector<double>{n * (n + 1) / 2.0, 10.0 * n * (n + 1) / 2, -n * (n - 1) / 2.0});
  CHECK(values_on_cpu(max) == std::vector<double>{1.0 * n, 10.0 * n, 0.0});

  // Rank r's part has r + 1 elements (uneven: NCCL's grouped broadcasts and reductions), then
  // 2 on every rank (ncclAllGather and ncclReduceScatter).
  std::vector<int64_t> uneven(n), equal(n, 2);
  std::iota(uneven.begin(), uneven.end(), int64_t{1});
  for (const std::vector<int64_t>& counts : {uneven, equal}) {
    CAPTURE(counts[0]);
    const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t{0});
    const int64_t start = std::accumulate(counts.begin(), counts.begin() + rank, int64_t{0});
    // all_gather: rank r sends 100·r + i, i < counts[r].
    std::vector<double> mine, gathered;
    for (int64_t i = 0; i < counts[rank]; ++i) mine.push_back(100.0 * rank + i);
    for (int r = 0; r < n; ++r)
      for (int64_t i = 0; i < counts[r]; ++i) gathered.push_back(100.0 * r + i);
    Tensor part = on_gpu(mine), all = Tensor::empty({total}, DType::F32, gpu);
    comm.all_gather(part.view(), all.view(), counts);
    CHECK(values_on_cpu(all) == gathered);
    // reduce_scatter: rank q's input at position i is 1000·q + i; the sum is 1000·n(n − 1)/2 + n·i.
    std::vector<double> input(total), reduced;
    for (int64_t i = 0; i < total; ++i) input[i] = 1000.0 * rank + i;
    for (int64_t i = start; i < start + counts[rank]; ++i) reduced.push_back(1000.0 * n * (n - 1) / 2 + n * i);
    Tensor whole = on_gpu(input), own = Tensor::empty({counts[rank]}, DType::F32, gpu);
    comm.reduce_scatter(whole.view(), own.view(), counts);
    CHECK(values_on_cpu(own) == reduced);
  }

  Tensor data = on_gpu(input_of(rank));
  comm.broadcast(data.view(), n - 1);
  CHECK(values_on_cpu(data) == input_of(n - 1));
  comm.barrier();
}
