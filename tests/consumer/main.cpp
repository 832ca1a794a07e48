// tests/consumer/main.cpp — built against the installed margin (find_package), through its
// public API only: an embedding network and LMCL over 5 classes, one SGD step on a batch of
// 32 random inputs. The loss on that batch must fall, and the class weights must still have
// length 1 (the loss's constraint, applied by the optimizer). Prints "consumer: ok" when so.
#include <cmath>
#include <cstdio>

#include "margin.h"

int main() try {
  using namespace margin;
  Generator gen(0);
  Sequential model({std::make_shared<Linear>(16, 32, gen), std::make_shared<ReLU>(),
                    std::make_shared<Linear>(32, 8, gen)});
  auto loss = make_loss("lmcl", 8, 5, gen, {.scale = 16, .margin = 0.2});
  SGD sgd(parameters_of({&model, loss.get()}), {.lr = 0.01});

  Tensor x = Tensor::randn({32, 16}, gen);
  std::vector<int64_t> classes(32);
  for (int64_t& y : classes) y = gen.below(5);
  Tensor labels = Tensor::from_indices(classes, {32});

  Tensor before = (*loss)(model(x), labels);
  sgd.zero_grad();
  before.backward();
  sgd.step();
  double after = (*loss)(model(x), labels).item();

  std::vector<double> w = loss->weight().to_vector();
  double worst = 0;
  for (int j = 0; j < 5; ++j) {
    double squares = 0;
    for (int k = 0; k < 8; ++k) squares += w[j * 8 + k] * w[j * 8 + k];
    worst = std::max(worst, std::abs(std::sqrt(squares) - 1));
  }
  std::printf("consumer: LMCL loss %.4f -> %.4f after one step; largest | |W_j| - 1 | = %.1e\n", before.item(),
              after, worst);
  if (!(after < before.item()) || worst > 1e-5) {
    std::printf("consumer: FAILED\n");
    return 1;
  }
  std::printf("consumer: ok\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "consumer: %s\n", e.what());
  return 1;
}
