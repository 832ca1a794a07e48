// backends/cuda/conv.cpp — 2-D convolution through cuDNN (NCHW, stride, padding, dilation,
// groups): cudnnConvolutionForward / BackwardData / BackwardFilter. The contracts are in
// backends/backend.h (no bias here: the op adds it by broadcasting).
//
// Each call builds a small plan (the four descriptors), asks cuDNN's heuristics
// (cudnnGet*Algorithm_v7) for an algorithm, and borrows the workspace from the caching
// allocator (freed right after the call: every kernel runs on the default stream, so the
// next user of that block is ordered after the convolution). Float32 convolutions are
// restricted to FMA kernels (no TF32), so CUDA matches the CPU backend within the parity
// tolerance, as cuBLAS is (context.cpp).
// Left out: caching plans across calls, benchmarking algorithms (cudnnFind*), NHWC, half.
#include <cudnn.h>

#include <climits>
#include <cstdint>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/rounded.h"
#include "backends/dispatch.h"

namespace margin {
namespace {

int conv_int(int64_t value, const char* what) {
  if (value > INT_MAX || value < INT_MIN)
    fail("conv2d on CUDA: ", what, " = ", value, " exceeds cuDNN's int range");
  return static_cast<int>(value);
}

cudnnDataType_t cudnn_dtype(DType dtype, const char* kernel) {
  switch (dtype) {
    case DType::F32: return CUDNN_DATA_FLOAT;
    case DType::F64: return CUDNN_DATA_DOUBLE;
    default: fail(kernel, ": expected float32 or float64, got ", dtype_name(dtype), dtype_hint(dtype));
  }
}

// The descriptors of one convolution: image x [N, C, H, W], filter w [K, Cg, R, S],
// output y [N, K, P, Q].
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnDataType_t type;

  ConvPlan(const Conv2dParams& p, const Shape& image, const Shape& filter, const Shape& output,
           DType dtype, const char* kernel)
      : type(cudnn_dtype(dtype, kernel)) {
    using cuda::check_cudnn;
    try {
      check_cudnn(cudnnCreateTensorDescriptor(&x), "cudnnCreateTensorDescriptor");
      check_cudnn(cudnnCreateTensorDescriptor(&y), "cudnnCreateTensorDescriptor");
      check_cudnn(cudnnCreateFilterDescriptor(&w), "cudnnCreateFilterDescriptor");
      check_cudnn(cudnnCreateConvolutionDescriptor(&conv), "cudnnCreateConvolutionDescriptor");
      check_cudnn(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, type, conv_int(image[0], "N"),
                                             conv_int(image[1], "C"), conv_int(image[2], "H"),
                                             conv_int(image[3], "W")),
                  "cudnnSetTensor4dDescriptor (image)");
      check_cudnn(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, type, conv_int(output[0], "N"),
                                             conv_int(output[1], "K"), conv_int(output[2], "P"),
                                             conv_int(output[3], "Q")),
                  "cudnnSetTensor4dDescriptor (output)");
      check_cudnn(cudnnSetFilter4dDescriptor(w, type, CUDNN_TENSOR_NCHW, conv_int(filter[0], "K"),
                                             conv_int(filter[1], "C/groups"),
                                             conv_int(filter[2], "R"), conv_int(filter[3], "S")),
                  "cudnnSetFilter4dDescriptor");
      check_cudnn(cudnnSetConvolution2dDescriptor(
                      conv, conv_int(p.pad_h, "pad_h"), conv_int(p.pad_w, "pad_w"),
                      conv_int(p.stride_h, "stride_h"), conv_int(p.stride_w, "stride_w"),
                      conv_int(p.dilation_h, "dilation_h"), conv_int(p.dilation_w, "dilation_w"),
                      CUDNN_CROSS_CORRELATION, type),
                  "cudnnSetConvolution2dDescriptor");
      check_cudnn(cudnnSetConvolutionGroupCount(conv, conv_int(p.groups, "groups")),
                  "cudnnSetConvolutionGroupCount");
      // FMA only for float32: TF32 tensor cores would cost ~3 decimal digits.
      check_cudnn(cudnnSetConvolutionMathType(
                      conv, type == CUDNN_DATA_FLOAT ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH),
                  "cudnnSetConvolutionMathType");
    } catch (...) {
      destroy();
      throw;
    }
  }
  ~ConvPlan() { destroy(); }
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;

  // alpha = 1, beta = 0 in the data type's precision (cuDNN reads double for double data).
  const void* one() const { return type == CUDNN_DATA_DOUBLE ? (const void*)&one_d : &one_f; }
  const void* zero() const { return type == CUDNN_DATA_DOUBLE ? (const void*)&zero_d : &zero_f; }

 private:
  void destroy() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    x = y = nullptr;
    w = nullptr;
    conv = nullptr;
  }
  float one_f = 1, zero_f = 0;
  double one_d = 1, zero_d = 0;
};

// The first algorithm the heuristics rank that cuDNN supports here and that keeps the math
// type asked for (no tensor-op kernel slipping in for float32).
template <class Perf>
auto pick_algorithm(const std::vector<Perf>& results, int returned, const char* kernel) {
  for (int i = 0; i < returned; ++i) {
    const Perf& perf = results[i];
    if (perf.status != CUDNN_STATUS_SUCCESS) continue;
    if (perf.mathType == CUDNN_TENSOR_OP_MATH ||
        perf.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
      continue;
    return perf.algo;
  }
  fail(kernel, " on CUDA: cuDNN's heuristics returned no usable algorithm (", returned,
       " candidates)");
}

// Scratch memory from the caching allocator for the duration of one call.
struct Workspace {
  cuda::Context& context;
  size_t bytes;
  void* data = nullptr;
  Workspace(cuda::Context& c, size_t size) : context(c), bytes(size) {
    if (bytes > 0) data = context.pool.allocate(bytes);
  }
  ~Workspace() {
    if (data) context.pool.deallocate(data, bytes);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
};

// What differs between the three directions: their cuDNN calls (and the names errors give).
// The calls of all three take the same arguments in the same order: two inputs a and b and
// the output c, each after its descriptor, with the convolution descriptor before c.
struct Forward {  // a = x, b = w, c = y
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  static constexpr int kAlgorithms = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static constexpr auto rank = cudnnGetConvolutionForwardAlgorithm_v7;
  static constexpr auto workspace_size = cudnnGetConvolutionForwardWorkspaceSize;
  static constexpr auto run = cudnnConvolutionForward;
  static constexpr const char* kRank = "cudnnGetConvolutionForwardAlgorithm_v7";
  static constexpr const char* kWorkspaceSize = "cudnnGetConvolutionForwardWorkspaceSize";
  static constexpr const char* kRun = "cudnnConvolutionForward";
};
struct BackwardData {  // a = w, b = dy, c = dx
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr int kAlgorithms = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static constexpr auto rank = cudnnGetConvolutionBackwardDataAlgorithm_v7;
  static constexpr auto workspace_size = cudnnGetConvolutionBackwardDataWorkspaceSize;
  static constexpr auto run = cudnnConvolutionBackwardData;
  static constexpr const char* kRank = "cudnnGetConvolutionBackwardDataAlgorithm_v7";
  static constexpr const char* kWorkspaceSize = "cudnnGetConvolutionBackwardDataWorkspaceSize";
  static constexpr const char* kRun = "cudnnConvolutionBackwardData";
};
struct BackwardFilter {  // a = x, b = dy, c = dw
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr int kAlgorithms = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static constexpr auto rank = cudnnGetConvolutionBackwardFilterAlgorithm_v7;
  static constexpr auto workspace_size = cudnnGetConvolutionBackwardFilterWorkspaceSize;
  static constexpr auto run = cudnnConvolutionBackwardFilter;
  static constexpr const char* kRank = "cudnnGetConvolutionBackwardFilterAlgorithm_v7";
  static constexpr const char* kWorkspaceSize = "cudnnGetConvolutionBackwardFilterWorkspaceSize";
  static constexpr const char* kRun = "cudnnConvolutionBackwardFilter";
};

// One direction, run as all three are: rank the algorithms with cuDNN's heuristics, keep the
// first usable one, borrow the workspace it asks for and convolve, c = 1·conv(a, b) + 0·c.
template <class Direction, class DescA, class DescB, class DescC>
void convolve(cuda::Context& context, const ConvPlan& plan, const char* kernel, DescA a_desc,
              const void* a, DescB b_desc, const void* b, DescC c_desc, void* c) {
  using cuda::check_cudnn;
  cudnnHandle_t handle = context.dnn();
  std::vector<typename Direction::Perf> results(Direction::kAlgorithms);
  int returned = 0;
  check_cudnn(Direction::rank(handle, a_desc, b_desc, plan.conv, c_desc,
                              static_cast<int>(results.size()), &returned, results.data()),
              Direction::kRank);
  auto algo = pick_algorithm(results, returned, kernel);
  size_t bytes = 0;
  check_cudnn(Direction::workspace_size(handle, a_desc, b_desc, plan.conv, c_desc, algo, &bytes),
              Direction::kWorkspaceSize);
  Workspace workspace(context, bytes);
  check_cudnn(Direction::run(handle, plan.one(), a_desc, a, b_desc, b, plan.conv, algo,
                             workspace.data, bytes, plan.zero(), c_desc, c),
              Direction::kRun);
}

}  // namespace

void CudaBackend::conv2d(const Conv2dParams& params, const View& x, const View& w,
                         const View& y) {
  cuda::Context& context = activate();
  if (y.numel() == 0) return;
  if (x.numel() == 0 || w.numel() == 0) {  // an empty sum
    fill(y, 0.0);
    return;
  }
  check_kept_image(x.dtype, params.operands, w.dtype, "conv2d");
  ConvPlan plan(params, x.shape, w.shape, y.shape, w.dtype, "conv2d");  // x may be stored rounded
  cuda::RoundedOperand image(context, x, params.operands, "conv2d"), filter(context, w, params.operands, "conv2d");
  convolve<Forward>(context, plan, "conv2d", plan.x, image.data(), plan.w, filter.data(), plan.y, y.data);
}

void CudaBackend::conv2d_backward_data(const Conv2dParams& params, const View& dy,
                                       const View& w, const View& dx) {
  cuda::Context& context = activate();
  if (dx.numel() == 0) return;
  if (dy.numel() == 0 || w.numel() == 0) {  // no window reads anything
    fill(dx, 0.0);
    return;
  }
  ConvPlan plan(params, dx.shape, w.shape, dy.shape, dy.dtype, "conv2d_backward_data");
  cuda::RoundedOperand filter(context, w, params.operands, "conv2d_backward_data"),
      gradient(context, dy, params.operands, "conv2d_backward_data");
  convolve<BackwardData>(context, plan, "conv2d_backward_data", plan.w, filter.data(), plan.y, gradient.data(),
                         plan.x, dx.data);
}

void CudaBackend::conv2d_backward_filter(const Conv2dParams& params, const View& x,
                                         const View& dy, const View& dw) {
  cuda::Context& context = activate();
  if (dw.numel() == 0) return;
  if (x.numel() == 0 || dy.numel() == 0) {  // an empty sum over (n, p, q)
    fill(dw, 0.0);
    return;
  }
  check_kept_image(x.dtype, params.operands, dw.dtype, "conv2d_backward_filter");
  ConvPlan plan(params, x.shape, dw.shape, dy.shape, dw.dtype, "conv2d_backward_filter");
  cuda::RoundedOperand image(context, x, params.operands, "conv2d_backward_filter"),
      gradient(context, dy, params.operands, "conv2d_backward_filter");
  convolve<BackwardFilter>(context, plan, "conv2d_backward_filter", plan.x, image.data(), plan.y,
                           gradient.data(), plan.w, dw.data);
}

}  // namespace margin
