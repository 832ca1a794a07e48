// core/precision.cpp — the precision names and the autocast scope (precision.h).
#include "core/precision.h"

namespace margin {

namespace {
thread_local Precision current = Precision::FP32;
}  // namespace

Precision parse_precision(const std::string& text, const std::string& what) {
  if (text == "fp32") return Precision::FP32;
  if (text == "bf16") return Precision::BF16;
  if (text == "fp16") return Precision::FP16;
  fail(what, " '", text, "': expected fp32, bf16 or fp16");
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::FP32: return "fp32";
    case Precision::BF16: return "bf16";
    case Precision::FP16: return "fp16";
  }
  return "?";
}

DType product_operands(Precision precision) {
  switch (precision) {
    case Precision::BF16: return DType::BF16;
    case Precision::FP16: return DType::F16;
    default: return DType::F32;
  }
}

void check_precision(Precision precision, Device device) {
  if (precision == Precision::FP16 && device.type == DeviceType::CPU)
    fail("precision fp16 runs on CUDA only (with a loss scaler); on ", device.str(), " use bf16 or fp32");
}

AutocastScope::AutocastScope(Precision precision) : previous_(current) { current = precision; }
AutocastScope::~AutocastScope() { current = previous_; }

Precision autocast_precision() { return current; }

DType saved_activation_dtype(DType dtype) {
  return current == Precision::BF16 && dtype == DType::F32 ? DType::BF16 : dtype;
}

}  // namespace margin
