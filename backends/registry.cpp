// backends/registry.cpp — which backends exist. The only place above a backend's own folder
// that knows whether margin was built with CUDA.
#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#ifdef MARGIN_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace margin {

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Pow: return "pow";
    case UnaryOp::AddScalar: return "add_scalar";
    case UnaryOp::MulScalar: return "mul_scalar";
    case UnaryOp::Clamp: return "clamp";
    case UnaryOp::Acos: return "acos";
    case UnaryOp::Cos: return "cos";
  }
  return "?";
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "?";
}

Backend& backend_for(Device device) {
  if (device.type == DeviceType::CPU) {
    static CpuBackend cpu;
    return cpu;
  }
#ifdef MARGIN_CUDA
  return cuda_backend(device.index);
#else
  fail("device ", device.str(), " requested, but margin was built without CUDA "
       "(configure with -DMARGIN_CUDA=ON)");
#endif
}

bool device_available(Device device) {
  if (device.type == DeviceType::CPU) return true;
#ifdef MARGIN_CUDA
  return cuda_device_count() > device.index;
#else
  return false;
#endif
}

bool backend_built(DeviceType type) {
  if (type == DeviceType::CPU) return true;
#ifdef MARGIN_CUDA
  return true;
#else
  return false;
#endif
}

namespace {
Device& chosen_default() {
  static Device device =
      device_available(Device{DeviceType::CUDA, 0}) ? Device{DeviceType::CUDA, 0} : kCPU;
  return device;
}
}  // namespace

Device default_device() { return chosen_default(); }

void set_default_device(Device device) {
  if (!device_available(device))
    fail("set_default_device: ", device.str(), " is not available here",
         backend_built(device.type) ? " (no such device visible)"
                                    : " (margin was built without CUDA: -DMARGIN_CUDA=ON)");
  chosen_default() = device;
}

}  // namespace margin
