// core/ops.h — the differentiable operations. Each is defined in core/ops/<family>.cpp with
// its forward (one backend call) and its backward right beside it.
//
// Shape letters used in comments across margin: B batch, C classes, d embedding size,
// N, C, H, W image batches. Binary elementwise ops broadcast as NumPy does (sizes align from
// the right; a size of 1 stretches), which covers adding a row [1, d] or a column [B, 1].
// Every op checks its operands and throws margin::Error naming the op, the shapes and what
// was expected.
#pragma once
#include <vector>

#include "backends/communicator.h"
#include "core/tensor.h"

namespace margin {

// ---- elementwise (core/ops/elementwise.cpp) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor add_scalar(const Tensor& x, double value);
Tensor mul_scalar(const Tensor& x, double value);
Tensor clamp(const Tensor& x, double low, double high);
// arccos of x clamped to [−1, 1]; its slope is bounded by 1e6 at |x| = 1 (see UnaryOp::Acos).
Tensor acos(const Tensor& x);
Tensor cos(const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& x, double v) { return add_scalar(x, v); }
inline Tensor operator+(double v, const Tensor& x) { return add_scalar(x, v); }
inline Tensor operator-(const Tensor& x, double v) { return add_scalar(x, -v); }
inline Tensor operator-(double v, const Tensor& x) { return add_scalar(neg(x), v); }
inline Tensor operator*(const Tensor& x, double v) { return mul_scalar(x, v); }
inline Tensor operator*(double v, const Tensor& x) { return mul_scalar(x, v); }
inline Tensor operator/(const Tensor& x, double v) { return mul_scalar(x, 1.0 / v); }

// The shape two operands broadcast to; `op` names the caller in the error.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// ---- reductions (core/ops/reduce.cpp) ----
Tensor sum(const Tensor& x);  // all elements → a scalar (shape [])
Tensor sum(const Tensor& x, int axis, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);
Tensor max(const Tensor& x);  // gradient flows to the first maximal element
Tensor max(const Tensor& x, int axis, bool keepdim = false);
Tensor argmax(const Tensor& x, int axis);  // int64, not differentiable
// x broadcast to `shape` and materialized; its gradient is sum_to.
Tensor expand(const Tensor& x, const Shape& shape);
// Sums x down to `shape` (x's shape must broadcast from it): the adjoint of broadcasting.
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- linear algebra (core/ops/linalg.cpp) ----
// op(a) · op(b) with op = transpose when asked. 2-D: [M, K]·[K, N] → [M, N]; 3-D: batched.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// ---- softmax and normalization (core/ops/rows.cpp) ----
Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);
// Rows of a [rows, d] matrix scaled to unit L2 norm: x / max(‖x‖, eps).
Tensor l2_normalize(const Tensor& x, double eps = 1e-12);

// ---- normalization, per-channel activation, dropout (core/ops/norm.cpp) ----
// Channels are dim 1 of x [N, C, H, W] or [N, C] (anything after C is spatial).
// Batch norm: y = (x − μ_c)/√(σ²_c + eps)·weight_c + bias_c. Training uses the batch's μ, σ²
// (biased) and, when running_mean/var are defined, updates them in place with momentum and
// the unbiased variance, as PyTorch; eval uses the running statistics. weight/bias may be
// undefined (no affine). Gradients flow to x, weight and bias, never to the running stats.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.1, double eps = 1e-5);
// y = x if x > 0 else a_c·x, weight a [C] (or [1], shared). At x = 0 the derivative is
// PyTorch's: dy/dx = a_c, dy/da_c = x = 0.
Tensor prelu(const Tensor& x, const Tensor& weight);
// prelu(batch_norm(x, …), slopes) as one op: the same values (up to float rounding: the
// normalization uses the statistics as saved in x's dtype), one pass fewer over the
// activations each way, and nothing kept for the backward but x, from which the backward
// recomputes the PReLU's input. Under bf16 autocast that x is kept rounded, so the side of
// 0 it recomputes may differ from the forward's for values within bfloat16's rounding of 0.
Tensor batch_norm_prelu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Tensor& running_mean, const Tensor& running_var,
                        const Tensor& slopes, bool training, double momentum = 0.1,
                        double eps = 1e-5);
// batch_norm(x, …) + residual as one op (a residual block's sum), bit for bit the two ops'
// values and gradients, without the add's pass over the activations.
Tensor batch_norm_add(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Tensor& running_mean, const Tensor& running_var,
                      const Tensor& residual, bool training, double momentum = 0.1,
                      double eps = 1e-5);
// Training: y = x·mask/(1 − p), mask_i ~ Bernoulli(1 − p) drawn from `gen` on the host
// (p = 1 gives zeros); eval: y = x. dy/dx = mask/(1 − p).
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

// ---- indexing (core/ops/index.cpp) ----
// y[.., k, ..] = x[.., index[.., k, ..], ..] along `axis`; index is int64 with x's shape
// except along `axis`.
Tensor gather(const Tensor& x, int axis, const Tensor& index);
// x with the elements at `index` along `axis` replaced by src (src has index's shape):
// out[.., index[.., k, ..], ..] = src[.., k, ..]. Indices must not repeat within a row.
// The way a margin replaces the target logit: scatter(cos_theta, 1, labels, cos_theta_y − m).
Tensor scatter(const Tensor& x, int axis, const Tensor& index, const Tensor& src);
// [B] int64 labels → [B, C] rows with a 1 at each label; a label of −1 gives a zero row.
Tensor one_hot(const Tensor& labels, int64_t classes, DType dtype = DType::F32);

// ---- convolution (core/ops/conv.cpp) ----
// x [N, C, H, W] ⊛ w [K, C/groups, R, S] (+ bias [K], optional) → [N, K, P, Q]; the
// geometry and the sum are spelled out at Conv2dParams and Backend::conv2d.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dParams& params = {});

// ---- pooling (core/ops/pool.cpp) ----
// Per channel over [kernel_h, kernel_w] windows (Pool2dParams): [N, C, H, W] → [N, C, P, Q].
Tensor max_pool2d(const Tensor& x, const Pool2dParams& params);
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& params);
// The mean of each channel plane: [N, C, H, W] → [N, C].
Tensor global_avg_pool(const Tensor& x);

// ---- fused margin head (core/ops/margin_head.cpp) ----
// Per-row cross-entropy [B] of the logits z = scale · x_hat · w_hatᵀ with each row's label
// logit replaced by target_logit [B] (ignored rows, label −1, give 0). Differentiable in
// x_hat, w_hat and target_logit; one B×C buffer is kept for the backward. The fast path of
// the normalized losses; see backends/backend.h (margin_head) for the contract.
// Without target_logit (an undefined tensor) the target logit is CosFace's,
// scale · (x̂_b·ŵ_{y_b} − margin), taken inside the kernel: no gather of ŵ_y, whose backward
// would cost a dense [C, d] tensor (NSL and LMCL use this).
Tensor margin_head(const Tensor& x_hat, const Tensor& w_hat, const Tensor& labels,
                   const Tensor& target_logit, double scale, double margin = 0);
// The same per-row loss [B] when the classes are split over the ranks of `comm` (Partial FC,
// losses/partial_fc.cpp): every rank passes the same rows x_hat [B, d] (all of the global
// batch), its own classes w_hat [C_r, d] and labels [B] that say where each row's class is
// among them (−1: on another rank, or an ignored row); target_logit as above, for the rows
// whose class is here (any value elsewhere). Every rank gets the same loss [B], the rows'
// cross-entropy over all ranks' classes; the gradient reaching x_hat is this rank's part of
// it (the caller sums it over the ranks: all_gather_rows does). Collectives: three
// all-reduces of B values.
Tensor partial_margin_head(const Tensor& x_hat, const Tensor& w_hat, const Tensor& labels,
                           const Tensor& target_logit, double scale, double margin, Communicator& comm);

// ---- collectives (core/ops/collective.cpp) ----
// The ranks' rows stacked in rank order: x [B_r, ...] on each rank → [Σ B_r, ...] on every
// rank. Backward: each rank's rows of the gradient summed over the ranks (reduce_scatter), so
// a loss that every rank computes from all rows (Partial FC) backpropagates to each rank's own.
Tensor all_gather_rows(const Tensor& x, Communicator& comm);

// ---- shape (core/ops/shape.cpp; reshape/transpose/slice are Tensor methods) ----
Tensor concat(const std::vector<Tensor>& parts, int axis);

}  // namespace margin
