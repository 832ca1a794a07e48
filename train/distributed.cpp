// train/distributed.cpp — start-up agreement, broadcast, gradient buckets and failure
// reporting for data-parallel training (see distributed.h).
#include "train/distributed.h"

#include <cstdio>

#include "backends/backend.h"

namespace margin {

namespace {

// FNV-1a: a 64-bit fingerprint of a description, so that ranks compare one number each.
int64_t fingerprint(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return static_cast<int64_t>(hash >> 1);
}

}  // namespace

void require_same_on_every_rank(Communicator& comm, const std::string& what, const std::string& value) {
  const int ranks = comm.size();
  if (ranks == 1) return;
  Tensor mine = Tensor::from_indices({fingerprint(value)}, {1}, kCPU);
  Tensor all = Tensor::empty({ranks}, DType::I64, kCPU);
  std::vector<int64_t> counts(ranks, 1);
  comm.all_gather(mine.view(), all.view(), counts);
  std::vector<int64_t> prints = all.to_indices();
  std::string differ;
  for (int r = 1; r < ranks; ++r)
    if (prints[r] != prints[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  if (!differ.empty())
    fail("every rank must be started with the same ", what, ", but rank(s) ", differ,
         " differ from rank 0 (this is rank ", comm.rank(), ": ", value, ")");
}

void broadcast_tensors(Communicator& comm, const std::vector<Tensor>& tensors) {
  if (comm.size() == 1) return;
  for (const Tensor& t : tensors) {
    Tensor data = t.contiguous();
    comm.broadcast(data.view(), 0);
    if (!data.same(t)) t.copy_(data);
  }
}

GradientReducer::GradientReducer(Communicator& comm, std::vector<Tensor> params, int64_t bucket_bytes)
    : comm_(comm) {
  for (Tensor& p : params) {
    const bool fits = !buckets_.empty() && buckets_.back().params.front().dtype() == p.dtype() &&
                      buckets_.back().params.front().device() == p.device() &&
                      (buckets_.back().flat.numel() + p.numel()) * static_cast<int64_t>(dtype_size(p.dtype())) <= bucket_bytes;
    if (!fits) buckets_.push_back({});
    Bucket& bucket = buckets_.back();
    bucket.params.push_back(p);
    int64_t elements = (bucket.flat.defined() ? bucket.flat.numel() : 0) + p.numel();
    bucket.flat = Tensor::empty({elements}, p.dtype(), p.device());
  }
}

void GradientReducer::reduce(double share) {
  if (comm_.size() == 1 && share == 1.0) return;
  for (Bucket& bucket : buckets_) {
    Backend& backend = backend_for(bucket.flat.device());
    int64_t offset = 0;
    for (const Tensor& p : bucket.params) {
      Tensor part = bucket.flat.slice(0, offset, offset + p.numel());
      if (p.grad().defined()) part.copy_(p.grad().reshape({-1}));
      else backend.fill(part.view(), 0.0);
      offset += p.numel();
    }
    if (share != 1.0) backend.unary(UnaryOp::MulScalar, share, 0.0, bucket.flat.view(), bucket.flat.view());
    comm_.all_reduce(bucket.flat.view(), ReduceOp::Sum);
    offset = 0;
    for (Tensor& p : bucket.params) {
      Tensor sum = bucket.flat.slice(0, offset, offset + p.numel()).reshape(p.shape());
      if (p.grad().defined()) p.grad().copy_(sum);
      else p.set_grad(sum.clone());
      offset += p.numel();
    }
  }
}

int report_failure(const char* program, const std::exception& error) {
  Communicator* job = nullptr;
  try {
    job = &world();
  } catch (const std::exception&) {  // started by mpirun, built without MPI: one process's error
  }
  if (job && job->size() > 1) {
    std::fprintf(stderr, "%s (rank %d of %d): %s\n", program, job->rank(), job->size(), error.what());
    std::fflush(stderr);
    job->abort_job(1);
  } else {
    std::fprintf(stderr, "%s: %s\n", program, error.what());
  }
  return 1;
}

std::string describe_job(int threads) {
  const std::string per = std::to_string(threads) + (threads == 1 ? " thread" : " threads");
  const int ranks = world().size();
  return ranks == 1 ? per : std::to_string(ranks) + " ranks × " + per;
}

}  // namespace margin
