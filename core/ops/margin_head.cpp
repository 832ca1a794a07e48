// core/ops/margin_head.cpp — the fused margin head as one differentiable op.
//
// loss_b = log Σ_j e^{z_bj} − z_{b,y_b},  z_bj = s · x̂_b·ŵ_j (j ≠ y_b),  z_{b,y_b} = t_b.
//   ∂loss_b/∂t_b  = p_{b,y_b} − 1
//   ∂loss_b/∂x̂_b = s · Σ_{j≠y_b} p_bj ŵ_j        ∂loss_b/∂ŵ_j = s · Σ_{b: y_b≠j} p_bj x̂_b
// The target logit t is an input: the caller builds it from cos θ_y with whatever margin it
// likes (and autograd takes its gradient back to x̂ and ŵ_y), so one kernel serves ArcFace
// and CombinedMargin. CosFace's margin (and NSL's, m = 0) is a constant shift of the GEMM's
// own target logit, t_b = s·x̂_b·ŵ_{y_b} − s·m: without target_logit the kernel applies it and
// the two backward products carry its gradient (the p − 1 of the target column).
// partial_margin_head is the same loss with the classes split over ranks (Partial FC).
// Left out: a version that also fuses the normalization.
#include "core/ops/common.h"

namespace margin {
using namespace ops;

namespace {

// What both heads hand their kernels: the operands' data, contiguous, and the sizes.
struct HeadData {
  Tensor x, w, labels, target;  // target undefined: CosFace's margin, in the kernel
  int64_t batch = 0, classes = 0;
  View target_view() const { return target.defined() ? target.view() : View{}; }
  Tensor empty_rows() const { return Tensor::empty({batch}, x.dtype(), x.device()); }
};

// The checks both heads share: x̂ [B, d] and ŵ [C, d] of one dtype and device, int64 labels
// [B] in [−1, C), a target logit [B] when given (and then no margin).
HeadData head_data(const char* op, const Tensor& x_hat, const Tensor& w_hat, const Tensor& labels,
                   const Tensor& target_logit, double margin) {
  check_pair(op, x_hat, w_hat);
  const bool cosface = !target_logit.defined();
  if (!cosface) check_pair(op, x_hat, target_logit);
  if (!cosface && margin != 0)
    fail(op, ": a margin (", margin, ") is only taken without a target_logit (which carries its own)");
  if (x_hat.ndim() != 2 || w_hat.ndim() != 2 || x_hat.size(1) != w_hat.size(1))
    fail(op, ": expected x_hat [B, d] and w_hat [C, d], got ", x_hat.describe(), " and ",
         w_hat.describe());
  int64_t batch = x_hat.size(0), classes = w_hat.size(0);
  if (!labels.defined() || labels.dtype() != DType::I64 || labels.ndim() != 1 ||
      labels.size(0) != batch)
    fail(op, ": expected int64 labels [", batch, "], got ",
         labels.defined() ? labels.describe() : std::string("an undefined tensor"));
  if (!cosface) check_shape(target_logit, {batch}, "margin_head target_logit");
  Tensor label_data = contiguous_data(labels);
  int64_t bad = backend_of(labels).find_out_of_range(label_data.view(), -1, classes);
  if (bad >= 0)
    fail(op, ": label ", label_data.to_indices()[bad], " at row ", bad, " is outside [-1, ",
         classes, ") (−1 means ignore)");
  return {.x = contiguous_data(x_hat), .w = contiguous_data(w_hat), .labels = label_data,
          .target = cosface ? Tensor() : contiguous_data(target_logit), .batch = batch, .classes = classes};
}

// The head's backward: dx̂ and dŵ from probs (margin_head_backward), and the caller's target
// logit's gradient dloss ⊙ target_grad.
Tensor record_head(const char* op, const Tensor& loss, const Tensor& x_hat, const Tensor& w_hat,
                   const Tensor& target_logit, const Tensor& x, const Tensor& w, const Tensor& probs,
                   const Tensor& target_grad, double scale) {
  const bool cosface = !target_logit.defined();
  bool need_x = x_hat.requires_grad(), need_w = w_hat.requires_grad();
  return record(loss, op, {x_hat, w_hat, target_logit},
                [=](const Tensor& grad) {
                  Tensor dloss = contiguous_data(grad);
                  Tensor dx, dw;
                  if (need_x || need_w) {
                    dx = empty_like(x);
                    dw = empty_like(w);
                    backend_of(x).margin_head_backward(x.view(), w.view(), probs.view(),
                                                       dloss.view(), scale, dx.view(),
                                                       dw.view());
                  }
                  return std::vector<Tensor>{need_x ? dx : Tensor(), need_w ? dw : Tensor(),
                                             cosface ? Tensor() : dloss * target_grad};
                });
}

}  // namespace

Tensor margin_head(const Tensor& x_hat, const Tensor& w_hat, const Tensor& labels,
                   const Tensor& target_logit, double scale, double margin) {
  const char* op = "margin_head";
  HeadData in = head_data(op, x_hat, w_hat, labels, target_logit, margin);
  Tensor probs = Tensor::empty({in.batch, in.classes}, in.x.dtype(), in.x.device());
  Tensor loss = in.empty_rows(), target_grad = in.empty_rows();
  backend_of(in.x).margin_head(in.x.view(), in.w.view(), in.labels.view(), in.target_view(), scale, margin,
                               probs.view(), loss.view(), target_grad.view());
  return record_head(op, loss, x_hat, w_hat, target_logit, in.x, in.w, probs, target_grad, scale);
}

// Every rank holds the same rows and its own classes. The ranks' normalizers combine as
// lse_b = M_b + log Σ_r e^{lse_rb − M_b}, M_b = max_r lse_rb (two all-reduces of B values);
// the loss of row b is lse_b − z_{b,y_b}, computed on the rank that holds y_b and summed.
// In the backward every rank receives the same dloss (the loss is the same on every rank) and
// takes the derivative of its own term only: its columns' probabilities under the common lse,
// its target column. The sum over ranks of the dx̂ they return is the whole dx̂ (the caller's
// all_gather_rows adds them up).
Tensor partial_margin_head(const Tensor& x_hat, const Tensor& w_hat, const Tensor& labels,
                           const Tensor& target_logit, double scale, double margin, Communicator& comm) {
  const char* op = "partial_margin_head";
  HeadData in = head_data(op, x_hat, w_hat, labels, target_logit, margin);
  Tensor probs = Tensor::empty({in.batch, in.classes}, in.x.dtype(), in.x.device());
  Tensor local_lse = in.empty_rows();
  backend_of(in.x).margin_logits(in.x.view(), in.w.view(), in.labels.view(), in.target_view(), scale, margin,
                                 probs.view(), local_lse.view());
  Tensor lse;
  {
    NoGradGuard no_grad;
    Tensor row_max = local_lse.clone();
    comm.all_reduce(row_max.view(), ReduceOp::Max);
    Tensor total = exp(local_lse - row_max).contiguous();
    comm.all_reduce(total.view(), ReduceOp::Sum);
    lse = (row_max + log(total)).contiguous();
  }
  Tensor loss = in.empty_rows(), target_grad = in.empty_rows();
  backend_of(in.x).margin_softmax(probs.view(), in.labels.view(), lse.view(), in.target.defined(), loss.view(),
                                  target_grad.view());
  comm.all_reduce(loss.view(), ReduceOp::Sum);
  return record_head(op, loss, x_hat, w_hat, target_logit, in.x, in.w, probs, target_grad, scale);
}


}  // namespace margin
