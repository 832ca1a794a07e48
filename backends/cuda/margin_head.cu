// backends/cuda/margin_head.cu — the fused margin head on the GPU (contract in
// backends/backend.h, formulas as backends/cpu/margin_head.cpp): one cuBLAS GEMM writes the
// scaled cosines into probs [B, C]; then one block per row replaces the target logit, takes
// the max-subtracted log-sum-exp (double accumulator), writes loss and target_grad and
// overwrites the row with its probabilities (target column 0; with CosFace's margin applied
// here, no target_logit, the column keeps p − 1 for the GEMMs). Backward: two GEMMs, with the
// d-wide factors scaled by s·dloss (probs is never scaled in place).
// Partial FC's two halves (margin_logits, margin_softmax) share the row functions.
// Left out: fusing the GEMM with the row pass, splitting one very long row over blocks.
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace margin {
namespace cuda {

// log Σ_j e^{logit(j)} of one row, computed by its block (max-subtracted, double accumulator).
template <class T, class Logit>
__device__ double row_log_normalizer(int64_t classes, Logit logit) {
  T max = logit(0);
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) max = fmax(max, logit(j));
  max = block_reduce(max, MaxOf{});
  double total = 0;
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) total += exp(double(logit(j) - max));
  total = block_reduce(total, SumOf{});
  return double(max) + ::log(total);
}

// The row overwritten by p_j = e^{logit(j) − log_sum}; where the row's class y is here (y ≥ 0)
// also its loss and target_grad, and the label column as the contract says (0 with the
// caller's target logit, p − 1 with CosFace's margin).
template <class T, class Logit>
__device__ void softmax_nll_row(T* row, int64_t classes, int64_t y, double log_sum, Logit logit,
                                bool caller_target, T* loss_out, T* target_grad_out) {
  T shift = static_cast<T>(log_sum);
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) {
    T z = logit(j);
    T p = static_cast<T>(exp(double(z - shift)));
    if (j == y) {
      *target_grad_out = caller_target ? static_cast<T>(double(p) - 1.0) : T(0);
      *loss_out = static_cast<T>(log_sum - double(z));
      p = caller_target ? T(0) : static_cast<T>(double(p) - 1.0);
    }
    row[j] = p;
  }
  if (y < 0 && threadIdx.x == 0) {
    *loss_out = T(0);
    *target_grad_out = T(0);
  }
}

template <class T>
void margin_rows(const View& labels, const View& target_logit, double shift_of_target,
                 const View& probs, const View& loss, const View& target_grad) {
  int64_t batch = probs.shape[0], classes = probs.shape[1];
  const int64_t* label = labels.ptr<int64_t>();
  const T* target = target_logit.ptr<T>();  // nullptr: the target is z_y − shift_of_target
  const T target_shift = static_cast<T>(shift_of_target);
  T *rows = probs.ptr<T>(), *loss_out = loss.ptr<T>(), *target_grad_out = target_grad.ptr<T>();
  parallel_slices(batch, classes, "margin_head", [=] __device__(int64_t b) {
    T* row = rows + b * classes;
    int64_t y = label[b];
    if (y < 0) {  // ignored: contributes neither loss nor gradient (the whole block returns)
      for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) row[j] = T(0);
      if (threadIdx.x == 0) {
        loss_out[b] = T(0);
        target_grad_out[b] = T(0);
      }
      return;
    }
    // Read before any thread writes the row (block_reduce below synchronizes).
    T target_value = target ? target[b] : row[y] - target_shift;
    // z_bj, with the target column replaced by its margin logit.
    auto logit = [&](int64_t j) { return j == y ? target_value : row[j]; };
    double log_sum = row_log_normalizer<T>(classes, logit);
    softmax_nll_row(row, classes, y, log_sum, logit, target != nullptr, loss_out + b, target_grad_out + b);
  });
}

// Partial FC's first half: the label column replaced where the row's class is here, and the
// row's log normalizer over these columns.
template <class T>
void margin_logit_rows(const View& labels, const View& target_logit, double shift_of_target,
                       const View& logits, const View& log_normalizer) {
  int64_t batch = logits.shape[0], classes = logits.shape[1];
  const int64_t* label = labels.ptr<int64_t>();
  const T* target = target_logit.ptr<T>();
  const T target_shift = static_cast<T>(shift_of_target);
  T *rows = logits.ptr<T>(), *lse = log_normalizer.ptr<T>();
  parallel_slices(batch, classes, "margin_logits", [=] __device__(int64_t b) {
    T* row = rows + b * classes;
    int64_t y = label[b];
    T target_value = y >= 0 ? (target ? target[b] : row[y] - target_shift) : T(0);
    auto logit = [&](int64_t j) { return j == y ? target_value : row[j]; };
    double log_sum = row_log_normalizer<T>(classes, logit);
    if (threadIdx.x == 0) {
      if (y >= 0) row[y] = target_value;
      lse[b] = static_cast<T>(log_sum);
    }
  });
}

// Partial FC's second half: probabilities under the every-rank normalizer lse.
template <class T>
void margin_softmax_rows(const View& logits_to_probs, const View& labels, const View& lse,
                         bool caller_target, const View& loss, const View& target_grad) {
  int64_t batch = logits_to_probs.shape[0], classes = logits_to_probs.shape[1];
  const int64_t* label = labels.ptr<int64_t>();
  const T* log_sum = lse.ptr<T>();
  T *rows = logits_to_probs.ptr<T>(), *loss_out = loss.ptr<T>(), *target_grad_out = target_grad.ptr<T>();
  parallel_slices(batch, classes, "margin_softmax", [=] __device__(int64_t b) {
    T* row = rows + b * classes;
    auto logit = [&](int64_t j) { return row[j]; };  // each thread reads only its own columns
    softmax_nll_row(row, classes, label[b], double(log_sum[b]), logit, caller_target, loss_out + b,
                    target_grad_out + b);
  });
}

// out[b, :] = factor · dloss[b] · in[b, :] for a [rows, d] matrix (in may be out).
template <class T>
void scale_rows(const View& in, const View& dloss, T factor, const View& out) {
  int64_t d = in.shape[1];
  const T *source = in.ptr<T>(), *weight = dloss.ptr<T>();
  T* result = out.ptr<T>();
  parallel_for(in.numel(), "margin_head_backward", [=] __device__(int64_t i) {
    result[i] = factor * weight[i / d] * source[i];
  });
}

}  // namespace cuda

void CudaBackend::margin_head(const View& x_hat, const View& w_hat, const View& labels,
                              const View& target_logit, double scale, double margin,
                              const View& probs, const View& loss, const View& target_grad) {
  activate();
  // z = s · X̂ Ŵᵀ, written into probs (the only B×C buffer).
  gemm(false, true, scale, x_hat, w_hat, 0.0, probs, DType::F32);  // the head: float32 products
  dispatch_floating(x_hat.dtype, "margin_head", [&](auto t) {
    cuda::margin_rows<decltype(t)>(labels, target_logit, scale * margin, probs, loss, target_grad);
  });
}

void CudaBackend::margin_logits(const View& x_hat, const View& w_hat, const View& labels,
                                const View& target_logit, double scale, double margin,
                                const View& logits, const View& log_normalizer) {
  activate();
  gemm(false, true, scale, x_hat, w_hat, 0.0, logits, DType::F32);  // the head: float32 products
  dispatch_floating(x_hat.dtype, "margin_logits", [&](auto t) {
    cuda::margin_logit_rows<decltype(t)>(labels, target_logit, scale * margin, logits, log_normalizer);
  });
}

void CudaBackend::margin_softmax(const View& logits_to_probs, const View& labels, const View& lse,
                                 bool caller_target, const View& loss, const View& target_grad) {
  activate();
  dispatch_floating(logits_to_probs.dtype, "margin_softmax", [&](auto t) {
    cuda::margin_softmax_rows<decltype(t)>(logits_to_probs, labels, lse, caller_target, loss, target_grad);
  });
}

void CudaBackend::margin_head_backward(const View& x_hat, const View& w_hat, const View& probs,
                                       const View& dloss, double scale, const View& dx_hat,
                                       const View& dw_hat) {
  activate();
  // dX̂ = diag(s·dloss)·(P·Ŵ): scale the B×d product, not the B×C matrix.
  gemm(false, false, 1.0, probs, w_hat, 0.0, dx_hat, DType::F32);  // the head: float32 products
  dispatch_floating(x_hat.dtype, "margin_head_backward", [&](auto t) {
    using T = decltype(t);
    cuda::scale_rows<T>(dx_hat, dloss, T(scale), dx_hat);
  });
  // dŴ = Pᵀ·(diag(s·dloss)·X̂), with the scaled X̂ in a temporary B×d buffer.
  size_t bytes = static_cast<size_t>(x_hat.numel()) * dtype_size(x_hat.dtype);
  View weighted = x_hat;
  weighted.strides = contiguous_strides(x_hat.shape);
  weighted.data = bytes > 0 ? allocate(bytes) : nullptr;
  try {
    if (bytes > 0)
      dispatch_floating(x_hat.dtype, "margin_head_backward", [&](auto t) {
        using T = decltype(t);
        cuda::scale_rows<T>(x_hat, dloss, T(scale), weighted);
      });
    gemm(true, false, 1.0, probs, weighted, 0.0, dw_hat, DType::F32);  // the head: float32 products
  } catch (...) {
    if (weighted.data) deallocate(weighted.data, bytes);
    throw;
  }
  // Freed after the GEMM is issued: the default stream orders any reuse after it.
  if (weighted.data) deallocate(weighted.data, bytes);
}

}  // namespace margin
