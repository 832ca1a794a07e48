// backends/cuda/nccl_communicator.cpp — the communicator between GPUs, over NCCL, for the CUDA
// build (see backends/communicator.h for the contracts). One GPU per rank: the rank's own
// device is the one communicator_for was asked about; rank and size are the MPI job's.
//
// Start-up: rank 0 makes an ncclUniqueId, the MPI communicator (the "bootstrap", CPU memory)
// broadcasts its bytes, and every rank joins with ncclCommInitRank. Then each collective is
// the NCCL call of the same meaning, on the stream every CUDA kernel of margin uses (the
// legacy default stream, backends/cuda/context.h), so it starts after the kernels that wrote
// its input, and it waits for the stream before returning, so that callers read results as
// after the MPI version:
//   all_reduce      ncclAllReduce (ncclSum, ncclMax), in place
//   all_gather      ncclAllGather when every rank's part is as long; otherwise one group of
//                   ncclBroadcast calls, root r's part into its offset of `all` (NCCL's
//                   gather needs equal parts)
//   reduce_scatter  ncclReduceScatter (ncclSum) when the parts are equal; otherwise one group
//                   of ncclReduce calls, rank r the root of its own part
//   broadcast       ncclBroadcast, in place
//   barrier         the stream waits, then the bootstrap's MPI_Barrier
//   abort_job       ncclCommAbort, then the bootstrap's MPI_Abort
// Every failed NCCL or CUDA call is a margin::Error naming it, with NCCL's own explanation.
//
// Left out: more than one GPU per process, streams of its own (overlapping communication
// with computation), ncclCommGetAsyncError polling (a rank that dies while the others wait
// inside NCCL is ended by mpirun, as for MPI), half precision.
#ifdef MARGIN_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <vector>

#include "backends/communicator.h"
#include "backends/cuda/context.h"

namespace margin {

namespace {

// Every call goes to the stream the CUDA backend's kernels use: in order with them.
const cudaStream_t kStream = nullptr;

void check_nccl(ncclResult_t status, const char* call) {
  if (status == ncclSuccess) return;
  // The last error's text says which argument or peer was wrong (comm is unused there).
  const char* detail = ncclGetLastError(nullptr);
  fail(call, ": ", ncclGetErrorString(status), detail && *detail ? " — " : "", detail ? detail : "");
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::I64: return ncclInt64;
    case DType::BF16:
    case DType::F16: break;
  }
  fail("nccl communicator: expected float32, float64 or int64, got ", dtype_name(dtype), dtype_hint(dtype));
}

// Calls issued between ncclGroupStart and ncclGroupEnd run as one operation, so that the
// ranks' broadcasts or reductions all progress together instead of waiting on each other.
template <class Calls>
void nccl_group(const char* what, Calls calls) {
  check_nccl(ncclGroupStart(), "ncclGroupStart");
  try {
    calls();
  } catch (...) {
    ncclGroupEnd();  // close the group before the error leaves, or every later call joins it
    throw;
  }
  check_nccl(ncclGroupEnd(), what);
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& bootstrap, Device device)
      : bootstrap_(bootstrap), device_(device), rank_(bootstrap.rank()), size_(bootstrap.size()) {
    if (device.type != DeviceType::CUDA)
      fail("nccl communicator: ", device.str(), " is not a GPU");
    activate();
    // The id's bytes travel as int64 words, a dtype every communicator moves.
    std::vector<int64_t> words((sizeof(ncclUniqueId) + sizeof(int64_t) - 1) / sizeof(int64_t), 0);
    ncclUniqueId id{};
    if (rank_ == 0) {
      check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
      std::memcpy(words.data(), &id, sizeof id);
    }
    bootstrap.broadcast(View{.data = words.data(), .dtype = DType::I64, .device = kCPU,
                             .shape = {static_cast<int64_t>(words.size())}, .strides = {1}},
                        0);
    std::memcpy(&id, words.data(), sizeof id);
    check_nccl(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    // At exit, errors have nobody to go to: destroy quietly.
    if (comm_) ncclCommDestroy(comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "nccl"; }
  bool serves(Device device) const override { return device == device_; }

  void all_reduce(const View& data, ReduceOp op) override {
    check_view(data, "all_reduce's data");
    activate();
    check_nccl(ncclAllReduce(data.data, data.data, data.numel(), nccl_type(data.dtype),
                             op == ReduceOp::Sum ? ncclSum : ncclMax, comm_, kStream),
               "ncclAllReduce");
    wait("ncclAllReduce");
  }

  void all_gather(const View& mine, const View& all, std::span<const int64_t> counts) override {
    const ncclDataType_t type = start_parts(mine, all, counts, "all_gather");
    if (equal(counts)) {
      check_nccl(ncclAllGather(mine.data, all.data, counts[0], type, comm_, kStream), "ncclAllGather");
    } else {
      each_part("ncclGroupEnd (all_gather's broadcasts)", counts, [&](int r, int64_t offset) {
        check_nccl(ncclBroadcast(mine.data, element(all, offset), counts[r], type, r, comm_, kStream),
                   "ncclBroadcast (all_gather)");
      });
    }
    wait("all_gather");
  }

  void reduce_scatter(const View& all, const View& mine, std::span<const int64_t> counts) override {
    const ncclDataType_t type = start_parts(mine, all, counts, "reduce_scatter");
    if (equal(counts)) {
      check_nccl(ncclReduceScatter(all.data, mine.data, counts[0], type, ncclSum, comm_, kStream),
                 "ncclReduceScatter");
    } else {
      each_part("ncclGroupEnd (reduce_scatter's reductions)", counts, [&](int r, int64_t offset) {
        // Only the root receives; the others' receive buffer may be null (nccl.h).
        check_nccl(ncclReduce(element(all, offset), r == rank_ ? mine.data : nullptr, counts[r], type, ncclSum, r,
                              comm_, kStream),
                   "ncclReduce (reduce_scatter)");
      });
    }
    wait("reduce_scatter");
  }

  void broadcast(const View& data, int root) override {
    check_view(data, "broadcast's data");
    if (root < 0 || root >= size_) fail("nccl communicator: broadcast from rank ", root, " of ", size_);
    activate();
    check_nccl(ncclBroadcast(data.data, data.data, data.numel(), nccl_type(data.dtype), root, comm_, kStream),
               "ncclBroadcast");
    wait("ncclBroadcast");
  }

  void barrier() override {
    activate();
    wait("barrier");
    bootstrap_.barrier();
  }

  void abort_job(int code) override {
    if (comm_) ncclCommAbort(comm_);  // the job ends next: its status changes nothing
    comm_ = nullptr;
    bootstrap_.abort_job(code);
  }

 private:
  void activate() const { cuda::check_cuda(cudaSetDevice(device_.index), "cudaSetDevice"); }

  void wait(const char* what) const {
    const cudaError_t status = cudaStreamSynchronize(kStream);
    if (status != cudaSuccess) {
      cudaGetLastError();
      fail("cudaStreamSynchronize after ", what, " on ", device_.str(), ": ", cudaGetErrorString(status), " (",
           cudaGetErrorName(status), ")");
    }
  }

  void check_view(const View& view, const char* what) const {
    if (view.device != device_)
      fail("nccl communicator: ", what, " is on ", view.device.str(), "; this rank's NCCL communicator serves ",
           device_.str(), " (one GPU per rank; CPU tensors use world())");
    if (!view.is_contiguous()) fail("nccl communicator: ", what, " is not contiguous");
  }

  // Unlike MPI, NCCL cannot tell a short buffer from a long one: a wrong count would write
  // past the end of GPU memory, so the parts are checked here.
  void check_parts(const View& mine, const View& all, std::span<const int64_t> counts, const char* what) const {
    if (static_cast<int>(counts.size()) != size_) fail("nccl ", what, ": ", counts.size(), " counts for ", size_, " ranks");
    int64_t total = 0;
    for (int64_t count : counts) {
      if (count < 0) fail("nccl ", what, ": a negative count, ", count);
      total += count;
    }
    if (mine.numel() != counts[rank_] || all.numel() != total)
      fail("nccl ", what, ": rank ", rank_, "'s part has ", mine.numel(), " elements and the whole ", all.numel(),
           "; the counts say ", counts[rank_], " and ", total);
    if (mine.dtype != all.dtype)
      fail("nccl ", what, ": the part is ", dtype_name(mine.dtype), " and the whole ", dtype_name(all.dtype));
  }

  // The checks of a gather or scatter between `mine` and `all`, then this rank's device made
  // current; returns the parts' NCCL type.
  ncclDataType_t start_parts(const View& mine, const View& all, std::span<const int64_t> counts,
                             const char* what) const {
    check_view(mine, what);
    check_view(all, what);
    check_parts(mine, all, counts, what);
    activate();
    return nccl_type(all.dtype);
  }

  // part(r, offset) for every rank's non-empty part, as one NCCL group (every rank skips the
  // same empty parts: the counts are shared).
  template <class Part>
  void each_part(const char* what, std::span<const int64_t> counts, Part part) const {
    nccl_group(what, [&] {
      int64_t offset = 0;
      for (int r = 0; r < size_; offset += counts[r], ++r)
        if (counts[r] > 0) part(r, offset);
    });
  }

  static bool equal(std::span<const int64_t> counts) {
    for (int64_t count : counts)
      if (count != counts[0]) return false;
    return true;
  }

  static void* element(const View& view, int64_t offset) {
    return static_cast<char*>(view.data) + offset * static_cast<int64_t>(dtype_size(view.dtype));
  }

  Communicator& bootstrap_;
  const Device device_;
  const int rank_, size_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

namespace detail {
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, Device device) {
  return std::make_unique<NcclCommunicator>(bootstrap, device);
}
}  // namespace detail

}  // namespace margin
#endif  // MARGIN_NCCL
