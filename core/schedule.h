// core/schedule.h — learning-rate schedules: a learning rate for each step (or epoch).
//
//   multi-step (the CosFace paper: lr 0.1, divided by 10 at 16K, 24K, stop at 28K iterations)
//     lr(t) = base · gamma^(number of milestones ≤ t)
//   cosine  lr(t) = final + (base − final) · (1 + cos(π t / total)) / 2, then final after total
//   warm-up wraps any schedule: lr(t) = inner(t) · (t + 1) / steps for t < steps.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace margin {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double lr(int64_t step) const = 0;
};

class MultiStepLr final : public LrSchedule {
 public:
  MultiStepLr(double base, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr(int64_t step) const override;

 private:
  double base_, gamma_;
  std::vector<int64_t> milestones_;
};

class CosineLr final : public LrSchedule {
 public:
  CosineLr(double base, int64_t total_steps, double final_lr = 0.0);
  double lr(int64_t step) const override;

 private:
  double base_, final_;
  int64_t total_;
};

class WarmupLr final : public LrSchedule {
 public:
  WarmupLr(std::shared_ptr<LrSchedule> inner, int64_t warmup_steps);
  double lr(int64_t step) const override;

 private:
  std::shared_ptr<LrSchedule> inner_;
  int64_t warmup_;
};

}  // namespace margin
