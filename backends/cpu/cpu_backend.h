// backends/cpu/cpu_backend.h — the CPU backend: Eigen for dense algebra, OpenMP for loops.
// Each kernel's contract is in backends/backend.h; the definitions are split by family
// across this folder (memory, elementwise, reduce, linalg, conv, pool, rows, norm, index,
// optim).
#pragma once
#include "backends/backend.h"

namespace margin {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return kCPU; }

  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  size_t system_allocations() const override;
  void release_cached() override;
  void synchronize() override {}
  void copy_from_host(const void* host, const View& dst) override;
  void copy_to_host(const View& src, void* host) override;

  void copy(const View& src, const View& dst) override;
  void fill(const View& dst, double value) override;

  void unary(UnaryOp op, double alpha, double beta, const View& x, const View& y) override;
  void unary_backward(UnaryOp op, double alpha, double beta, const View& x, const View& y,
                      const View& dy, const View& dx) override;
  void binary(BinaryOp op, const View& a, const View& b, const View& out) override;
  void axpy(double alpha, const View& x, const View& y) override;

  void sum_to(const View& x, const View& y) override;
  void max_along(const View& x, int axis, const View& values, const View& indices) override;

  void gemm(bool trans_a, bool trans_b, double alpha, const View& a, const View& b, double beta,
            const View& c) override;

  void conv2d(const Conv2dParams& params, const View& x, const View& w, const View& y) override;
  void conv2d_backward_data(const Conv2dParams& params, const View& dy, const View& w,
                            const View& dx) override;
  void conv2d_backward_filter(const Conv2dParams& params, const View& x, const View& dy,
                              const View& dw) override;
  void max_pool2d(const Pool2dParams& params, const View& x, const View& y,
                  const View& argmax) override;
  void max_pool2d_backward(const Pool2dParams& params, const View& dy, const View& argmax,
                           const View& dx) override;
  void avg_pool2d(const Pool2dParams& params, const View& x, const View& y) override;
  void avg_pool2d_backward(const Pool2dParams& params, const View& dy, const View& dx) override;

  void softmax(const View& x, int axis, bool log, const View& y) override;
  void softmax_backward(const View& y, const View& dy, int axis, bool log,
                        const View& dx) override;
  void l2_normalize_rows(const View& x, double eps, const View& y, const View& norms) override;
  void l2_normalize_rows_backward(const View& y, const View& norms, const View& dy, double eps,
                                  const View& dx) override;

  void batch_norm_forward_train(const BatchNormParams& params, const View& x, const View& weight,
                                const View& bias, const View& y, const View& saved_mean,
                                const View& saved_inv_std, const View& running_mean,
                                const View& running_var) override;
  void batch_norm_forward_eval(const BatchNormParams& params, const View& x, const View& weight,
                               const View& bias, const View& running_mean,
                               const View& running_var, const View& y, const View& saved_mean,
                               const View& saved_inv_std) override;
  void batch_norm_backward(bool batch_stats, const View& x, const View& dy, const View& weight,
                           const View& saved_mean, const View& saved_inv_std, const View& dx,
                           const View& dweight, const View& dbias) override;
  void prelu(const View& x, const View& weight, const View& y) override;
  void prelu_backward(const View& x, const View& weight, const View& dy, const View& dx,
                      const View& dweight) override;

  void margin_head(const View& x_hat, const View& w_hat, const View& labels,
                   const View& target_logit, double scale, double margin, const View& probs,
                   const View& loss, const View& target_grad) override;
  void margin_head_backward(const View& x_hat, const View& w_hat, const View& probs,
                            const View& dloss, double scale, const View& dx_hat,
                            const View& dw_hat) override;

  int64_t find_out_of_range(const View& index, int64_t lo, int64_t hi) override;
  void gather(const View& x, const View& index, int axis, const View& y) override;
  void gather_backward(const View& dy, const View& index, int axis, const View& dx) override;
  void scatter(const View& src, const View& index, int axis, const View& out) override;
  void one_hot(const View& labels, const View& out) override;

  void sgd_step(const SgdParams& params, const View& param, const View& grad,
                const View& velocity) override;
};

}  // namespace margin
