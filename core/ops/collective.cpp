// core/ops/collective.cpp — the differentiable collectives: all_gather_rows and its adjoint.
//
// y = [x_0; x_1; …; x_{N−1}] (rank r's rows x_r), the same y on every rank. When every rank
// goes on to compute the same scalar L from y, rank r's backward holds ∂L_r/∂y for its own
// part of the computation, and ∂L/∂x_r = Σ_q (∂L_q/∂y)[rows of r]: a reduce_scatter.
#include "core/ops/common.h"

namespace margin {
using namespace ops;

Tensor all_gather_rows(const Tensor& x, Communicator& comm) {
  const char* op = "all_gather_rows";
  if (!x.defined() || x.ndim() < 1) fail(op, ": expected a tensor with rows, got ", x.defined() ? x.describe() : "an undefined tensor");
  if (!comm.serves(x.device())) fail(op, ": the ", comm.name(), " communicator cannot move ", x.describe());
  // Every rank's row count, to place the parts.
  Tensor mine = Tensor::from_indices({x.size(0)}, {1}, kCPU);
  Tensor rows = Tensor::empty({comm.size()}, DType::I64, kCPU);
  Communicator& control = host_communicator(comm);
  std::vector<int64_t> ones(comm.size(), 1);
  control.all_gather(mine.view(), rows.view(), ones);
  std::vector<int64_t> row_counts = rows.to_indices(), counts(comm.size());
  const int64_t row_size = shape_numel(Shape(x.shape().begin() + 1, x.shape().end()));
  int64_t total = 0;
  for (int r = 0; r < comm.size(); ++r) {
    counts[r] = row_counts[r] * row_size;
    total += row_counts[r];
  }
  Shape shape = x.shape();
  shape[0] = total;
  Tensor data = contiguous_data(x);
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  comm.all_gather(data.view(), y.view(), counts);
  if (!is_floating(x.dtype())) return y;
  Shape x_shape = x.shape();
  return record(y, op, {x}, [=, &comm](const Tensor& grad) {
    Tensor dy = contiguous_data(grad);
    Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
    comm.reduce_scatter(dy.view(), dx.view(), counts);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace margin
