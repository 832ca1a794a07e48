// tests/test_train.cpp — the whole loop end to end: a 2-layer network learns a tiny
// separable problem (two interleaved classes on rings) with SGD.
#include <doctest/doctest.h>

#include <cmath>

#include "core/ops.h"
#include "core/optim.h"
#include "layers/linear.h"

namespace margin {
namespace {

// 200 points: class 0 inside radius 1, class 1 on a ring of radius 2 (not linearly separable,
// so the hidden layer has to do something).
void two_rings(Generator& gen, Tensor& points, Tensor& labels) {
  std::vector<double> xy;
  std::vector<int64_t> classes;
  for (int i = 0; i < 200; ++i) {
    int label = i % 2;
    double angle = gen.uniform(0, 2 * 3.14159265358979);
    double radius = label == 0 ? gen.uniform(0.0, 0.8) : gen.uniform(1.6, 2.2);
    xy.push_back(radius * std::cos(angle));
    xy.push_back(radius * std::sin(angle));
    classes.push_back(label);
  }
  // On the default device, where Linear puts its parameters (a GPU when there is one).
  points = Tensor::from_vector(xy, {200, 2}, DType::F32, default_device());
  labels = Tensor::from_indices(classes, {200}, default_device());
}

TEST_CASE("a 2-layer network drives the loss of a separable problem below 0.05") {
  Generator gen(0);
  Tensor points, labels;
  two_rings(gen, points, labels);
  Sequential net({std::make_shared<Linear>(2, 16, gen), std::make_shared<ReLU>(),
                  std::make_shared<Linear>(16, 2, gen)});
  SGD sgd(net.parameters(), {0.1, 0.9, 0.0, false});
  auto loss_of = [&] {
    Tensor log_p = log_softmax(net(points));
    return -mean(gather(log_p, 1, labels.reshape({-1, 1})));
  };
  double first = loss_of().item();
  double last = first;
  size_t allocations_after_warmup = 0;
  for (int step = 0; step < 500; ++step) {
    if (step == 3) allocations_after_warmup = backend_for(default_device()).system_allocations();
    sgd.zero_grad();
    Tensor loss = loss_of();
    loss.backward();
    sgd.step();
    last = loss.item();
  }
  // Buffers are reused: once warm, a training step asks the system for no new memory.
  CHECK(backend_for(default_device()).system_allocations() == allocations_after_warmup);
  CHECK(first > 0.5);  // ≈ ln 2 at initialization
  CHECK(last < 0.05);
  Tensor predicted = argmax(net(points), 1);
  std::vector<int64_t> p = predicted.to_indices(), y = labels.to_indices();
  int correct = 0;
  for (size_t i = 0; i < p.size(); ++i) correct += p[i] == y[i];
  CHECK(correct == 200);
}

}  // namespace
}  // namespace margin
