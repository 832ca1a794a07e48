// examples/train_tiny.cpp — the smallest complete training run: a 2-layer network learns
// two rings of points (not linearly separable) with SGD, printing loss and accuracy.
// Shows the whole loop — forward, loss, backward, step — in a screenful.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "core/flags.h"
#include "core/ops.h"
#include "core/optim.h"
#include "core/profiler.h"
#include "layers/linear.h"

using namespace margin;

int main(int argc, char** argv) try {
  Flags flags("train_tiny", "Trains Linear(2→hidden) → ReLU → Linear(hidden→2) on two rings of points.");
  int64_t& points = flags.add<int64_t>("points", 400, "number of training points");
  int64_t& hidden = flags.add<int64_t>("hidden", 16, "hidden units");
  int64_t& steps = flags.add<int64_t>("steps", 300, "full-batch SGD steps");
  double& lr = flags.add("lr", 0.1, "learning rate");
  int64_t& seed = flags.add<int64_t>("seed", 0, "random seed");
  bool& profile = flags.add("profile", false, "print where the time went, per op and layer");
  flags.add_device_flag();
  flags.parse(argc, argv);
  profiler().enable(profile);

  Generator gen(seed);
  std::vector<double> xy;
  std::vector<int64_t> classes;
  for (int64_t i = 0; i < points; ++i) {
    int64_t label = i % 2;  // class 0 inside radius 0.8, class 1 on a ring at 1.6–2.2
    double angle = gen.uniform(0, 2 * M_PI);
    double radius = label == 0 ? gen.uniform(0.0, 0.8) : gen.uniform(1.6, 2.2);
    xy.insert(xy.end(), {radius * std::cos(angle), radius * std::sin(angle)});
    classes.push_back(label);
  }
  Tensor x = Tensor::from_vector(xy, {points, 2});
  Tensor y = Tensor::from_indices(classes, {points});

  Sequential net({std::make_shared<Linear>(2, hidden, gen), std::make_shared<ReLU>(),
                  std::make_shared<Linear>(hidden, 2, gen)});
  SGD sgd(net.parameters(), {lr, 0.9, 0.0, false});
  for (int64_t step = 1; step <= steps; ++step) {
    sgd.zero_grad();
    Tensor logits = net(x);
    Tensor loss = -mean(gather(log_softmax(logits), 1, y.reshape({-1, 1})));  // cross-entropy
    loss.backward();
    sgd.step();
    if (step % 50 == 0 || step == steps) {
      std::vector<int64_t> predicted = argmax(logits, 1).to_indices();
      int64_t correct = 0;
      for (int64_t i = 0; i < points; ++i) correct += predicted[i] == classes[i];
      std::printf("step %4lld  loss %.4f  accuracy %.1f%%\n", static_cast<long long>(step),
                  loss.item(), 100.0 * correct / points);
    }
  }
  if (profile) profiler().print(std::cout);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_tiny: %s\n", e.what());
  return 1;
}
