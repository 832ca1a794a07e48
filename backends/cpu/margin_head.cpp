// backends/cpu/margin_head.cpp — the fused margin head: cosine GEMM, target replacement,
// log-softmax and NLL over B×C logits in one buffer, and its backward as two GEMMs.
//
// Forward, per row b (rows in parallel, each row stays in cache while it is worked on):
//   z_b = scale · x̂_b Ŵᵀ (one GEMM for all rows), z_{b,y} = target_logit[b],
//   lse = max + log Σ_j e^{z_bj − max}, loss = lse − z_{b,y}, p_bj = e^{z_bj − lse}.
// The row is then overwritten by p with the target column set to 0, which is all the
// backward needs: ∂loss_b/∂z_bj = p_bj − [j = y_b], and the target's part belongs to the
// caller's margin (target_grad). With CosFace's margin done here instead (no target_logit:
// z_{b,y} = s·(cos θ_y − m), a constant shift of the GEMM's own logit) the target column
// keeps p_{b,y} − 1 and the products below take the whole gradient, with no gather of Ŵ_y.
// Backward: dx̂ = s·diag(dloss)·P·Ŵ, dŴ = s·Pᵀ·diag(dloss)·x̂; scaling the d-wide factors by
// dloss keeps P unchanged (it is never scaled in place).
// The three products go through the backend's GEMM (gemm.h), threaded over stripes of their
// results; Eigen's own threading of these shapes (C = 100,000 against B = 256) spent a third of
// its time packing and waiting for the other thread (bench_workloads W3: 907 ms with it, about
// 430 ms with classes split by hand over Eigen products, 340–415 ms through gemm_threaded).
// Partial FC splits the forward in two (margin_logits, margin_softmax) around the ranks'
// exchange of each row's normalizer; the row functions below are shared by both heads.
// Left out: fusing the normalization of Ŵ (the caller normalizes, C×d).
#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/eigen_maps.h"
#include "backends/cpu/fast_exp.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

namespace {

// The row's label logit: the caller's target logit, or CosFace's s·(cos θ_y − m) made from the
// GEMM's own s·cos θ_y.
template <class T>
T target_value(const T* row, int64_t label, const T* target, int64_t b, double scale, double margin) {
  return target ? target[b] : static_cast<T>(row[label] - scale * margin);
}

// One row, given its log normalizer log Σ_j e^{z_j} (over this rank's columns, or every
// rank's): logits in, probabilities out; returns {loss, ∂loss/∂z_y = p_y − 1}, both 0 when the
// row's class is not here (label < 0). The label column is left at 0 (the caller takes its
// gradient) or, with `keep_target`, at p_y − 1.
template <class T>
std::pair<double, double> softmax_nll_row(T* row, int64_t classes, int64_t label, double log_sum,
                                          bool keep_target) {
  const double target_logit = label >= 0 ? static_cast<double>(row[label]) : 0.0;
  T shift = static_cast<T>(log_sum);
#pragma omp simd
  for (int64_t j = 0; j < classes; ++j) row[j] = fast_exp(row[j] - shift);
  if (label < 0) return {0.0, 0.0};
  double target_grad = static_cast<double>(row[label]) - 1.0;
  row[label] = keep_target ? static_cast<T>(target_grad) : T(0);
  return {log_sum - target_logit, target_grad};
}

// Z = s·X̂·Ŵᵀ into `logits` [B, C] (row-major), for the rows of both heads.
template <class T>
void cosine_logits(const View& x_hat, const View& w_hat, double scale, T* logits) {
  int64_t batch = x_hat.shape[0], dim = x_hat.shape[1], classes = w_hat.shape[0];
  auto X = StridedMatrix<T>::row_major(x_hat.ptr<T>(), batch, dim);
  auto W = StridedMatrix<T>::row_major(w_hat.ptr<T>(), classes, dim);
  gemm_threaded(X, W.transposed(), logits, classes, T(scale), false);
}

}  // namespace

void CpuBackend::margin_head(const View& x_hat, const View& w_hat, const View& labels,
                             const View& target_logit, double scale, double margin,
                             const View& probs, const View& loss, const View& target_grad) {
  int64_t batch = x_hat.shape[0], classes = w_hat.shape[0];
  dispatch_floating(x_hat.dtype, "margin_head", [&](auto t) {
    using T = decltype(t);
    cosine_logits<T>(x_hat, w_hat, scale, probs.ptr<T>());
    const int64_t* label = labels.ptr<int64_t>();
    const T* target = target_logit.ptr<T>();  // nullptr: CosFace's margin, here
    T *loss_out = loss.ptr<T>(), *target_grad_out = target_grad.ptr<T>();
#pragma omp parallel for if (worth_threads(batch * classes))
    for (int64_t b = 0; b < batch; ++b) {
      T* row = probs.ptr<T>() + b * classes;
      if (label[b] < 0) {  // ignored: contributes neither loss nor gradient
        std::fill(row, row + classes, T(0));
        loss_out[b] = T(0);
        target_grad_out[b] = T(0);
        continue;
      }
      row[label[b]] = target_value(row, label[b], target, b, scale, margin);
      const double log_sum = softmax_normalizer(row, classes, 1).log_sum();
      auto [row_loss, row_target_grad] = softmax_nll_row(row, classes, label[b], log_sum, /*keep_target=*/!target);
      loss_out[b] = static_cast<T>(row_loss);
      target_grad_out[b] = target ? static_cast<T>(row_target_grad) : T(0);
    }
  });
}

void CpuBackend::margin_logits(const View& x_hat, const View& w_hat, const View& labels,
                               const View& target_logit, double scale, double margin,
                               const View& logits, const View& log_normalizer) {
  int64_t batch = x_hat.shape[0], classes = w_hat.shape[0];
  dispatch_floating(x_hat.dtype, "margin_logits", [&](auto t) {
    using T = decltype(t);
    cosine_logits<T>(x_hat, w_hat, scale, logits.ptr<T>());
    const int64_t* label = labels.ptr<int64_t>();
    const T* target = target_logit.ptr<T>();
    T* lse = log_normalizer.ptr<T>();
#pragma omp parallel for if (worth_threads(batch * classes))
    for (int64_t b = 0; b < batch; ++b) {
      T* row = logits.ptr<T>() + b * classes;
      if (label[b] >= 0) row[label[b]] = target_value(row, label[b], target, b, scale, margin);
      lse[b] = static_cast<T>(softmax_normalizer(row, classes, 1).log_sum());
    }
  });
}

void CpuBackend::margin_softmax(const View& logits_to_probs, const View& labels, const View& lse,
                                bool caller_target, const View& loss, const View& target_grad) {
  int64_t batch = logits_to_probs.shape[0], classes = logits_to_probs.shape[1];
  dispatch_floating(logits_to_probs.dtype, "margin_softmax", [&](auto t) {
    using T = decltype(t);
    const int64_t* label = labels.ptr<int64_t>();
    const T* log_sum = lse.ptr<T>();
    T *loss_out = loss.ptr<T>(), *target_grad_out = target_grad.ptr<T>();
#pragma omp parallel for if (worth_threads(batch * classes))
    for (int64_t b = 0; b < batch; ++b) {
      T* row = logits_to_probs.ptr<T>() + b * classes;
      auto [row_loss, row_target_grad] =
          softmax_nll_row(row, classes, label[b], static_cast<double>(log_sum[b]), /*keep_target=*/!caller_target);
      loss_out[b] = static_cast<T>(row_loss);
      target_grad_out[b] = caller_target ? static_cast<T>(row_target_grad) : T(0);
    }
  });
}

void CpuBackend::margin_head_backward(const View& x_hat, const View& w_hat, const View& probs,
                                      const View& dloss, double scale, const View& dx_hat,
                                      const View& dw_hat) {
  int64_t batch = x_hat.shape[0], dim = x_hat.shape[1], classes = w_hat.shape[0];
  dispatch_floating(x_hat.dtype, "margin_head_backward", [&](auto t) {
    using T = decltype(t);
    ConstMatrixMap<T> X(x_hat.ptr<T>(), batch, dim);
    Eigen::Map<const Eigen::Vector<T, Eigen::Dynamic>> row_weight(dloss.ptr<T>(), batch);
    MatrixMap<T> DX(dx_hat.ptr<T>(), batch, dim);
    RowMatrix<T> weighted_x = (T(scale) * row_weight).asDiagonal() * X;
    auto P = StridedMatrix<T>::row_major(probs.ptr<T>(), batch, classes);
    auto W = StridedMatrix<T>::row_major(w_hat.ptr<T>(), classes, dim);
    gemm_threaded(P.transposed(), StridedMatrix<T>::row_major(weighted_x.data(), batch, dim),
                  dw_hat.ptr<T>(), dim, T(1), false);  // dŴ = Pᵀ·(s·diag(dloss)·X̂)
    // diag(dloss)·P·Ŵ = diag(dloss)·(P·Ŵ): scale the B×d product, not the B×C matrix.
    gemm_threaded(P, W, dx_hat.ptr<T>(), dim, T(1), false);
    DX = (T(scale) * row_weight).asDiagonal() * DX;
  });
}

}  // namespace margin
