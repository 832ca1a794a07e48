// backends/backend.h — the one list of kernels that every backend provides.
//
// core/ calls these and nothing else to touch tensor memory; backends/cpu and
// backends/cuda implement all of them, so a kernel missing from one fails to compile.
//
// Conventions, stated once:
//  * Every View lives on the backend's own device. Shapes are already checked by the
//    caller (core/ops): a kernel "requires" what its contract says and does not re-check.
//  * Floating kernels accept float32 and float64 (all operands of one call share the dtype);
//    indices are int64.
//  * Outputs are ASSIGNED (overwritten), never accumulated into — with the one explicit
//    exception of `axpy`, which autograd uses to add into `.grad`. "Backward kernels assign;
//    autograd alone accumulates."
//  * Axis kernels see their input as [outer, n, inner] around the axis; the caller passes
//    contiguous views and the axis.
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
};
const char* unary_name(UnaryOp op);

enum class BinaryOp { Add, Sub, Mul, Div };
const char* binary_name(BinaryOp op);

struct SgdParams {
  double lr = 0.1;
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
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
  virtual void gemm(bool trans_a, bool trans_b, double alpha, const View& a, const View& b,
                    double beta, const View& c) = 0;

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
// CPU, or CUDA when margin was built with MARGIN_CUDA and a GPU is present.
Device default_device();

}  // namespace margin
