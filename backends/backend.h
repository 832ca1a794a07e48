// backends/backend.h — the one list of kernels that every backend provides.
//
// core/ calls these and nothing else to touch tensor memory; backends/cpu and
// backends/cuda implement all of them, so a kernel missing from one fails to compile.
//
// Conventions, stated once:
//  * Every View lives on the backend's own device. Shapes are already checked by the
//    caller (core/ops): a kernel "requires" what its contract says and does not re-check.
//  * Floating kernels accept float32 and float64 (all operands of one call share the dtype);
//    indices are int64. bfloat16 and float16 are storage types: only copy and fill take them
//    (converting, round to nearest even: backends/half.h); every other kernel refuses them,
//    saying to convert with .to(DType::F32). One exception, the inputs an op keeps for its
//    backward under bf16 autocast (core/precision.h): conv2d's and conv2d_backward_filter's
//    image x with BF16 operands, and batch_norm_backward's and prelu_backward's x along
//    float32 dy, may be bfloat16; the kernels read them widened to float32 (exactly), and
//    give bit for bit what those float32 values give.
//  * Outputs are ASSIGNED (overwritten), never accumulated into — with the one explicit
//    exception of `axpy`, which autograd uses to add into `.grad`. "Backward kernels assign;
//    autograd alone accumulates."
//  * Axis kernels see their input as [outer, n, inner] around the axis; the caller passes
//    contiguous views and the axis.
//  * Products (gemm, and conv2d with its two backward kernels) take `operands`, the type both
//    factors of every product are rounded to: F32 multiplies float32 inputs as they are;
//    BF16 rounds them to bfloat16 (to nearest even) and sums the exact products in float32,
//    as tensor cores do. Inputs and outputs stay float32 either way (so mixed precision is a
//    property of the call, not of the tensors); float64 takes F32 only. core/precision.h
//    says which op asks for what.
#pragma once
#include <cstdint>
#include <utility>

#include "backends/types.h"

namespace margin {

// y = f(x; alpha, beta) elementwise. The derivative of each is in unary_backward.
enum class UnaryOp {
  Neg,        // -x
  Exp,        // e^x
  Log,        // ln x
  Sqrt,       // √x
  Abs,        // |x|      (derivative sign(x), 0 at 0)
  Relu,       // max(x, 0) (derivative 0 at 0, as PyTorch)
  Sigmoid,    // 1 / (1 + e^-x)
  Tanh,       // tanh x
  Pow,        // x^alpha
  AddScalar,  // x + alpha
  MulScalar,  // x · alpha
  Clamp,      // min(max(x, alpha), beta) (derivative 1 strictly inside, else 0)
  // arccos(min(max(x, −1), 1)) ∈ [0, π]: the input is clamped first, so a cosine that rounding
  // pushed to 1.0000001 gives 0, not NaN. Derivative −1/√(1 − x²) with 1 − x² floored at
  // 1e-12 (so |slope| ≤ 1e6): at |x| = 1 the true slope is infinite, and a finite one keeps
  // a feature that sits exactly on a class weight from turning the batch's gradient into
  // inf·0 = NaN. (alpha, beta unused.)
  Acos,
  Cos,        // cos x    (derivative −sin x)
};
const char* unary_name(UnaryOp op);

enum class BinaryOp { Add, Sub, Mul, Div };
const char* binary_name(BinaryOp op);

// Batch normalization over the channel dim 1 of x [N, C, H, W] or [N, C] (seen as
// [N, C, inner], inner = H·W or 1; statistics over the M = N·inner values of a channel).
struct BatchNormParams {
  double eps = 1e-5;       // added to the variance before the square root
  double momentum = 0.1;   // running ← (1 − momentum)·running + momentum·batch statistic
};

struct SgdParams {
  double lr = 0.1;
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

// Convolution geometry (NCHW). With x [N, C, H, W] and w [K, C/groups, R, S]:
//   P = (H + 2·pad_h − dilation_h·(R − 1) − 1) / stride_h + 1   (floor division)
//   Q = (W + 2·pad_w − dilation_w·(S − 1) − 1) / stride_w + 1
// Channels split into `groups` equal groups: output channel k reads input channels
// [g·C/groups, (g+1)·C/groups) with g = k / (K/groups); groups = C is depthwise.
struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;  // zeros on each side
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  DType operands = DType::F32;  // the products' operand type (header: "Products")
};

// Pooling geometry (NCHW, per channel): P = (H + 2·pad_h − kernel_h) / stride_h + 1 (floor),
// Q likewise. Requires pad ≤ kernel / 2 in each dim (as PyTorch), so every window holds at
// least one element of the input.
struct Pool2dParams {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  // Average pooling only: divide by kernel_h·kernel_w (padding counts, PyTorch's default)
  // or by the number of input elements inside the window.
  bool count_include_pad = true;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- memory -------------------------------------------------------------------------
  // allocate: returns `bytes` of device memory (uninitialised), never null; throws on failure.
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  // Blocks obtained from the system so far (a caching allocator reuses freed ones), and a
  // way to give the cached ones back.
  virtual size_t system_allocations() const = 0;
  virtual void release_cached() = 0;
  // Waits until every kernel issued so far has finished (timing; a no-op on the CPU).
  virtual void synchronize() = 0;
  // Host ↔ device transfers of a contiguous view's bytes.
  virtual void copy_from_host(const void* host, const View& dst) = 0;
  virtual void copy_to_host(const View& src, void* host) = 0;

  // ---- data movement ------------------------------------------------------------------
  // dst = src elementwise; same shape, any strides (src may broadcast with stride 0),
  // any dtypes (converted). dst must not overlap src.
  virtual void copy(const View& src, const View& dst) = 0;
  virtual void fill(const View& dst, double value) = 0;

  // ---- elementwise --------------------------------------------------------------------
  // y = op(x); x, y contiguous, same shape.
  virtual void unary(UnaryOp op, double alpha, double beta, const View& x, const View& y) = 0;
  // dx = dy · op'(x) (y = op(x) is given too: exp, sigmoid, tanh, sqrt use it).
  virtual void unary_backward(UnaryOp op, double alpha, double beta, const View& x,
                              const View& y, const View& dy, const View& dx) = 0;
  // out = a op b; out contiguous; a and b have out's shape, broadcast by stride-0 dims.
  virtual void binary(BinaryOp op, const View& a, const View& b, const View& out) = 0;
  // y += alpha · x, contiguous, same shape. The only accumulating kernel (autograd's).
  virtual void axpy(double alpha, const View& x, const View& y) = 0;

  // ---- reductions ---------------------------------------------------------------------
  // y = sum of x over every dim where y's size is 1 and x's is not. Same ndim; x contiguous.
  virtual void sum_to(const View& x, const View& y) = 0;
  // values[o, 0, i] = max_j x[o, j, i]; indices = the first j reaching it (x: [outer, n, inner]).
  virtual void max_along(const View& x, int axis, const View& values, const View& indices) = 0;

  // ---- linear algebra -----------------------------------------------------------------
  // c = alpha · op(a) · op(b) + beta · c, op = transpose when asked. 2-D [M, N] or batched
  // 3-D [batch, M, N]; contiguous. beta = 0 assigns (c's old content is ignored, NaN too).
  // `operands` as in the header's "Products".
  virtual void gemm(bool trans_a, bool trans_b, double alpha, const View& a, const View& b,
                    double beta, const View& c, DType operands) = 0;

  // ---- convolution and pooling (NCHW; all views contiguous; geometry as Conv2dParams) --
  // y[n, k, p, q] = Σ_{c, r, s} x[n, g·Cg + c, p·stride_h − pad_h + r·dilation_h,
  //                                           q·stride_w − pad_w + s·dilation_w] · w[k, c, r, s]
  // with Cg = C / groups, g = k / (K / groups), and x read as 0 outside [0, H) × [0, W).
  // x [N, C, H, W], w [K, Cg, R, S], y [N, K, P, Q]; y assigned. No bias (the op adds it).
  virtual void conv2d(const Conv2dParams& params, const View& x, const View& w,
                      const View& y) = 0;
  // dx = ∂(Σ y ⊙ dy)/∂x: every x element gets Σ dy[n, k, p, q] · w[k, c, r, s] over the
  // (k, p, q, r, s) that read it in the forward above. dx [N, C, H, W] assigned (elements
  // no window reads, e.g. past the last stride, are 0).
  virtual void conv2d_backward_data(const Conv2dParams& params, const View& dy, const View& w,
                                    const View& dx) = 0;
  // dw[k, c, r, s] = Σ_{n, p, q} dy[n, k, p, q] · x[n, g·Cg + c, p·stride_h − pad_h + r·dilation_h,
  //                                                 q·stride_w − pad_w + s·dilation_w]
  // (x = 0 outside the image). dw [K, Cg, R, S] assigned. The bias gradient is not here:
  // the op adds the bias by broadcasting, whose gradient is sum_to.
  virtual void conv2d_backward_filter(const Conv2dParams& params, const View& x, const View& dy,
                                      const View& dw) = 0;
  // y[n, c, p, q] = max over the window rows [p·stride_h − pad_h, + kernel_h) × columns
  // [q·stride_w − pad_w, + kernel_w) clipped to the image; argmax[n, c, p, q] = h·W + w of
  // the first maximum in row-major window order (an index into the [H, W] plane, as
  // PyTorch). x [N, C, H, W]; y and argmax (int64) [N, C, P, Q]; both assigned.
  virtual void max_pool2d(const Pool2dParams& params, const View& x, const View& y,
                          const View& argmax) = 0;
  // dx = 0, then dx[n, c, argmax[n, c, p, q]] += dy[n, c, p, q]. dx [N, C, H, W] assigned.
  virtual void max_pool2d_backward(const Pool2dParams& params, const View& dy,
                                   const View& argmax, const View& dx) = 0;
  // y[n, c, p, q] = (Σ of x over the window clipped to the image) / divisor, where divisor
  // = kernel_h·kernel_w when count_include_pad, else the clipped window's element count.
  // x [N, C, H, W], y [N, C, P, Q] assigned.
  virtual void avg_pool2d(const Pool2dParams& params, const View& x, const View& y) = 0;
  // dx[n, c, h, w] = Σ over the windows (p, q) holding (h, w) of dy[n, c, p, q] / divisor(p, q).
  // dx [N, C, H, W] assigned.
  virtual void avg_pool2d_backward(const Pool2dParams& params, const View& dy,
                                   const View& dx) = 0;

  // ---- softmax and normalization ------------------------------------------------------
  // y = softmax(x) or log_softmax(x) along `axis`, max-subtracted (stable at any scale).
  virtual void softmax(const View& x, int axis, bool log, const View& y) = 0;
  // dx from y and dy: softmax: y ⊙ (dy − Σ dy⊙y); log_softmax: dy − e^y · Σ dy.
  virtual void softmax_backward(const View& y, const View& dy, int axis, bool log,
                                const View& dx) = 0;
  // Rows of x [rows, d]: norms[r] = ‖x_r‖, y_r = x_r / max(‖x_r‖, eps).
  virtual void l2_normalize_rows(const View& x, double eps, const View& y,
                                 const View& norms) = 0;
  // dx_r = (dy_r − y_r (dy_r · y_r)) / ‖x_r‖ where ‖x_r‖ > eps, else dy_r / eps.
  virtual void l2_normalize_rows_backward(const View& y, const View& norms, const View& dy,
                                          double eps, const View& dx) = 0;

  // ---- batch norm and per-channel activations (x: [N, C, inner], contiguous) ---------
  // An "absent" view has data == nullptr (weight/bias without affine, running stats not
  // tracked, a gradient nobody needs). All per-channel views are [C], contiguous.
  // Training forward, batch statistics per channel c (sums accumulated in double):
  //   mean_c = (1/M) Σ x,  var_c = (1/M) Σ (x − mean_c)²  (biased: it normalizes),
  //   inv_std_c = 1/√(var_c + eps),  y = (x − mean_c)·inv_std_c·weight_c + bias_c
  //   (weight 1 and bias 0 when absent). Assigns y, saved_mean, saved_inv_std; when
  //   running_mean/var are present, updates them IN PLACE as PyTorch does, with the
  //   UNBIASED variance var_c · M/(M−1): running ← (1 − momentum)·running + momentum·stat.
  //   Requires M > 1. `kept` (absent, or bfloat16 of x's shape given a float32 x): x rounded
  //   to nearest even, as `copy` rounds it, the copy an op keeps for its backward under bf16
  //   autocast (core/precision.h), made by the pass that reads x anyway.
  //   `slopes` (absent, or a PReLU's [C] or [1]): y is that PReLU of the normalized values,
  //   u = (x − mean_c)·inv_std_c·weight_c + bias_c, y = u if u > 0 else a_c·u, with mean_c
  //   and inv_std_c as saved (in x's dtype), so that the backward recomputes the same u.
  //   `residual` (absent, or x's shape, contiguous): added last, y = u (or its PReLU) +
  //   residual, a residual block's sum (its gradient is dy: the backward is unchanged).
  virtual void batch_norm_forward_train(const BatchNormParams& params, const View& x,
                                        const View& weight, const View& bias, const View& slopes,
                                        const View& residual, const View& y, const View& saved_mean,
                                        const View& saved_inv_std, const View& running_mean,
                                        const View& running_var, const View& kept) = 0;
  // Eval forward with the running statistics: mean_c = running_mean_c,
  //   inv_std_c = 1/√(running_var_c + eps), y as above. Assigns y, saved_mean and
  //   saved_inv_std (so the one backward kernel serves both modes); running stats unchanged.
  //   `slopes` and `residual` as in training.
  virtual void batch_norm_forward_eval(const BatchNormParams& params, const View& x,
                                       const View& weight, const View& bias, const View& slopes,
                                       const View& residual, const View& running_mean,
                                       const View& running_var, const View& y,
                                       const View& saved_mean, const View& saved_inv_std) = 0;
  // Per channel, x̂ = (x − mean_c)·inv_std_c, w = weight_c (1 if absent):
  //   dbias_c = Σ dy,  dweight_c = Σ dy·x̂   (assigned when present)
  //   batch_stats (training): dx = w·inv_std_c/M · (M·dy − dbias_c − x̂·dweight_c)
  //   otherwise (eval, constant statistics): dx = w·inv_std_c · dy
  //   dx assigned when present.
  // With `slopes` (the forward's), dy is the gradient of the PReLU's output: the kernel
  //   recomputes u = x̂·w + bias_c (bias 0 when absent), takes g = dy if u > 0 else a_c·dy
  //   as the dy above, and assigns dslopes_c = Σ (u > 0 ? 0 : u·dy) (summed to [1] when
  //   shared) when present: prelu_backward's formulas at u.
  virtual void batch_norm_backward(bool batch_stats, const View& x, const View& dy,
                                   const View& weight, const View& bias, const View& slopes,
                                   const View& saved_mean, const View& saved_inv_std,
                                   const View& dx, const View& dweight, const View& dbias,
                                   const View& dslopes) = 0;
  // PReLU with slope a_c per channel (weight [C], or [1] shared by every channel):
  //   y = x if x > 0, else a_c·x. `kept` as batch norm's: absent, or x rounded to bfloat16.
  virtual void prelu(const View& x, const View& weight, const View& y, const View& kept) = 0;
  // PyTorch's convention, the x ≤ 0 branch at x = 0:
  //   dx = dy if x > 0 else a_c·dy;  dweight_c = Σ (x > 0 ? 0 : x·dy) over N and inner
  //   (summed to [1] when shared). Both assigned; either may be absent.
  // Dropout has no kernel: the op draws a host mask and multiplies with `binary`.
  virtual void prelu_backward(const View& x, const View& weight, const View& dy, const View& dx,
                              const View& dweight) = 0;

  // ---- fused margin head (losses/, core/ops/margin_head.cpp) ---------------------------
  // One cross-entropy over margin logits without materializing them more than once.
  // Requires x_hat [B, d] and w_hat [C, d] (unit rows; not re-checked), labels [B] int64 in
  // [−1, C) (−1 = ignored row), target_logit [B] (the margin-modified, already scaled logit
  // of each row's label), probs [B, C], loss [B], target_grad [B]; one floating dtype.
  // With z_bj = scale · x_hat_b · w_hat_j for j ≠ y_b and z_{b,y_b} = target_logit[b]:
  //   loss[b]        = log Σ_j e^{z_bj} − z_{b,y_b}               (max-subtracted, stable)
  //   probs[b, j]    = softmax(z_b)_j for j ≠ y_b, and 0 at j = y_b
  //   target_grad[b] = softmax(z_b)_{y_b} − 1                       (∂loss_b / ∂target_logit_b)
  // An ignored row (y_b = −1) assigns loss 0, a zero probs row and target_grad 0.
  // Without target_logit (data == nullptr) the margin is CosFace's, applied here:
  //   z_{b,y_b} = scale · (x_hat_b · w_hat_{y_b} − margin)          (NSL: margin 0)
  // and probs' target column keeps softmax(z_b)_{y_b} − 1, so that margin_head_backward's
  // two products carry the target logit's gradient as well; target_grad is then 0.
  // probs is the only B×C buffer: the GEMM writes the logits into it, then each row is
  // overwritten by its probabilities. All outputs are assigned.
  virtual void margin_head(const View& x_hat, const View& w_hat, const View& labels,
                           const View& target_logit, double scale, double margin,
                           const View& probs, const View& loss, const View& target_grad) = 0;
  // The gradient through the non-target logits, given probs from margin_head and dloss [B]:
  //   dx_hat = scale · diag(dloss) · probs · w_hat      [B, d]
  //   dw_hat = scale · probs^T · diag(dloss) · x_hat    [C, d]
  // (with a caller's target_logit, probs' target column is 0: the target logit's gradient is
  // dloss ⊙ target_grad, taken by the caller, since only the caller knows how the margin
  // made it; with CosFace's margin the column holds p − 1 and the products take it).
  // Assigns both; reads probs without changing it.
  virtual void margin_head_backward(const View& x_hat, const View& w_hat, const View& probs,
                                    const View& dloss, double scale, const View& dx_hat,
                                    const View& dw_hat) = 0;

  // The same head with the classes split over ranks (Partial FC: losses/partial_fc.cpp), in
  // two halves around the ranks' exchange of each row's normalizer. Here labels[b] ∈ [0, C) is
  // the row's class among this rank's C columns, and a label < 0 means the row's class is on
  // another rank (or the row is ignored): its logits are kept as they are.
  // First half: logits [B, C] ← z (the target column replaced exactly as in margin_head: by
  // target_logit[b], or without target_logit by scale · (x_hat_b · w_hat_{y_b} − margin)), and
  //   log_normalizer[b] = log Σ_j e^{z_bj}                       (this rank's columns only)
  virtual void margin_logits(const View& x_hat, const View& w_hat, const View& labels,
                             const View& target_logit, double scale, double margin,
                             const View& logits, const View& log_normalizer) = 0;
  // Second half, given lse [B], each row's normalizer over every rank's columns: in place,
  //   probs[b, j]    = e^{z_bj − lse_b}, the label column then as margin_head leaves it
  //                    (0 with the caller's target logit, p − 1 with CosFace's margin)
  //   loss[b]        = lse_b − z_{b,y_b} where the row's class is here, else 0
  //   target_grad[b] = p_{b,y_b} − 1 where the class is here and the caller made the target
  //                    logit (caller_target), else 0
  // so that margin_head_backward on probs gives this rank's part of dx_hat and its dw_hat.
  virtual void margin_softmax(const View& logits_to_probs, const View& labels, const View& lse,
                              bool caller_target, const View& loss, const View& target_grad) = 0;

  // ---- indexing -----------------------------------------------------------------------
  // Position (flat) of the first index outside [lo, hi), or -1 when all are inside.
  virtual int64_t find_out_of_range(const View& index, int64_t lo, int64_t hi) = 0;
  // y[o, k, i] = x[o, index[o, k, i], i]; requires 0 ≤ index < n (x: [outer, n, inner]).
  virtual void gather(const View& x, const View& index, int axis, const View& y) = 0;
  // dx = 0, then dx[o, index[o, k, i], i] += dy[o, k, i]: the adjoint of gather.
  virtual void gather_backward(const View& dy, const View& index, int axis, const View& dx) = 0;
  // out[o, index[o, k, i], i] = src[o, k, i] for every (o, k, i); other elements of out are
  // left as they are (the caller copies x into out first). Requires distinct indices per
  // (o, i) where the result must be deterministic.
  virtual void scatter(const View& src, const View& index, int axis, const View& out) = 0;
  // out[b, c] = (labels[b] == c); a label outside [0, C) (e.g. −1) gives a zero row.
  virtual void one_hot(const View& labels, const View& out) = 0;

  // ---- optimizer ----------------------------------------------------------------------
  // PyTorch's SGD: g = grad + wd·p; v = momentum·v + g; p −= lr·(nesterov ? g + momentum·v : v).
  virtual void sgd_step(const SgdParams& params, const View& param, const View& grad,
                        const View& velocity) = 0;
};

// The backend of a device. The registry (backends/registry.cpp) is the one place that
// knows which backends were built.
Backend& backend_for(Device device);
bool device_available(Device device);
// Whether this build of margin contains the backend of `type` (CUDA: configured with
// -DMARGIN_CUDA=ON), whether or not a device of that type is present.
bool backend_built(DeviceType type);
// Where tensors and module parameters are made when no device is named: CPU, or CUDA
// when margin was built with MARGIN_CUDA and a GPU is present, unless set_default_device
// chose another (PyTorch's torch.set_default_device). Set it before starting threads.
Device default_device();
// Throws, naming the device, when it is not available here.
void set_default_device(Device device);

}  // namespace margin
