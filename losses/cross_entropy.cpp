// losses/cross_entropy.cpp — the one cross-entropy every margin loss ends in, and the label
// checks that go with it.
//
//   ℓ_b = −log p_{b,y_b},   p_b = softmax(z_b),   for b ∈ V = {b : y_b ≠ −1}; ℓ_b = 0 otherwise
//   L = (1/|V|) Σ_b ℓ_b  (Reduction::Mean; Sum drops the 1/|V|, None returns ℓ)
//   ∂L/∂z_bj = (p_bj − [j = y_b]) / |V| for b ∈ V, and 0 for ignored rows.
// Ignored rows are multiplied by a 0 mask after the log-softmax, so neither their loss nor
// their gradient reaches anything. With no valid row the mean is 0 (PyTorch gives NaN).
// Left out: label smoothing and class weights.
#include <algorithm>

#include "core/ops.h"
#include "losses/margin_loss.h"

namespace margin {

LabelRows label_rows(const Tensor& labels, int64_t batch, int64_t classes, DType dtype,
                     const char* who) {
  if (!labels.defined() || labels.dtype() != DType::I64 || labels.ndim() != 1 ||
      labels.size(0) != batch)
    fail(who, ": expected int64 labels [", batch, "] (one per row of x), got ",
         labels.defined() ? labels.describe() : std::string("an undefined tensor"));
  std::vector<int64_t> values = labels.to_indices();
  LabelRows rows;
  std::vector<int64_t> safe(values.size());
  std::vector<double> valid(values.size());
  for (size_t b = 0; b < values.size(); ++b) {
    if (values[b] < -1 || values[b] >= classes)
      fail(who, ": label ", values[b], " at row ", b, " is outside [0, ", classes,
           ") and is not the ignore label -1");
    safe[b] = std::max<int64_t>(values[b], 0);
    valid[b] = values[b] >= 0 ? 1.0 : 0.0;
    rows.count += values[b] >= 0;
  }
  rows.safe = Tensor::from_indices(safe, {batch, 1}, labels.device());
  rows.valid = Tensor::from_vector(valid, {batch, 1}, dtype, labels.device());
  return rows;
}

Tensor blend_valid(const LabelRows& rows, const Tensor& a, const Tensor& b) {
  if (rows.count == rows.valid.size(0)) return a;
  return rows.valid * a + (1.0 - rows.valid) * b;
}

Tensor reduce_rows(const Tensor& losses, const LabelRows& rows, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return losses;
    case Reduction::Sum: return sum(losses);
    case Reduction::Mean: break;
  }
  return sum(losses) / static_cast<double>(std::max<int64_t>(rows.count, 1));
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, Reduction reduction) {
  if (!logits.defined() || logits.ndim() != 2)
    fail("cross_entropy: expected logits [B, C], got ",
         logits.defined() ? logits.describe() : std::string("an undefined tensor"));
  LabelRows rows = label_rows(labels, logits.size(0), logits.size(1), logits.dtype(),
                              "cross_entropy");
  Tensor log_p = gather(log_softmax(logits, 1), 1, rows.safe);  // log p_{b, y_b}, [B, 1]
  return reduce_rows(-(log_p * rows.valid).reshape({logits.size(0)}), rows, reduction);
}

}  // namespace margin
