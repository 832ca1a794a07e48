// tests/test_tensor.cpp — tensor factories, views sharing storage, conversions, printing,
// the errors bad shapes and dtypes raise, and the caching pool's reuse of blocks.
#include "gradcheck.h"

#include <sstream>

#include "backends/caching_pool.h"
#include "core/flags.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/threads.h"

namespace margin {
namespace {

using testing::error_of;

TEST_CASE("factories fill, shape and seed as asked") {
  Tensor zeros = Tensor::zeros({2, 3}, DType::F64, kCPU);
  CHECK(zeros.shape() == Shape{2, 3});
  CHECK(zeros.strides() == Shape{3, 1});
  CHECK(zeros.to_vector() == std::vector<double>(6, 0.0));
  CHECK(Tensor::ones({4}, DType::F32, kCPU).to_vector() == std::vector<double>(4, 1.0));
  CHECK(Tensor::full({2}, 2.5, DType::F32, kCPU).to_vector() == std::vector<double>{2.5, 2.5});
  CHECK(Tensor::scalar(3.0, DType::F64, kCPU).ndim() == 0);
  CHECK(Tensor::scalar(3.0, DType::F64, kCPU).item() == 3.0);

  Generator a(42), b(42), c(43);
  Tensor ra = Tensor::randn({1000}, a, DType::F64, kCPU);
  CHECK(ra.to_vector() == Tensor::randn({1000}, b, DType::F64, kCPU).to_vector());
  CHECK(ra.to_vector() != Tensor::randn({1000}, c, DType::F64, kCPU).to_vector());
  double m = mean(ra).item();
  double var = mean(pow(ra - m, 2.0)).item();
  CHECK(std::abs(m) < 0.1);  // 1000 draws of N(0, 1): mean within ~3 standard errors
  CHECK(var == doctest::Approx(1.0).epsilon(0.1));
  std::vector<double> u = Tensor::uniform({1000}, 2.0, 3.0, a, DType::F64, kCPU).to_vector();
  for (double v : u) REQUIRE((v >= 2.0 && v < 3.0));
}

TEST_CASE("views share storage, contiguous() copies only when needed") {
  Tensor x = Tensor::from_vector({0, 1, 2, 3, 4, 5}, {2, 3}, DType::F32, kCPU);
  Tensor r = x.reshape({3, 2});
  Tensor t = x.t();
  Tensor s = x.slice(1, 1, 3);
  CHECK(r.view().data == x.view().data);
  CHECK(t.view().data == x.view().data);
  CHECK(t.strides() == Shape{1, 3});
  CHECK_FALSE(t.is_contiguous());
  CHECK(s.view().data == static_cast<float*>(x.view().data) + 1);
  CHECK(x.contiguous().view().data == x.view().data);
  CHECK(t.contiguous().view().data != x.view().data);
  CHECK(t.contiguous().to_vector() == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(x.reshape({-1}).shape() == Shape{6});
  CHECK(x.reshape({1, -1, 1}).shape() == Shape{1, 6, 1});
  // Writing through a view is seen by the base tensor.
  static_cast<float*>(r.view().data)[5] = 50;
  CHECK(x.to_vector()[5] == 50);
}

TEST_CASE("dtype conversion, clone and detach") {
  Tensor x = Tensor::from_vector({1.5, -2.25}, {2}, DType::F64, kCPU);
  CHECK(x.to(DType::F32).dtype() == DType::F32);
  CHECK(x.to(DType::F32).to_vector() == std::vector<double>{1.5, -2.25});
  CHECK(x.to(DType::I64).to_indices() == std::vector<int64_t>{1, -2});
  Tensor c = x.clone();
  CHECK(c.view().data != x.view().data);
  x.requires_grad_();
  CHECK_FALSE(x.detach().requires_grad());
  CHECK(x.detach().view().data == x.view().data);
}

TEST_CASE("copy_ writes values into a tensor in place: every handle sees them, dtype and device converted") {
  Tensor weight = Tensor::zeros({2, 2}, DType::F32, default_device()).requires_grad_();
  Tensor handle = weight;  // as a layer and its optimizer share one parameter
  weight.copy_(Tensor::from_vector({1, 2, 3, 4.5}, {2, 2}, DType::F64, kCPU));
  CHECK(handle.to_vector() == std::vector<double>{1, 2, 3, 4.5});
  CHECK(weight.dtype() == DType::F32);
  CHECK(weight.is_leaf());  // outside autograd: the parameter stays a leaf
  // Into a strided view: only the viewed elements change.
  weight.t().slice(0, 1, 2).copy_(Tensor::from_vector({-1, -2}, {1, 2}));
  CHECK(handle.to_vector() == std::vector<double>{1, -1, 3, -2});
  std::string error = testing::error_of([&] { weight.copy_(Tensor::zeros({4})); });
  CHECK_MESSAGE(testing::contains(error, "copy_: expected values of shape [2, 2]"), error);
}

TEST_CASE("printing names dtype, shape, device and the first values") {
  std::ostringstream out;
  out << Tensor::from_vector({1, 2, 3}, {3}, DType::F32, kCPU);
  CHECK(out.str() == "Tensor(float32[3] on cpu, values=[1, 2, 3])");
  std::ostringstream many;
  many << Tensor::zeros({40}, DType::F32, kCPU);
  CHECK(many.str().find("(40 in all)") != std::string::npos);
}

TEST_CASE("bad input names the op, the shapes and what was expected") {
  Tensor a = Tensor::zeros({2, 3}, DType::F32, kCPU);
  Tensor b = Tensor::zeros({4, 3}, DType::F32, kCPU);
  Tensor d = Tensor::zeros({2, 3}, DType::F64, kCPU);
  CHECK(error_of([&] { add(a, b); }) ==
        "add: shapes [2, 3] and [4, 3] do not broadcast (sizes must match or be 1, aligned from the right)");
  CHECK(error_of([&] { mul(a, d); }).find("mul: operands of different dtypes: float32[2, 3] on cpu and float64[2, 3] on cpu") == 0);
  CHECK(error_of([&] { matmul(a, a); }).find("matmul: inner sizes differ: op(a) is 2x3 and op(b) is 2x3") == 0);
  CHECK(error_of([&] { matmul(a, a.reshape({1, 2, 3})); }).find("matmul: expected two 2-D or two 3-D") == 0);
  CHECK(error_of([&] { a.reshape({4, 2}); }) == "reshape: cannot view float32[2, 3] on cpu (6 elements) as [4, 2]");
  CHECK(error_of([&] { a.slice(1, 2, 5); }).find("slice: [2, 5) is not inside [0, 3]") == 0);
  CHECK(error_of([&] { sum(a, 2); }) == "sum: axis 2 is out of range for float32[2, 3] on cpu");
  CHECK(error_of([&] { gather(a, 1, Tensor::from_indices({0, 3}, {2, 1}, kCPU)); }) ==
        "gather: index 3 at flat position 1 is outside [0, 3) along axis 1 of float32[2, 3] on cpu");
  CHECK(error_of([&] { gather(a, 1, Tensor::from_indices({0}, {1, 1}, kCPU)); }).find("gather: index int64[1, 1] on cpu must match x") == 0);
  CHECK(error_of([&] { one_hot(Tensor::from_indices({0, 7, 1}, {3}, kCPU), 5); }) ==
        "one_hot: label 7 in row 1 is outside [0, 5) (or −1 for an ignored row)");
  CHECK(error_of([&] { exp(Tensor::from_indices({1}, {1}, kCPU)); }) ==
        "exp: expected a float32 or float64 tensor, got int64[1] on cpu");
  CHECK(error_of([&] { Tensor::from_vector({1, 2}, {3}); }) == "Tensor::from_vector: 2 values for shape [3] (expected 3)");
  CHECK(error_of([&] { a.item(); }) == "item(): expected a one-element tensor, got float32[2, 3] on cpu");
  CHECK(error_of([&] { Tensor().shape(); }).find("undefined Tensor") != std::string::npos);
  CHECK(error_of([&] { a.to(Device{DeviceType::CUDA, 99}); }).find("cuda:99") != std::string::npos);
  CHECK(error_of([&] { concat({a, b.reshape({3, 4})}, 0); }).find("concat: float32[3, 4] on cpu does not match float32[2, 3] on cpu outside axis 0") == 0);
}

TEST_CASE("devices are named as --device flags take them, the default device can be set") {
  CHECK(parse_device("cpu") == kCPU);
  CHECK(parse_device("cuda") == Device{DeviceType::CUDA, 0});
  CHECK(parse_device("cuda:1") == Device{DeviceType::CUDA, 1});
  CHECK(parse_device(Device{DeviceType::CUDA, 3}.str()) == Device{DeviceType::CUDA, 3});
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""})
    CHECK(error_of([&] { parse_device(bad); }) ==
          "unknown device '" + std::string(bad) + "' (expected cpu, cuda or cuda:N)");

  Device before = default_device();
  set_default_device(kCPU);
  CHECK(default_device() == kCPU);
  CHECK(Tensor::zeros({2}).device() == kCPU);
  set_default_device(before);
  CHECK(default_device() == before);
  CHECK(error_of([] { set_default_device(Device{DeviceType::CUDA, 99}); })
            .starts_with("set_default_device: cuda:99 is not available here"));
  CHECK(default_device() == before);  // a refused device changes nothing

  // A binary's --device flag (core/flags.h) sets the default when parsed.
  auto parse = [](std::vector<std::string> args) {
    Flags flags("test", "a binary with a --device flag");
    flags.add_device_flag();
    std::vector<char*> argv{const_cast<char*>("test")};
    for (std::string& arg : args) argv.push_back(arg.data());
    flags.parse(static_cast<int>(argv.size()), argv.data());
  };
  parse({"--device", "cpu"});
  CHECK(default_device() == kCPU);
  set_default_device(before);
  parse({});
  CHECK(default_device() == before);  // no flag: the build's default stays
  CHECK(error_of([&] { parse({"--device=cuda:99"}); }).starts_with("set_default_device: cuda:99"));
}

TEST_CASE("--threads takes 1 to 1024 CPU threads and refuses the rest, naming the value") {
  const int before = omp_get_max_threads();
  set_threads(1);
  CHECK(omp_get_max_threads() == 1);
  for (int bad : {0, -2, 1025})
    CHECK(error_of([&] { set_threads(bad); }) == "--threads " + std::to_string(bad) + " (expected 1 to 1024 CPU threads)");
  CHECK(omp_get_max_threads() == 1);  // a refused count changes nothing
  set_threads(before);
}


TEST_CASE("the caching pool reuses a block of the same size, or the smallest cached one up to twice as large") {
  std::vector<size_t> system;  // the sizes asked of the system, in order
  CachingPool pool([&](size_t bytes) { system.push_back(bytes); return std::malloc(bytes); },
                   [](void* block) { std::free(block); });
  const size_t mib = size_t(1) << 20;
  void* large = pool.allocate(8 * mib);
  void* small = pool.allocate(3 * mib);
  CHECK(system == std::vector<size_t>{8 * mib, 3 * mib});
  pool.deallocate(large, 8 * mib);
  pool.deallocate(small, 3 * mib);
  CHECK(pool.cached_bytes() == 11 * mib);
  CHECK(pool.allocate(8 * mib) == large);  // its own size first
  // 5 MiB: no block of its size; the 8 MiB one is taken (≤ 2 × 5), not a new one
  pool.deallocate(large, 8 * mib);
  CHECK(pool.allocate(5 * mib) == large);
  CHECK(system.size() == 2);
  // 1 MiB: the 3 MiB block is more than twice as large, so the system gives a new one
  void* one = pool.allocate(mib);
  CHECK(one != small);
  CHECK(system.size() == 3);
  // The lent block goes back to its own size: an 8 MiB request takes it again.
  pool.deallocate(large, 5 * mib);
  CHECK(pool.cached_bytes() == 11 * mib);
  CHECK(pool.allocate(8 * mib) == large);
  CHECK(pool.system_allocations() == 3);
  pool.deallocate(large, 8 * mib);
  pool.deallocate(one, mib);
  pool.release_cached();
  CHECK(pool.cached_bytes() == 0);
}

}  // namespace
}  // namespace margin

