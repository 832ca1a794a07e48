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
// Left out: a version that also fuses the normalization.
#include "core/ops/common.h"

namespace margin {
using namespace ops;

Tensor margin_head(const Tensor& x_hat, const Tensor& w_hat, const Tensor& labels,
                   const Tensor& target_logit, double scale, double margin) {
  const char* op = "margin_head";
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

  Tensor x = contiguous_data(x_hat), w = contiguous_data(w_hat);
  Tensor target = cosface ? Tensor() : contiguous_data(target_logit);
  Tensor probs = Tensor::empty({batch, classes}, x.dtype(), x.device());
  Tensor loss = Tensor::empty({batch}, x.dtype(), x.device());
  Tensor target_grad = Tensor::empty({batch}, x.dtype(), x.device());
  backend_of(x).margin_head(x.view(), w.view(), label_data.view(), cosface ? View{} : target.view(),
                            scale, margin, probs.view(), loss.view(), target_grad.view());
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

}  // namespace margin
