// core/tensor.cpp — storage, factories, metadata, host transfers and printing.
// The differentiable views (reshape, transpose, slice) live with the other ops in core/ops.
#include "core/tensor.h"

#include <iomanip>
#include <ostream>

#include "core/autograd.h"
#include "core/checked.h"
#include "core/random.h"

namespace margin {

Storage::Storage(size_t bytes_, Device device_)
    : data(backend_for(device_).allocate(bytes_)), bytes(bytes_), device(device_) {}

Storage::~Storage() { backend_for(device).deallocate(data, bytes); }

Tensor Tensor::make(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Shape strides,
                    DType dtype) {
  Tensor t;
  t.impl_ = std::make_shared<TensorImpl>();
  t.impl_->storage = std::move(storage);
  t.impl_->offset = offset;
  t.impl_->shape = std::move(shape);
  t.impl_->strides = std::move(strides);
  t.impl_->dtype = dtype;
  return t;
}

// ---- factories ----------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t size : shape)
    if (size < 0) fail("Tensor::empty: negative size in shape ", shape_str(shape));
  const int64_t bytes = checked_product({shape_numel(shape), static_cast<int64_t>(dtype_size(dtype))},
                                        std::string("Tensor::empty: ") + dtype_name(dtype) + shape_str(shape) + " in bytes");
  auto storage = std::make_shared<Storage>(static_cast<size_t>(bytes), device);
  return make(std::move(storage), 0, shape, contiguous_strides(shape), dtype);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend_for(device).fill(t.view(), value);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full({}, value, dtype, device);
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype,
                           Device device) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    fail("Tensor::from_vector: ", values.size(), " values for shape ", shape_str(shape),
         " (expected ", shape_numel(shape), ")");
  Tensor host = make(std::make_shared<Storage>(values.size() * 8, kCPU), 0, shape,
                     contiguous_strides(shape), DType::F64);
  backend_for(kCPU).copy_from_host(values.data(), host.view());
  return host.to(dtype).to(device);
}

Tensor Tensor::from_indices(const std::vector<int64_t>& values, const Shape& shape,
                            Device device) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    fail("Tensor::from_indices: ", values.size(), " values for shape ", shape_str(shape),
         " (expected ", shape_numel(shape), ")");
  Tensor t = empty(shape, DType::I64, device);
  backend_for(device).copy_from_host(values.data(), t.view());
  return t;
}

// Drawn straight into a host tensor of the asked dtype (the values are the same as through
// from_vector: each double draw rounded once), so that a large W costs its own size only.
// A 16-bit dtype is drawn in float64 first, for the same single rounding.
template <class Draw>
static Tensor drawn(const char* what, const Shape& shape, DType dtype, Device device, Draw draw) {
  if (is_half(dtype)) return drawn(what, shape, DType::F64, kCPU, draw).to(dtype).to(device);
  if (!is_floating(dtype)) fail(what, ": expected a floating dtype, got ", dtype_name(dtype));
  Tensor host = Tensor::empty(shape, dtype, kCPU);
  const int64_t n = host.numel();
  if (dtype == DType::F32) {
    float* p = host.view().ptr<float>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(draw());
  } else {
    double* p = host.view().ptr<double>();
    for (int64_t i = 0; i < n; ++i) p[i] = draw();
  }
  return device == kCPU ? host : host.to(device);
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return drawn("Tensor::randn", shape, dtype, device, [&] { return gen.normal(); });
}

Tensor Tensor::uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype,
                       Device device) {
  return drawn("Tensor::uniform", shape, dtype, device, [&] { return gen.uniform(low, high); });
}

// ---- metadata -----------------------------------------------------------------------------

static TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) fail("use of an undefined Tensor (default-constructed, or a missing gradient)");
  return *impl;
}

const Shape& Tensor::shape() const { return checked(impl_).shape; }
const Shape& Tensor::strides() const { return checked(impl_).strides; }
int Tensor::ndim() const { return static_cast<int>(shape().size()); }
int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device; }
bool Tensor::is_contiguous() const { return view().is_contiguous(); }

int64_t Tensor::size(int dim) const {
  int n = ndim();
  if (dim < -n || dim >= n) fail("size(", dim, "): no such dim in ", describe());
  return shape()[dim < 0 ? dim + n : dim];
}

View Tensor::view() const {
  TensorImpl& t = checked(impl_);
  char* base = static_cast<char*>(t.storage->data);
  return View{base + t.offset * dtype_size(t.dtype), t.dtype, t.storage->device, t.shape,
              t.strides};
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " on " + device().str();
}

void check_shape(const Tensor& tensor, const Shape& shape, const std::string& what) {
  bool ok = tensor.ndim() == static_cast<int>(shape.size());
  for (size_t i = 0; ok && i < shape.size(); ++i)
    ok = shape[i] == -1 || shape[i] == tensor.shape()[i];
  if (!ok) fail(what, ": expected shape ", shape_str(shape), ", got ", tensor.describe());
}

// ---- data ---------------------------------------------------------------------------------

Tensor Tensor::clone() const {
  Tensor copy = empty(shape(), dtype(), device());
  backend_for(device()).copy(view(), copy.view());
  return copy;
}

void Tensor::copy_(const Tensor& source) const {
  if (!source.defined() || source.shape() != shape())
    fail("copy_: expected values of shape ", shape_str(shape()), " for ", describe(), ", got ",
         source.defined() ? source.describe() : std::string("an undefined tensor"));
  Tensor here = source.detach().to(device());  // the dtype is converted by the copy
  backend_for(device()).copy(here.view(), view());
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  // A differentiable copy: the gradient passes straight through.
  return record(clone(), "contiguous", {*this},
                [](const Tensor& grad) { return std::vector<Tensor>{grad}; });
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor converted = empty(shape(), target, device());
  backend_for(device()).copy(view(), converted.view());
  DType source = dtype();
  return record(converted, "to_dtype", {*this},
                [source](const Tensor& grad) { return std::vector<Tensor>{grad.to(source)}; });
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor source = contiguous();
  Tensor moved = empty(shape(), dtype(), target);
  if (target.type == DeviceType::CPU) {
    backend_for(device()).copy_to_host(source.view(), moved.view().data);
  } else {
    if (device().type != DeviceType::CPU) source = source.to(kCPU);  // device → host → device
    backend_for(target).copy_from_host(source.view().data, moved.view());
  }
  Device from = device();
  return record(moved, "to_device", {*this},
                [from](const Tensor& grad) { return std::vector<Tensor>{grad.to(from)}; });
}

Tensor Tensor::detach() const {
  TensorImpl& t = checked(impl_);
  return make(t.storage, t.offset, t.shape, t.strides, t.dtype);
}

std::vector<double> Tensor::to_vector() const {
  Tensor host = detach().to(kCPU).to(DType::F64).contiguous();
  std::vector<double> values(numel());
  backend_for(kCPU).copy_to_host(host.view(), values.data());
  return values;
}

std::vector<int64_t> Tensor::to_indices() const {
  if (dtype() != DType::I64) fail("to_indices: expected an int64 tensor, got ", describe());
  Tensor host = detach().to(kCPU).contiguous();
  std::vector<int64_t> values(numel());
  backend_for(kCPU).copy_to_host(host.view(), values.data());
  return values;
}

double Tensor::item() const {
  if (numel() != 1) fail("item(): expected a one-element tensor, got ", describe());
  return to_vector()[0];
}

// ---- autograd fields ----------------------------------------------------------------------

bool Tensor::requires_grad() const { return checked(impl_).requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  if (on && !is_floating(dtype()))
    fail("requires_grad_: only float32 and float64 tensors can require grad, got ", describe(),
         dtype_hint(dtype()));
  checked(impl_).requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return checked(impl_).grad_fn == nullptr; }
Tensor Tensor::grad() const { return checked(impl_).grad; }
void Tensor::set_grad(const Tensor& grad) { checked(impl_).grad = grad; }
void Tensor::zero_grad() { checked(impl_).grad = Tensor(); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked(impl_).grad_fn; }
void Tensor::set_grad_fn(std::shared_ptr<Node> node) {
  checked(impl_).grad_fn = std::move(node);
  impl_->requires_grad = impl_->grad_fn != nullptr;
}
void Tensor::backward(const Tensor& seed) const { run_backward(*this, seed); }
void Tensor::set_constraint(Constraint constraint) { checked(impl_).constraint = std::move(constraint); }
const Tensor::Constraint& Tensor::constraint() const { return checked(impl_).constraint; }

// ---- printing -----------------------------------------------------------------------------

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) {
  out << "Tensor(" << tensor.describe();
  if (!tensor.defined()) return out << ")";
  out << ", values=[";
  std::vector<double> values = tensor.to_vector();
  const size_t shown = 16;
  for (size_t i = 0; i < values.size() && i < shown; ++i)
    out << (i ? ", " : "") << std::setprecision(6) << values[i];
  if (values.size() > shown) out << ", … (" << values.size() << " in all)";
  return out << "])";
}

}  // namespace margin
