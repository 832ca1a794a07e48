// tests/test_cuda.cpp — what the CUDA backend promises beyond matching the CPU (that is
// tests/test_parity.cpp): buffers are reused in a steady training loop, failures become
// margin::Error naming the CUDA call, strided copies convert dtypes, index checks find the
// first bad position. Without a GPU each of those is reported as skipped (tests/skip.h), and
// the one that runs there checks that a missing GPU is reported as absent, not as an error.
#include <doctest/doctest.h>

#include "skip.h"

#include "core/ops.h"
#include "core/optim.h"
#include "core/random.h"

namespace margin {
namespace {

const Device kGpu{DeviceType::CUDA, 0};

bool have_gpu() {
  if (device_available(kGpu)) return true;
  testing::skip(backend_built(DeviceType::CUDA) ? "no CUDA device (built with CUDA, but the driver sees no GPU)"
                                                : "no CUDA device (margin was built without CUDA)");
  return false;
}

TEST_CASE("without a GPU, CUDA is absent and the CPU is the default, never an error (needs a machine without one)") {
  if (device_available(kGpu)) return testing::skip("this machine has a CUDA device");
  CHECK(default_device() == kCPU);
  CHECK_THROWS_AS(backend_for(kGpu), Error);
}

TEST_CASE("a steady-state training step on the GPU allocates nothing new (needs a CUDA device)") {
  if (!have_gpu()) return;
  Generator gen(1);
  Tensor weight = Tensor::randn({64, 32}, gen, DType::F32, kGpu).requires_grad_();
  Tensor x = Tensor::randn({16, 32}, gen, DType::F32, kGpu);
  Tensor labels = Tensor::from_indices(std::vector<int64_t>(16, 3), {16, 1}, kGpu);
  SGD sgd({weight}, {0.1, 0.9, 1e-4, false});
  Backend& gpu = backend_for(kGpu);
  size_t after_warmup = 0;
  for (int step = 0; step < 8; ++step) {
    if (step == 3) after_warmup = gpu.system_allocations();
    sgd.zero_grad();
    Tensor cos_theta = matmul(l2_normalize(x), l2_normalize(weight), false, true);
    Tensor loss = -mean(gather(log_softmax(cos_theta * 30.0), 1, labels));
    loss.backward();
    sgd.step();
  }
  CHECK(gpu.system_allocations() == after_warmup);
}

TEST_CASE("a failed CUDA call is a margin::Error that names the call (needs a CUDA device)") {
  if (!have_gpu()) return;
  Backend& gpu = backend_for(kGpu);
  size_t absurd = size_t(1) << 52;  // 4 PiB
  std::string message;
  try {
    gpu.allocate(absurd);
  } catch (const Error& error) {
    message = error.what();
  }
  CHECK_MESSAGE(message.find("cudaMalloc") != std::string::npos, "got: " << message);
  // The backend is still usable afterwards.
  CHECK(Tensor::full({3}, 2.0, DType::F32, kGpu).to_vector() == std::vector<double>{2, 2, 2});
}

TEST_CASE("copies on the GPU follow strides and convert dtypes (needs a CUDA device)") {
  if (!have_gpu()) return;
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::F64, kGpu);
  CHECK(x.t().contiguous().to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(x.t().to(DType::F32).to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(x.to(DType::I64).to_indices() == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  CHECK(x.slice(1, 1, 3).contiguous().to_vector() == std::vector<double>{2, 3, 5, 6});
  CHECK(x.to(kCPU).to(kGpu).to_vector() == x.to_vector());
}

TEST_CASE("find_out_of_range returns the first bad position on the GPU (needs a CUDA device)") {
  if (!have_gpu()) return;
  Backend& gpu = backend_for(kGpu);
  Tensor index = Tensor::from_indices({0, 3, 7, -1, 2}, {5}, kGpu);
  CHECK(gpu.find_out_of_range(index.view(), 0, 5) == 2);
  CHECK(gpu.find_out_of_range(index.view(), -1, 8) == -1);
  CHECK_THROWS_AS(gather(Tensor::zeros({5, 4}, DType::F32, kGpu), 1, index.reshape({5, 1})),
                  Error);
}

}  // namespace
}  // namespace margin
