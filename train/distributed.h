// train/distributed.h — what data-parallel training adds to the epoch loop, over a
// Communicator (backends/communicator.h):
//
//   start-up   require_same_on_every_rank: every rank runs the same model, loss and data, or
//              every rank stops with an error naming the ranks that differ;
//              broadcast_tensors: rank 0's initial parameters and buffers on every rank.
//   each step  GradientReducer: the gradients summed over the ranks, each rank's first scaled
//              by its share of the global loss (its rows / the global batch for a loss that is
//              a mean over the rank's rows; 1 for Partial FC, whose loss is already global).
//   failure    report_failure: the error with the rank that raised it, then the whole job
//              ends (abort_job), so no rank waits forever in a collective.
//
// Batch norm stays per rank, as in insightface and PyTorch's DDP without SyncBatchNorm: each
// rank normalizes its own B/N rows and keeps its own running statistics; rank 0's are the ones
// evaluated and saved.
#pragma once
#include <exception>
#include <string>
#include <vector>

#include "backends/communicator.h"
#include "core/tensor.h"

namespace margin {

// Fails on every rank when `value` (a description of the model, the loss, the data) is not
// the same on all ranks; the message names `what`, the ranks that differ and this rank's value.
void require_same_on_every_rank(Communicator& comm, const std::string& what, const std::string& value);

// Rank 0's values of `tensors` (parameters and buffers) copied to every rank, in place.
void broadcast_tensors(Communicator& comm, const std::vector<Tensor>& tensors);

// Sums the gradients of `params` over the ranks, in buckets of about `bucket_bytes` (PyTorch
// DDP's 25 MB): each bucket is one all-reduce of the gradients packed end to end. A parameter
// that got no gradient this step counts as zeros.
class GradientReducer {
 public:
  GradientReducer(Communicator& comm, std::vector<Tensor> params, int64_t bucket_bytes = 25 << 20);
  // grad ← Σ_ranks share_r · grad_r for every parameter.
  void reduce(double share);

 private:
  struct Bucket {
    std::vector<Tensor> params;
    Tensor flat;  // Σ numel elements on the parameters' device and dtype
  };
  Communicator& comm_;
  std::vector<Bucket> buckets_;
};

// For a program's catch block: prints "program: message" on stderr ("program (rank r of N):
// message" when there is more than one rank) and ends every rank of the job (abort_job) so
// none waits for this one. Returns 1, the exit status.
int report_failure(const char* program, const std::exception& error);

// "2 threads", or "2 ranks × 1 thread" with more than one rank: for summary lines.
std::string describe_job(int threads);

}  // namespace margin
