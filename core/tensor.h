// core/tensor.h — the N-d tensor: shared storage, shape and strides, a dtype, a device,
// and the autograd fields (requires_grad, grad, the node that made it).
//
// A Tensor is a cheap handle (one shared_ptr); copying it aliases the same tensor, as in
// PyTorch. Views (reshape of a contiguous tensor, transpose, slice) share storage.
// dtypes: float32 and float64 compute; bfloat16 and float16 are storage only (created,
// filled, copied, converted with .to(dtype), printed; an op on one refuses it); int64 holds
// labels and indices.
// Left out: in-place ops on tensors that autograd has saved (no version counters), other
// dtypes, and more than one output per op.
#pragma once
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace margin {

struct Node;
struct TensorImpl;
class Generator;

// A block of device memory, freed by its backend when the last view of it goes away.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: no storage, defined() is false

  // ---- factories ----
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = default_device());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = default_device());
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = default_device());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                     Device device = default_device());
  static Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::F32,
                      Device device = default_device());
  static Tensor uniform(const Shape& shape, double low, double high, Generator& gen,
                        DType dtype = DType::F32, Device device = default_device());
  // From host values (converted to dtype); values.size() must equal the shape's numel.
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            DType dtype = DType::F32, Device device = default_device());
  static Tensor from_indices(const std::vector<int64_t>& values, const Shape& shape,
                             Device device = default_device());
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = default_device());

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t size(int dim) const;  // negative dims count from the end
  int ndim() const;
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  View view() const;  // what kernels see
  std::string describe() const;  // "float32[2, 3] on cpu", for error messages

  // ---- data ----
  Tensor contiguous() const;  // itself when already contiguous, else a copy
  Tensor clone() const;
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor detach() const;  // same storage, no autograd history
  // Writes `source`'s values into this tensor, in place and outside autograd (converted to this
  // dtype and device; the shapes must be equal, the two must not overlap). How a user sets a
  // parameter: every module holding its handle sees the new values.
  void copy_(const Tensor& source) const;
  std::vector<double> to_vector() const;
  std::vector<int64_t> to_indices() const;
  double item() const;  // the value of a one-element tensor

  // ---- views (differentiable) ----
  Tensor reshape(const Shape& shape) const;  // one dim may be -1
  Tensor transpose(int dim0, int dim1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor slice(int dim, int64_t begin, int64_t end) const;

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const;
  Tensor grad() const;  // undefined until backward reaches this leaf
  void set_grad(const Tensor& grad);
  void zero_grad();  // drops the gradient (the next backward assigns it)
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> node);
  // Backpropagates from this tensor. A non-scalar needs a seed of its own shape.
  void backward(const Tensor& seed = Tensor()) const;

  // A parameter's constraint: a projection that optimizers apply to it, in place and outside
  // autograd, after every update of it (Keras's kernel_constraint). A normalized loss sets
  // one on its class weights to keep each row on the unit sphere, so no training loop can
  // forget to. Empty: none.
  using Constraint = std::function<void(const Tensor& param)>;
  void set_constraint(Constraint constraint);
  const Constraint& constraint() const;

  TensorImpl* impl() const { return impl_.get(); }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }
  long use_count() const { return impl_.use_count(); }  // handles sharing this tensor

  // A view on `storage` (internal: ops and factories use it).
  static Tensor make(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Shape strides,
                     DType dtype);

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape, strides;
  DType dtype = DType::F32;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  Tensor::Constraint constraint;
};

std::ostream& operator<<(std::ostream& out, const Tensor& tensor);

// Throws unless `tensor` has exactly `shape` (-1 matches any size); `what` names the caller.
void check_shape(const Tensor& tensor, const Shape& shape, const std::string& what);

}  // namespace margin
