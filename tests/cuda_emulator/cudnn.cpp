// tests/cuda_emulator/cudnn.cpp — the cuDNN calls of backends/cuda/conv.cpp, computed on the
// CPU from cuDNN's documented semantics: the descriptors, the _v7 heuristics, the workspace
// sizes and cudnnConvolutionForward / BackwardData / BackwardFilter.
//
// Image x [N, C, H, W], filter w [K, Cg, R, S] with Cg = C / groups, output y [N, K, P, Q] with
// P = 1 + (H + 2·pad_h − dilation_h·(R − 1) − 1) / stride_h (Q likewise from W, S). Output
// channel k of group g = k / (K / groups) reads input channels c = g·Cg + cg, and each tap is
//   y[n, k, p, q] += x[n, c, p·stride_h − pad_h + r·dilation_h, q·stride_w − pad_w + s·dilation_w]
//                    · w[k, cg, r', s']
// with (r', s') = (r, s) for CUDNN_CROSS_CORRELATION and (R − 1 − r, S − 1 − s) for
// CUDNN_CONVOLUTION; taps that land in the zero padding add nothing. Backward data and backward
// filter are the adjoints of that sum with respect to x and w: the same taps, summed into dx
// or dw. Sums are taken in double, then out = alpha·sum + beta·out, where beta = 0 never reads
// out (cuDNN's rule: it may hold NaN). alpha and beta are float for float data, double for
// double data. Arguments are checked as cuDNN documents (a violation is CUDNN_STATUS_BAD_PARAM),
// and every pointer a call reads or writes must lie inside one live device allocation.
//
// Every algorithm computes the same sum. Those other than ALGO_0 keep their double sums in the
// workspace, so they ask for one; the heuristics rank such an algorithm first, so that a
// caller's workspace handling (size query, allocation, passing it on) runs too.
// Left out: layouts other than NCHW, strided and Nd descriptors, half / int / fp8 data, tensor
// ops (a TENSOR_OP math type is recorded but computes like FMA), cudnnFind*, streams, fusion.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/cuda_emulator/emulator.h"

// The opaque types the headers declare: what cuDNN keeps behind its handles.
struct cudnnContext {};  // the emulator has no device state: calls run on the calling thread

struct cudnnTensorStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int n = 0, c = 0, h = 0, w = 0;
};

struct cudnnFilterStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int k = 0, c = 0, h = 0, w = 0;  // c: input channels per group
};

struct cudnnConvolutionStruct {
  bool set = false;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  cudnnDataType_t compute_type = CUDNN_DATA_FLOAT;
  int groups = 1;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

namespace {

bool supported_type(cudnnDataType_t type) {
  return type == CUDNN_DATA_FLOAT || type == CUDNN_DATA_DOUBLE;
}

// The checks cudnnSetTensor4dDescriptor and cudnnSetFilter4dDescriptor share.
cudnnStatus_t check_4d(cudnnTensorFormat_t format, cudnnDataType_t type, int d0, int d1, int d2,
                       int d3) {
  if (d0 <= 0 || d1 <= 0 || d2 <= 0 || d3 <= 0) return CUDNN_STATUS_BAD_PARAM;
  if (format != CUDNN_TENSOR_NCHW || !supported_type(type)) return CUDNN_STATUS_NOT_SUPPORTED;
  // cuDNN's documented limit on a descriptor: 2^31 elements.
  if (int64_t{d0} * d1 * d2 * d3 > INT_MAX) return CUDNN_STATUS_NOT_SUPPORTED;
  return CUDNN_STATUS_SUCCESS;
}

// One convolution with its descriptors checked against each other. The letters are those
// of the file's header comment.
struct Geometry {
  int64_t N, C, H, W, K, Cg, Kg, R, S, P, Q;
  int64_t pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w;
  bool flip;  // CUDNN_CONVOLUTION: the filter is read back to front
  cudnnDataType_t type;
  cudnnMathType_t math;

  int64_t x_count() const { return N * C * H * W; }
  int64_t w_count() const { return K * Cg * R * S; }
  int64_t y_count() const { return N * K * P * Q; }
};

// The output size along one axis, or 0 (a size no descriptor has) where the dilated filter is
// wider than the padded input: C++ would round the negative span's quotient up to 0, not down.
int64_t output_size(int64_t input, int64_t pad, int64_t dilation, int64_t filter, int64_t stride) {
  int64_t span = input + 2 * pad - dilation * (filter - 1) - 1;
  return span < 0 ? 0 : 1 + span / stride;
}

// What every convolution call names, in the roles of the forward call.
struct Call {
  cudnnHandle_t handle;
  cudnnTensorDescriptor_t x;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  cudnnTensorDescriptor_t y;
};

cudnnStatus_t read_geometry(const Call& call, Geometry* g) {
  auto [handle, x, w, conv, y] = call;
  if (!handle || !x || !w || !conv || !y) return CUDNN_STATUS_BAD_PARAM;
  if (!x->set || !w->set || !conv->set || !y->set) return CUDNN_STATUS_BAD_PARAM;
  if (x->type != w->type || x->type != y->type || x->type != conv->compute_type)
    return CUDNN_STATUS_BAD_PARAM;
  if (x->c != int64_t{w->c} * conv->groups || w->k % conv->groups != 0)
    return CUDNN_STATUS_BAD_PARAM;
  *g = Geometry{.N = x->n, .C = x->c, .H = x->h, .W = x->w, .K = w->k, .Cg = w->c,
                .Kg = w->k / conv->groups, .R = w->h, .S = w->w,
                .P = output_size(x->h, conv->pad_h, conv->dilation_h, w->h, conv->stride_h),
                .Q = output_size(x->w, conv->pad_w, conv->dilation_w, w->w, conv->stride_w),
                .pad_h = conv->pad_h, .pad_w = conv->pad_w, .stride_h = conv->stride_h,
                .stride_w = conv->stride_w, .dilation_h = conv->dilation_h,
                .dilation_w = conv->dilation_w, .flip = conv->mode == CUDNN_CONVOLUTION,
                .type = x->type, .math = conv->math};
  if (y->n != g->N || y->c != g->K || y->h != g->P || y->w != g->Q) return CUDNN_STATUS_BAD_PARAM;
  return CUDNN_STATUS_SUCCESS;
}

// Calls f(x_index, w_index, y_index) once per tap of the convolution: every output (n, k, p, q)
// with every filter tap (cg, r, s) whose input position (h, w) is inside the image. Forward and
// both adjoints are this walk with a different sum. Rows of output are innermost, so that
// the index arithmetic and the bounds of a row are worked out once.
// The (n, k) pairs are shared among OpenMP threads by image (by_filter false: each thread
// owns whole images of y and dx) or by filter (true: whole filters of dw), so no two threads
// add into one element, and every element sums its taps in the same order on any thread count.
template <class Tap>
void for_each_tap(const Geometry& g, bool by_filter, Tap&& f) {
  int64_t outer = by_filter ? g.K : g.N, inner = by_filter ? g.N : g.K;
  // Threads only for large convolutions: a parallel region costs more than a small one, and
  // leaves a spinning thread that makes every later mprotect of device memory interrupt it.
  bool large = g.N * g.K * g.Cg * g.R * g.S * g.P * g.Q > (int64_t(1) << 22);
#pragma omp parallel for schedule(dynamic) if (large)
  for (int64_t i = 0; i < outer; ++i)
    for (int64_t j = 0; j < inner; ++j) {
      int64_t n = by_filter ? j : i, k = by_filter ? i : j;
      for (int64_t cg = 0; cg < g.Cg; ++cg) {
        int64_t c = k / g.Kg * g.Cg + cg;  // the channel cg of k's group
        for (int64_t r = 0; r < g.R; ++r)
          for (int64_t s = 0; s < g.S; ++s) {
            int64_t filter_r = g.flip ? g.R - 1 - r : r, filter_s = g.flip ? g.S - 1 - s : s;
            int64_t w_index = ((k * g.Cg + cg) * g.R + filter_r) * g.S + filter_s;
            // The q whose input column w = q·stride_w + shift lies in [0, W).
            int64_t shift = s * g.dilation_w - g.pad_w;
            int64_t q_begin = shift >= 0 ? 0 : (-shift + g.stride_w - 1) / g.stride_w;
            int64_t q_end = g.W - 1 - shift < 0 ? 0 : std::min(g.Q, (g.W - 1 - shift) / g.stride_w + 1);
            for (int64_t p = 0; p < g.P; ++p) {
              int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h;
              if (h < 0 || h >= g.H) continue;
              int64_t x_row = ((n * g.C + c) * g.H + h) * g.W + shift;
              int64_t y_row = ((n * g.K + k) * g.P + p) * g.Q;
              for (int64_t q = q_begin; q < q_end; ++q) f(x_row + q * g.stride_w, w_index, y_row + q);
            }
          }
      }
    }
}

// The three calls take the same arguments in the same order: inputs a and b, output c.
enum class Direction { forward, backward_data, backward_filter };

// What one direction reads and writes, named as cuDNN's documentation names them, with the
// element counts, and the size of its algorithm enum.
struct Operands {
  const char* names[3];  // a, b, c
  int64_t counts[3];
  int algorithms;
};

Operands operands(Direction direction, const Geometry& g) {
  switch (direction) {
    case Direction::forward:
      return {{"x", "w", "y"}, {g.x_count(), g.w_count(), g.y_count()},
              CUDNN_CONVOLUTION_FWD_ALGO_COUNT};
    case Direction::backward_data:
      return {{"w", "dy", "dx"}, {g.w_count(), g.y_count(), g.x_count()},
              CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT};
    case Direction::backward_filter:
      return {{"x", "dy", "dw"}, {g.x_count(), g.y_count(), g.w_count()},
              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT};
  }
  return {};
}

// ALGO_0 sums in host memory; the others sum in the workspace, one double per output element.
size_t workspace_size(Direction direction, const Geometry& g, int algo) {
  return algo == 0 ? 0 : static_cast<size_t>(operands(direction, g).counts[2]) * sizeof(double);
}

template <class T>
void accumulate(Direction direction, const Geometry& g, const void* a_data, const void* b_data,
                double* sums) {
  const T* a = static_cast<const T*>(a_data);
  const T* b = static_cast<const T*>(b_data);
  switch (direction) {
    case Direction::forward:  // y += x · w
      for_each_tap(g, false, [&](int64_t x, int64_t w, int64_t y) { sums[y] += double(a[x]) * b[w]; });
      break;
    case Direction::backward_data:  // dx += w · dy
      for_each_tap(g, false, [&](int64_t x, int64_t w, int64_t y) { sums[x] += double(a[w]) * b[y]; });
      break;
    case Direction::backward_filter:  // dw += x · dy
      for_each_tap(g, true, [&](int64_t x, int64_t w, int64_t y) { sums[w] += double(a[x]) * b[y]; });
      break;
  }
}

template <class T>
void scale_into(const double* sums, int64_t count, const void* alpha, const void* beta, void* out) {
  double scale = *static_cast<const T*>(alpha), keep = *static_cast<const T*>(beta);
  T* c = static_cast<T*>(out);
  for (int64_t i = 0; i < count; ++i)
    c[i] = static_cast<T>(keep == 0 ? scale * sums[i] : scale * sums[i] + keep * c[i]);
}

// A call of one direction: c = alpha·(the direction's sum of a and b) + beta·c.
cudnnStatus_t run(Direction direction, const char* function, const Call& call, int algo,
                  const void* alpha, const void* a, const void* b, const void* beta, void* c,
                  void* workspace, size_t workspace_bytes) {
  Geometry g;
  if (cudnnStatus_t status = read_geometry(call, &g)) return status;
  Operands operand = operands(direction, g);
  if (algo < 0 || algo >= operand.algorithms) return CUDNN_STATUS_BAD_PARAM;
  if (!alpha || !beta || !a || !b || !c) return CUDNN_STATUS_BAD_PARAM;
  size_t needed = workspace_size(direction, g, algo);
  if (workspace_bytes < needed || (workspace_bytes > 0 && !workspace))
    return CUDNN_STATUS_BAD_PARAM;
  if (needed > 0 && reinterpret_cast<uintptr_t>(workspace) % alignof(double) != 0)
    return CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER;

  size_t element = g.type == CUDNN_DATA_DOUBLE ? sizeof(double) : sizeof(float);
  const void* data[3] = {a, b, c};
  for (int i = 0; i < 3; ++i)
    cuda_emulator::check_device_range(data[i], operand.counts[i] * element,
                                      (std::string(function) + ": " + operand.names[i]).c_str());
  if (workspace_bytes > 0)
    cuda_emulator::check_device_range(workspace, workspace_bytes,
                                      (std::string(function) + ": workSpace").c_str());

  cuda_emulator::DeviceCode convolving;  // what a GPU would run: device memory is open
  for (const void* operand_data : {a, b, static_cast<const void*>(c), static_cast<const void*>(workspace)})
    if (operand_data) convolving.open(operand_data);  // for every thread of for_each_tap
  int64_t outputs = operand.counts[2];
  std::vector<double> host_sums(needed == 0 ? outputs : 0);
  double* sums = needed == 0 ? host_sums.data() : static_cast<double*>(workspace);
  std::fill(sums, sums + outputs, 0.0);  // a workspace arrives holding anything (NaN here)
  if (g.type == CUDNN_DATA_DOUBLE) {
    accumulate<double>(direction, g, a, b, sums);
    scale_into<double>(sums, outputs, alpha, beta, c);
  } else {
    accumulate<float>(direction, g, a, b, sums);
    scale_into<float>(sums, outputs, alpha, beta, c);
  }
  return CUDNN_STATUS_SUCCESS;
}

// The _v7 heuristics: algorithm 1 (which uses a workspace), then algorithm 0.
template <class Perf>
cudnnStatus_t rank(Direction direction, const Call& call, int requested, int* returned,
                   Perf* results) {
  Geometry g;
  if (cudnnStatus_t status = read_geometry(call, &g)) return status;
  if (requested < 1 || !returned || !results) return CUDNN_STATUS_BAD_PARAM;
  const int ranking[] = {1, 0};
  *returned = std::min(requested, 2);
  for (int i = 0; i < *returned; ++i) {
    results[i] = {.algo = static_cast<decltype(Perf::algo)>(ranking[i]),
                  .status = CUDNN_STATUS_SUCCESS,
                  .time = -1,  // a heuristic, not a measurement
                  .memory = workspace_size(direction, g, ranking[i]),
                  .determinism = CUDNN_DETERMINISTIC,
                  .mathType = g.math,
                  .reserved = {}};
  }
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t size_workspace(Direction direction, const Call& call, int algo, size_t* bytes) {
  Geometry g;
  if (cudnnStatus_t status = read_geometry(call, &g)) return status;
  if (algo < 0 || algo >= operands(direction, g).algorithms || !bytes)
    return CUDNN_STATUS_BAD_PARAM;
  *bytes = workspace_size(direction, g, algo);
  return CUDNN_STATUS_SUCCESS;
}

template <class Object>
cudnnStatus_t create(Object** created) {
  if (!created) return CUDNN_STATUS_BAD_PARAM;
  *created = new Object;
  return CUDNN_STATUS_SUCCESS;
}

template <class Object>
cudnnStatus_t destroy(Object* object) {
  if (!object) return CUDNN_STATUS_BAD_PARAM;
  delete object;
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) { return create(handle); }
cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) { return destroy(handle); }

// cuDNN's strings are the enum names. cuDNN 9 refined its codes, the thousands naming the
// category: cuDNN 8's ALLOC_FAILED, ARCH_MISMATCH and MAPPING_ERROR are now aliases of refined
// codes, and a refined code not named here reads as its category.
const char* cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_INVALID_VALUE: return "CUDNN_STATUS_INVALID_VALUE";
    case CUDNN_STATUS_BAD_PARAM_NULL_POINTER: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
    case CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER:
      return "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH:
      return "CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED:
      return "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED";
    case CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED:
      return "CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    default: break;
  }
  switch (CUDNN_STATUS_CATEGORY(status)) {
    case CUDNN_STATUS_CATEGORY(CUDNN_STATUS_NOT_INITIALIZED): return "an uncategorized cuDNN error";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM (a refined code)";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED (a refined code)";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR (a refined code)";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED (a refined code)";
    default: return "unknown cuDNN status";
  }
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* tensorDesc) {
  return create(tensorDesc);
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc) {
  return destroy(tensorDesc);
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc,
                                         cudnnTensorFormat_t format, cudnnDataType_t dataType,
                                         int n, int c, int h, int w) {
  if (!tensorDesc) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = check_4d(format, dataType, n, c, h, w)) return status;
  *tensorDesc = {.set = true, .type = dataType, .n = n, .c = c, .h = h, .w = w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* filterDesc) {
  return create(filterDesc);
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc) {
  return destroy(filterDesc);
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc,
                                         cudnnDataType_t dataType, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
  if (!filterDesc) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = check_4d(format, dataType, k, c, h, w)) return status;
  *filterDesc = {.set = true, .type = dataType, .k = k, .c = c, .h = h, .w = w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* convDesc) {
  return create(convDesc);
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc) {
  return destroy(convDesc);
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h,
                                              int pad_w, int u, int v, int dilation_h,
                                              int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType) {
  if (!convDesc || pad_h < 0 || pad_w < 0 || u < 1 || v < 1 || dilation_h < 1 || dilation_w < 1)
    return CUDNN_STATUS_BAD_PARAM;
  if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) return CUDNN_STATUS_BAD_PARAM;
  if (!supported_type(computeType)) return CUDNN_STATUS_NOT_SUPPORTED;
  // The group count and math type have setters of their own and survive this one.
  *convDesc = {.set = true, .pad_h = pad_h, .pad_w = pad_w, .stride_h = u, .stride_w = v,
               .dilation_h = dilation_h, .dilation_w = dilation_w, .mode = mode,
               .compute_type = computeType, .groups = convDesc->groups, .math = convDesc->math};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t convDesc, int groupCount) {
  if (!convDesc || groupCount < 1) return CUDNN_STATUS_BAD_PARAM;
  convDesc->groups = groupCount;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc,
                                          cudnnMathType_t mathType) {
  if (!convDesc || mathType < CUDNN_DEFAULT_MATH || mathType > CUDNN_FMA_MATH)
    return CUDNN_STATUS_BAD_PARAM;
  convDesc->math = mathType;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnFilterDescriptor_t filterDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionFwdAlgoPerf_t* perfResults) {
  return rank(Direction::forward, {handle, srcDesc, filterDesc, convDesc, destDesc},
              requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc,
    const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t gradDesc, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdDataAlgoPerf_t* perfResults) {
  return rank(Direction::backward_data, {handle, gradDesc, filterDesc, convDesc, diffDesc},
              requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnFilterDescriptor_t gradDesc, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdFilterAlgoPerf_t* perfResults) {
  return rank(Direction::backward_filter, {handle, srcDesc, gradDesc, convDesc, diffDesc},
              requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnFilterDescriptor_t wDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc,
    cudnnConvolutionFwdAlgo_t algo, size_t* sizeInBytes) {
  return size_workspace(Direction::forward, {handle, xDesc, wDesc, convDesc, yDesc}, algo,
                        sizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc,
    cudnnConvolutionBwdDataAlgo_t algo, size_t* sizeInBytes) {
  return size_workspace(Direction::backward_data, {handle, dxDesc, wDesc, convDesc, dyDesc}, algo,
                        sizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, size_t* sizeInBytes) {
  return size_workspace(Direction::backward_filter, {handle, xDesc, gradDesc, convDesc, dyDesc},
                        algo, sizeInBytes);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha,
                                      const cudnnTensorDescriptor_t xDesc, const void* x,
                                      const cudnnFilterDescriptor_t wDesc, const void* w,
                                      const cudnnConvolutionDescriptor_t convDesc,
                                      cudnnConvolutionFwdAlgo_t algo, void* workSpace,
                                      size_t workSpaceSizeInBytes, const void* beta,
                                      const cudnnTensorDescriptor_t yDesc, void* y) {
  return run(Direction::forward, "cudnnConvolutionForward", {handle, xDesc, wDesc, convDesc, yDesc},
             algo, alpha, x, w, beta, y, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha,
                                           const cudnnFilterDescriptor_t wDesc, const void* w,
                                           const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                           const cudnnConvolutionDescriptor_t convDesc,
                                           cudnnConvolutionBwdDataAlgo_t algo, void* workSpace,
                                           size_t workSpaceSizeInBytes, const void* beta,
                                           const cudnnTensorDescriptor_t dxDesc, void* dx) {
  return run(Direction::backward_data, "cudnnConvolutionBackwardData",
             {handle, dxDesc, wDesc, convDesc, dyDesc}, algo, alpha, w, dy, beta, dx, workSpace,
             workSpaceSizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha,
                                             const cudnnTensorDescriptor_t xDesc, const void* x,
                                             const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                             const cudnnConvolutionDescriptor_t convDesc,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace,
                                             size_t workSpaceSizeInBytes, const void* beta,
                                             const cudnnFilterDescriptor_t dwDesc, void* dw) {
  return run(Direction::backward_filter, "cudnnConvolutionBackwardFilter",
             {handle, xDesc, dwDesc, convDesc, dyDesc}, algo, alpha, x, dy, beta, dw, workSpace,
             workSpaceSizeInBytes);
}

}  // extern "C"
