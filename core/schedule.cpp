// core/schedule.cpp — the schedules' formulas (see the header).
#include "core/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "backends/types.h"

namespace margin {

MultiStepLr::MultiStepLr(double base, std::vector<int64_t> milestones, double gamma)
    : base_(base), gamma_(gamma), milestones_(std::move(milestones)) {
  if (!std::is_sorted(milestones_.begin(), milestones_.end()))
    fail("MultiStepLr: milestones must be increasing");
}

double MultiStepLr::lr(int64_t step) const {
  auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), step) - milestones_.begin();
  return base_ * std::pow(gamma_, static_cast<double>(passed));
}

CosineLr::CosineLr(double base, int64_t total_steps, double final_lr)
    : base_(base), final_(final_lr), total_(total_steps) {
  if (total_steps <= 0) fail("CosineLr: total_steps must be > 0, got ", total_steps);
}

double CosineLr::lr(int64_t step) const {
  if (step >= total_) return final_;
  double progress = static_cast<double>(step) / static_cast<double>(total_);
  return final_ + (base_ - final_) * (1.0 + std::cos(std::numbers::pi * progress)) / 2.0;
}

WarmupLr::WarmupLr(std::shared_ptr<LrSchedule> inner, int64_t warmup_steps)
    : inner_(std::move(inner)), warmup_(warmup_steps) {
  if (warmup_steps < 0) fail("WarmupLr: warmup_steps must be ≥ 0, got ", warmup_steps);
}

double WarmupLr::lr(int64_t step) const {
  double scale = step < warmup_ ? static_cast<double>(step + 1) / static_cast<double>(warmup_) : 1.0;
  return inner_->lr(step) * scale;
}

}  // namespace margin
