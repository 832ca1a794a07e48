// core/autograd.h — reverse-mode automatic differentiation, define-by-run.
//
// Every differentiable op that sees an input requiring grad attaches a Node to its result:
// an edge per input (back to the node that made it, or to the leaf whose .grad it feeds) and
// a backward function that maps the result's gradient to one gradient per input (undefined
// where an input needs none). The result owns its node, the node owns the nodes behind it:
// the graph lives exactly as long as what was computed from it, and there is no global tape.
// An edge holds the node, not the tensor, so the graph keeps no activation alive: memory
// until the backward is what the backward functions save (as in PyTorch), not every
// intermediate result. backward() sorts the nodes topologically (iteratively, so deep
// networks cannot overflow the stack), runs them once each in reverse order with gradient
// recording off, accumulates into leaves' .grad, and frees the graph.
//
// Left out: higher-order gradients (backward runs under no_grad), retain_graph, hooks.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace margin {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

// Where an input's gradient goes, and what it must look like.
struct Edge {
  std::shared_ptr<Node> node;  // the node that made the input; null for a leaf
  Tensor leaf;                 // a leaf that requires grad (its .grad receives the gradient)
  bool requires_grad = false;  // false: the input takes no gradient
  Shape shape;                 // the input's shape, dtype and device: its gradient's
  DType dtype = DType::F32;
  Device device;
};

struct Node {
  const char* name;          // the op, for errors and profiles
  std::vector<Edge> inputs;  // gradients flow back along these
  BackwardFn backward;
  // Unlinks the chain behind it iteratively: recursive destruction of a long graph
  // (one dropped without backward) would overflow the stack.
  ~Node();
};

// Gradient recording is on by default; a NoGradGuard turns it off for its scope (per thread).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Attaches the node to `result` when recording is on and some input requires grad.
// Saved tensors inside `backward` must be detached (Tensor::detach) so a result never
// owns itself through its own node. Returns `result`.
Tensor record(Tensor result, const char* name, std::vector<Tensor> inputs, BackwardFn backward);

// Runs backpropagation from `root` with the given seed gradient (see Tensor::backward).
void run_backward(const Tensor& root, const Tensor& seed);

}  // namespace margin
