// tests/gradcheck.h — the gradient checker every op, layer and loss test uses.
//
// For f(inputs) → any tensor, take the scalar L = Σ f(inputs) ⊙ R with a fixed random R (so
// every output element matters, each with its own weight), and compare autograd's ∂L/∂x with
// central finite differences in float64:  (L(x + ε e_i) − L(x − ε e_i)) / 2ε.
// An element passes when |analytic − numeric| ≤ atol + rtol · |numeric| (both 1e-6 by
// default); a failure prints the op, the input, the worst element and both values.
// Also the small helpers the tests share: error_of and contains for error messages, TempDir
// for files, assign for parameters, leaf tensors, bf16_rounded for mixed-precision references.
#pragma once
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/half.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"

namespace margin::testing {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-6;
};

// Returns "" when every checked gradient matches, else a report of the worst mismatch.
inline std::string gradcheck(const Fn& f, std::vector<Tensor> inputs,
                             GradcheckOptions options = {}) {
  Generator gen(1234);
  Tensor probe = f(inputs);
  Tensor weights = Tensor::randn(probe.shape(), gen, DType::F64, kCPU).to(probe.device());
  auto objective = [&]() { return sum(f(inputs) * weights); };

  for (Tensor& x : inputs)
    if (x.requires_grad()) x.zero_grad();
  objective().backward();

  std::ostringstream report;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    if (x.dtype() != DType::F64 || !x.is_contiguous())
      return "gradcheck needs contiguous float64 inputs";
    Tensor grad = x.grad();
    if (!grad.defined()) {
      report << "input " << k << " " << x.describe() << ": no gradient reached it\n";
      continue;
    }
    std::vector<double> analytic = grad.to_vector();
    std::vector<double> values = x.to_vector();
    // Element i of x set through its backend: x may live on a GPU.
    auto set = [&](int64_t i, double value) {
      View element = x.view();
      element.data = element.ptr<double>() + i;
      element.shape = element.strides = {1};
      backend_for(x.device()).copy_from_host(&value, element);
    };
    double worst = 0;
    int64_t worst_at = -1;
    double worst_analytic = 0, worst_numeric = 0;
    NoGradGuard no_grad;
    for (int64_t i = 0; i < x.numel(); ++i) {
      set(i, values[i] + options.eps);
      double plus = objective().item();
      set(i, values[i] - options.eps);
      double minus = objective().item();
      set(i, values[i]);
      double numeric = (plus - minus) / (2 * options.eps);
      double excess = std::abs(analytic[i] - numeric) / (options.atol + options.rtol * std::abs(numeric));
      if (excess > worst) {
        worst = excess;
        worst_at = i;
        worst_analytic = analytic[i];
        worst_numeric = numeric;
      }
    }
    if (worst > 1.0)
      report << "input " << k << " " << x.describe() << ": element " << worst_at
             << " analytic " << worst_analytic << " vs numeric " << worst_numeric
             << " (error " << worst << "× the allowed atol + rtol·|numeric|)\n";
  }
  return report.str();
}

// Each value rounded to bfloat16 (to nearest even) and back: the operands a bf16 product
// multiplies, for the references of the mixed-precision tests.
inline std::vector<double> bf16_rounded(const std::vector<double>& values) {
  std::vector<double> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = bf16_float(bf16_bits(static_cast<float>(values[i])));
  return out;
}

// Runs `body` and returns the margin::Error message it throws ("" if none), so a test can
// check that bad input is named in the message.
template <class F>
std::string error_of(F&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Whether `text` (an error message, a file) contains `part`.
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Test files written byte for byte, and the binary PGM (P5, maxval 255) of given pixels.
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
inline std::string as_text(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }
inline std::string pgm(int64_t width, int64_t height, const std::vector<uint8_t>& pixels) {
  std::string text = "P5\n";
  text += std::to_string(width);
  text += ' ';
  text += std::to_string(height);
  text += "\n255\n";
  return text + as_text(pixels);
}

// A fresh directory for the files one test writes (named after the test and the process),
// removed when the test ends.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("margin_" + name + "_" + std::to_string(getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  // Writes `text` to the file `name` here (replacing it) and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name), std::ios::binary) << text;
    return file(name);
  }
};

// Overwrites a tensor in place with host values (Tensor::copy_), on whichever device it
// lives: a layer or loss that holds the same handle sees the new values.
inline void assign(const Tensor& t, const std::vector<double>& values) {
  t.copy_(Tensor::from_vector(values, t.shape(), DType::F64, kCPU));
}

// A float64 leaf on the default device (the GPU in a CUDA build that has one), with values
// drawn uniformly from [low, high), requiring grad. The same values on every device.
inline Tensor leaf(const Shape& shape, Generator& gen, double low = -1.0, double high = 1.0) {
  return Tensor::uniform(shape, low, high, gen, DType::F64, kCPU).to(default_device()).requires_grad_();
}

// A leaf whose values keep at least `gap` away from 0 (for |x|, relu, division…).
inline Tensor leaf_away_from_zero(const Shape& shape, Generator& gen, double gap = 0.05) {
  std::vector<double> values(shape_numel(shape));
  for (double& v : values) {
    double magnitude = gen.uniform(gap, 1.0);
    v = gen.uniform() < 0.5 ? -magnitude : magnitude;
  }
  return Tensor::from_vector(values, shape, DType::F64, default_device()).requires_grad_();
}

}  // namespace margin::testing
