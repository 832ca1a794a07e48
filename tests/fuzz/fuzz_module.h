// tests/fuzz/fuzz_module.h — the module fuzz_checkpoint loads into and write_seeds saves:
// Linear(3 → 2) then BatchNorm1d(2), so a checkpoint holds parameters (0.weight, 0.bias,
// 1.weight, 1.bias), buffers (1.running_mean, 1.running_var) and, with the optimizer, one
// momentum buffer per parameter.
#pragma once
#include <memory>

#include "core/optim.h"
#include "core/random.h"
#include "layers/linear.h"
#include "layers/norm.h"

namespace margin::fuzz {

struct CheckpointModule {
  Generator gen{7};
  std::shared_ptr<Sequential> model = make_model(gen);
  SGD optimizer{model->parameters(), {.lr = 0.1, .momentum = 0.9}};

  static std::shared_ptr<Sequential> make_model(Generator& gen) {
    auto model = std::make_shared<Sequential>();
    model->add(std::make_shared<Linear>(3, 2, gen)).add(std::make_shared<BatchNorm1d>(2));
    return model;
  }
};

}  // namespace margin::fuzz
