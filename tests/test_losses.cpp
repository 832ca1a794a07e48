// tests/test_losses.cpp — the loss progression as claims, one TEST_CASE each, in the order of
// losses/README.md: the fixture (PyTorch float64), the reductions between losses, gradients,
// ignored rows, stability, errors. The fused head's own claims are in test_margin_head.cpp;
// the bounds' in test_bounds.cpp.
#include <cmath>
#include <fstream>
#include <map>
#include <numbers>
#include <sstream>

#include "gradcheck.h"
#include "core/optim.h"
#include "losses/margin_loss.h"

namespace margin {
namespace {

using testing::assign;

const std::string kAllLosses[] = {"softmax", "nsl", "lmcl", "arcface", "sphereface", "combined"};

Tensor labels_of(const std::vector<int64_t>& values) {
  return Tensor::from_indices(values, {static_cast<int64_t>(values.size())});
}

LossOptions f64(LossOptions options = {}) {
  options.dtype = DType::F64;
  return options;
}

// llm.c style: "" when every |got − want| ≤ atol + rtol·|want|, else the first values and the
// worst element.
std::string compare(const std::string& what, const std::vector<double>& got,
                    const std::vector<double>& want, double atol, double rtol) {
  if (got.size() != want.size())
    return what + ": size " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
  double worst = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double excess = std::abs(got[i] - want[i]) / (atol + rtol * std::abs(want[i]));
    if (!(excess <= worst)) worst = excess, worst_at = i;
  }
  if (worst <= 1.0) return "";
  std::ostringstream out;
  out.precision(10);
  out << what << ": first values got/want:";
  for (size_t i = 0; i < std::min<size_t>(5, got.size()); ++i) out << " " << got[i] << "/" << want[i];
  out << "; worst element " << worst_at << ": " << got[worst_at] << " vs " << want[worst_at]
      << " (" << worst << "× the tolerance)";
  return out.str();
}

// ---- the PyTorch fixture ----------------------------------------------------------------

struct FixtureCase {
  std::string name;
  std::map<std::string, double> params;
  std::map<std::string, std::vector<double>> arrays;  // x, W, labels, loss, grad_x, grad_W
};

std::vector<FixtureCase> read_fixture() {
  std::string path = std::string(MARGIN_SOURCE_DIR) + "/tests/fixtures/losses.txt";
  std::ifstream in(path);
  if (!in) fail("test_losses: cannot open ", path, " (run tests/fixtures/make_loss_fixture.py)");
  std::vector<FixtureCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key.empty() || key[0] == '#' || key == "end") continue;
    if (key == "case") {
      cases.emplace_back();
      words >> cases.back().name;
    } else if (key == "params") {
      std::string name;
      double value;
      while (words >> name >> value) cases.back().params[name] = value;
    } else {
      double value;
      while (words >> value) cases.back().arrays[key].push_back(value);
    }
  }
  return cases;
}

std::shared_ptr<MarginLoss> loss_for(const FixtureCase& c, bool fused, int64_t d, int64_t classes) {
  LossOptions options = f64();
  options.fused = fused;
  options.margin = c.params.at("m");
  if (c.params.at("s") > 0) options.scale = c.params.at("s");
  if (c.name == "combined") {
    options.m1 = c.params.at("m1");
    options.m2 = c.params.at("m2");
    options.m3 = c.params.at("m3");
  }
  Generator gen(0);
  auto loss = make_loss(c.name, d, classes, gen, options);
  if (c.params.count("step")) loss->set_step(static_cast<int64_t>(c.params.at("step")));
  return loss;
}

TEST_CASE("every loss matches PyTorch's float64 loss and gradients (fixture)") {
  std::vector<FixtureCase> cases = read_fixture();
  REQUIRE(cases.size() == 6);
  for (const FixtureCase& c : cases) {
    for (bool fused : {false, true}) {
      CAPTURE(c.name);
      CAPTURE(fused);
      const std::vector<double>& x_values = c.arrays.at("x");
      const std::vector<double>& w_values = c.arrays.at("W");
      std::vector<int64_t> labels;
      for (double v : c.arrays.at("labels")) labels.push_back(static_cast<int64_t>(v));
      int64_t batch = static_cast<int64_t>(labels.size());
      int64_t d = static_cast<int64_t>(x_values.size()) / batch;
      int64_t classes = static_cast<int64_t>(w_values.size()) / d;
      auto loss = loss_for(c, fused, d, classes);
      assign(loss->weight(), w_values);
      Tensor x = Tensor::from_vector(x_values, {batch, d}, DType::F64).requires_grad_();
      Tensor value = loss->forward(x, labels_of(labels));
      value.backward();
      CHECK_MESSAGE(compare("loss", {value.item()}, c.arrays.at("loss"), 1e-10, 1e-10) == "", compare("loss", {value.item()}, c.arrays.at("loss"), 1e-10, 1e-10));
      std::string gx = compare("grad_x", x.grad().to_vector(), c.arrays.at("grad_x"), 1e-9, 1e-8);
      std::string gw = compare("grad_W", loss->weight().grad().to_vector(), c.arrays.at("grad_W"), 1e-9, 1e-8);
      CHECK_MESSAGE(gx.empty(), gx);
      CHECK_MESSAGE(gw.empty(), gw);
    }
  }
}

// ---- the reductions between losses ------------------------------------------------------

// Random float64 embeddings and a loss of each kind sharing the same W.
struct Batch {
  Tensor x, labels;
};
Batch random_batch(int64_t batch, int64_t d, int64_t classes, uint64_t seed) {
  Generator gen(seed);
  std::vector<int64_t> labels(batch);
  for (auto& y : labels) y = gen.below(classes);
  return {Tensor::randn({batch, d}, gen, DType::F64), labels_of(labels)};
}

std::shared_ptr<MarginLoss> make(const std::string& name, LossOptions options, uint64_t seed = 1,
                                 int64_t d = 8, int64_t classes = 10) {
  Generator gen(seed);
  return make_loss(name, d, classes, gen, f64(options));
}

double loss_value(MarginLoss& loss, const Tensor& x, const Tensor& labels) {
  NoGradGuard no_grad;
  return loss.forward(x, labels).item();
}

TEST_CASE("LMCL with m = 0 is NSL") {
  Batch batch = random_batch(6, 8, 10, 3);
  LossOptions options;
  options.scale = 30;
  options.margin = 0;
  auto lmcl = make("lmcl", options), nsl = make("nsl", options);
  CHECK(loss_value(*lmcl, batch.x, batch.labels) == doctest::Approx(loss_value(*nsl, batch.x, batch.labels)).epsilon(1e-14));
  options.margin = 0.35;
  CHECK(loss_value(*make("lmcl", options), batch.x, batch.labels) >
        loss_value(*nsl, batch.x, batch.labels) + 1.0);
}

TEST_CASE("Softmax with ‖W_j‖·‖x‖ = s for every j is NSL with scale s") {
  const double s = 12;
  Batch batch = random_batch(5, 8, 10, 4);
  LossOptions options;
  options.scale = s;
  auto nsl = make("nsl", options), softmax = make("softmax", {});
  // Rows of W of norm 2 and rows of x of norm s/2: every W_j·x = s cos θ_j.
  Tensor w_rows, x_rows;
  {
    NoGradGuard no_grad;
    w_rows = l2_normalize(nsl->weight()) * 2.0;
    x_rows = l2_normalize(batch.x) * (s / 2);
  }
  assign(softmax->weight(), w_rows.to_vector());
  CHECK(loss_value(*softmax, x_rows, batch.labels) ==
        doctest::Approx(loss_value(*nsl, x_rows, batch.labels)).epsilon(1e-13));
}

TEST_CASE("CombinedMargin reproduces LMCL (m3), ArcFace (m2) and SphereFace (m1, λ off)") {
  Batch batch = random_batch(8, 8, 10, 5);
  auto combined_with = [](double m1, double m2, double m3) {
    LossOptions options;
    options.scale = 30;
    options.m1 = m1, options.m2 = m2, options.m3 = m3;
    return make("combined", options);
  };
  LossOptions lmcl_options, arc_options, sphere_options;
  lmcl_options.scale = arc_options.scale = 30;
  lmcl_options.margin = 0.35;
  arc_options.margin = 0.5;
  sphere_options.margin = 4;
  sphere_options.anneal_lambda = false;
  // SphereFace keeps ‖x‖: every row is given the norm s, x = s·v/‖v‖, so the scales agree
  // and the gradients (taken w.r.t. v) see the same function.
  struct Pair {
    std::string name;
    std::shared_ptr<MarginLoss> combined, reference;
  };
  for (const Pair& p : {Pair{"lmcl", combined_with(1, 0, 0.35), make("lmcl", lmcl_options)},
                        Pair{"arcface", combined_with(1, 0.5, 0), make("arcface", arc_options)},
                        Pair{"sphereface", combined_with(4, 0, 0), make("sphereface", sphere_options)}}) {
    CAPTURE(p.name);
    for (bool fused : {false, true}) {
      CAPTURE(fused);
      Tensor v = batch.x.detach().clone().requires_grad_();
      Tensor v2 = batch.x.detach().clone().requires_grad_();
      Tensor a = fused ? p.combined->forward(l2_normalize(v) * 30.0, batch.labels)
                       : cross_entropy(p.combined->logits(l2_normalize(v) * 30.0, batch.labels), batch.labels);
      Tensor b = p.reference->forward(l2_normalize(v2) * 30.0, batch.labels);
      CHECK(a.item() == doctest::Approx(b.item()).epsilon(1e-12));
      a.backward();
      b.backward();
      std::string gx = compare("grad_x", v.grad().to_vector(), v2.grad().to_vector(), 1e-12, 1e-9);
      std::string gw = compare("grad_W", p.combined->weight().grad().to_vector(),
                               p.reference->weight().grad().to_vector(), 1e-12, 1e-9);
      CHECK_MESSAGE(gx.empty(), gx);
      CHECK_MESSAGE(gw.empty(), gw);
      p.combined->zero_grad();
      p.reference->zero_grad();
    }
  }
}

// ---- gradients --------------------------------------------------------------------------

TEST_CASE("every loss's gradients for x and W match float64 finite differences, small and large s") {
  for (const std::string& name : kAllLosses) {
    for (double s : {2.0, 64.0}) {
      for (bool fused : {false, true}) {
        CAPTURE(name);
        CAPTURE(s);
        CAPTURE(fused);
        LossOptions options;
        options.scale = s;
        options.fused = fused;
        auto loss = make(name, options, 2, 5, 7);
        Generator gen(11);
        // W of unit-sized rows: at the initial std 0.01 the curvature of Ŵ = W/‖W‖ (∝ 1/‖W‖²)
        // makes the finite differences, not the gradient, the inaccurate side.
        assign(loss->weight(), Tensor::randn({7, 5}, gen, DType::F64).to_vector());
        // Softmax and SphereFace see ‖x‖: keep the logits of the same size as s·cos θ.
        double x_size = (name == "softmax") ? s * 20 : (name == "sphereface" ? s : 1.0);
        Tensor x = (Tensor::randn({4, 5}, gen, DType::F64) * (x_size / 2.0)).requires_grad_();
        Tensor labels = labels_of({1, 6, -1, 3});
        std::string report = testing::gradcheck(
            [&](const std::vector<Tensor>& inputs) { return loss->forward(inputs[0], labels); },
            {x, loss->weight()});
        CHECK_MESSAGE(report.empty(), name << " s=" << s << ": " << report);
      }
    }
  }
}

// ---- why the class weights live on the unit sphere -------------------------------------

double row_norm(const std::vector<double>& w, int64_t row, int64_t d) {
  double squares = 0;
  for (int64_t k = 0; k < d; ++k) squares += w[row * d + k] * w[row * d + k];
  return std::sqrt(squares);
}

TEST_CASE("a normalized loss's gradient for W_j is orthogonal to W_j and scales as 1/‖W_j‖") {
  // Ŵ_j = W_j/‖W_j‖ ⇒ ∂L/∂W_j = (I − Ŵ_j Ŵ_jᵀ) ∂L/∂Ŵ_j / ‖W_j‖. So W_j · ∂L/∂W_j = 0: a plain
  // SGD step moves W_j at a right angle, ‖W_j + δ‖² = ‖W_j‖² + ‖δ‖², and W_j only grows; and
  // the step turns W_j by ≈ lr·‖∂L/∂W_j‖/‖W_j‖ ∝ 1/‖W_j‖² radians. From the 0.01-sized
  // rows of the usual N(0, 0.01²) start that is why W is kept on the unit sphere (its constraint).
  const int64_t d = 8, classes = 10;
  Batch batch = random_batch(16, d, classes, 21);
  for (std::string name : {"nsl", "lmcl", "arcface"}) {
    CAPTURE(name);
    LossOptions options;
    options.scale = 16;
    auto loss = make(name, options, 1, d, classes);
    auto grad_at = [&](double size) {
      std::vector<double> w = loss->weight().to_vector();
      for (int64_t j = 0; j < classes; ++j) {
        double norm = row_norm(w, j, d);
        for (int64_t k = 0; k < d; ++k) w[j * d + k] *= size / norm;
      }
      assign(loss->weight(), w);
      loss->zero_grad();
      loss->forward(batch.x, batch.labels).backward();
      return loss->weight().grad().to_vector();
    };
    std::vector<double> at_one = grad_at(1.0), at_ten = grad_at(10.0);
    std::vector<double> w = loss->weight().to_vector();  // rows of length 10
    for (int64_t j = 0; j < classes; ++j) {
      CAPTURE(j);
      double dot = 0;
      for (int64_t k = 0; k < d; ++k) dot += w[j * d + k] * at_ten[j * d + k];
      CHECK(row_norm(at_one, j, d) > 1e-4);  // every class gets a gradient: the check has teeth
      CHECK(std::abs(dot) <= 1e-12 * row_norm(at_ten, j, d) * 10);
      for (int64_t k = 0; k < d; ++k) CHECK(at_ten[j * d + k] == doctest::Approx(at_one[j * d + k] / 10).epsilon(1e-12));
    }
  }
}

TEST_CASE("class weights start of length 1 and an optimizer step puts them back there (Softmax's keep their size), the loss does not notice") {
  const int64_t d = 8, classes = 10;
  Batch batch = random_batch(6, d, classes, 22);
  for (const std::string& name : kAllLosses) {
    CAPTURE(name);
    auto loss = make(name, {}, 3, d, classes);
    std::vector<double> w = loss->weight().to_vector();
    for (int64_t j = 0; j < classes; ++j) {
      if (name == "softmax") CHECK(row_norm(w, j, d) < 0.1);  // N(0, 0.01²): ≈ 0.01·√8
      else CHECK(row_norm(w, j, d) == doctest::Approx(1.0).epsilon(1e-14));
    }
    // Lengthen the rows as SGD would (by 1 to 50×); then an SGD step of lr 0 (which leaves W
    // as it is) applies W's constraint: no training loop has to remember it.
    for (int64_t j = 0; j < classes; ++j)
      for (int64_t k = 0; k < d; ++k) w[j * d + k] *= 1.0 + 49.0 * j / (classes - 1);
    assign(loss->weight(), w);
    double before = loss_value(*loss, batch.x, batch.labels);
    SGD sgd(loss->parameters(), {.lr = 0.0, .momentum = 0.9});
    loss->forward(batch.x, batch.labels).backward();
    sgd.step();
    std::vector<double> after = loss->weight().to_vector();
    if (name == "softmax") {
      CHECK(after == w);  // its logits use ‖W_j‖: left alone
      continue;
    }
    CHECK(loss_value(*loss, batch.x, batch.labels) == doctest::Approx(before).epsilon(1e-13));
    for (int64_t j = 0; j < classes; ++j) {
      CHECK(row_norm(after, j, d) == doctest::Approx(1.0).epsilon(1e-14));
      for (int64_t k = 0; k < d; ++k)
        CHECK(after[j * d + k] == doctest::Approx(w[j * d + k] / row_norm(w, j, d)).epsilon(1e-14));
    }
  }
}

TEST_CASE("ArcFace's straight-through gradient is NSL's gradient at ArcFace's value") {
  Batch batch = random_batch(6, 8, 10, 6);
  LossOptions options;
  options.scale = 16;
  options.margin = 0.5;
  options.straight_through = true;
  auto straight = make("arcface", options), exact = make("arcface", [&] { auto o = options; o.straight_through = false; return o; }());
  CHECK(loss_value(*straight, batch.x, batch.labels) ==
        doctest::Approx(loss_value(*exact, batch.x, batch.labels)).epsilon(1e-13));
  // ∂z_y/∂cos θ_y = s: the logits' gradient is NSL's, whatever the margin did to the value.
  LossOptions nsl_options;
  nsl_options.scale = 16;
  auto nsl = make("nsl", nsl_options);
  Tensor x1 = batch.x.detach().clone().requires_grad_(), x2 = batch.x.detach().clone().requires_grad_();
  sum(straight->logits(x1, batch.labels)).backward();
  sum(nsl->logits(x2, batch.labels)).backward();
  std::string report = compare("grad_x", x1.grad().to_vector(), x2.grad().to_vector(), 1e-12, 1e-12);
  CHECK_MESSAGE(report.empty(), report);
}

// ---- ignored rows, labels, stability ----------------------------------------------------

TEST_CASE("rows labelled -1 contribute neither loss nor gradient") {
  for (const std::string& name : kAllLosses) {
    for (bool fused : {false, true}) {
      CAPTURE(name);
      CAPTURE(fused);
      LossOptions options;
      options.fused = fused;
      auto loss = make(name, options);
      Batch batch = random_batch(4, 8, 10, 7);
      Tensor x = batch.x.detach().clone().requires_grad_();
      std::vector<int64_t> labels = batch.labels.to_indices();
      labels[2] = -1;
      Tensor with_ignored = loss->forward(x, labels_of(labels));
      with_ignored.backward();
      std::vector<double> grad_x = x.grad().to_vector();
      for (int j = 0; j < 8; ++j) CHECK(grad_x[2 * 8 + j] == 0.0);
      // Same value as the batch without that row (the mean is over the 3 valid rows).
      Tensor kept = concat({batch.x.slice(0, 0, 2), batch.x.slice(0, 3, 4)}, 0).contiguous();
      double without = loss_value(*loss, kept, labels_of({labels[0], labels[1], labels[3]}));
      CHECK(with_ignored.item() == doctest::Approx(without).epsilon(1e-13));
      // All rows ignored: 0, and no gradient.
      CHECK(loss_value(*loss, batch.x, labels_of({-1, -1, -1, -1})) == 0.0);
    }
  }
}

TEST_CASE("reduction: None gives each row's loss (0 where ignored), Sum their sum, Mean their mean over labelled rows") {
  Batch batch = random_batch(5, 8, 10, 8);
  std::vector<int64_t> labels = batch.labels.to_indices();
  labels[1] = -1;
  for (const std::string& name : kAllLosses) {
    for (bool fused : {false, true}) {
      CAPTURE(name);
      CAPTURE(fused);
      auto with = [&](Reduction reduction) {
        LossOptions options;
        options.fused = fused;
        options.reduction = reduction;
        return make(name, options);  // the same seed: the same W for each reduction
      };
      Tensor rows = with(Reduction::None)->forward(batch.x, labels_of(labels));
      REQUIRE(rows.shape() == Shape{5});
      std::vector<double> per_row = rows.to_vector();
      CHECK(per_row[1] == 0.0);
      double total = 0;
      for (int64_t b = 0; b < 5; ++b) {
        if (b == 1) continue;
        CHECK(per_row[b] > 0.0);  // a cross-entropy of a labelled row
        // Each row alone, through the default mean: the same value.
        Tensor one = batch.x.slice(0, b, b + 1).contiguous();
        CHECK(per_row[b] == doctest::Approx(loss_value(*with(Reduction::Mean), one, labels_of({labels[b]}))).epsilon(1e-13));
        total += per_row[b];
      }
      CHECK(with(Reduction::Sum)->forward(batch.x, labels_of(labels)).item() == doctest::Approx(total).epsilon(1e-13));
      CHECK(with(Reduction::Mean)->forward(batch.x, labels_of(labels)).item() == doctest::Approx(total / 4).epsilon(1e-13));
      // The gradient of Σ_b ℓ_b [None] is Sum's.
      Tensor x_none = batch.x.detach().clone().requires_grad_(), x_sum = batch.x.detach().clone().requires_grad_();
      sum(with(Reduction::None)->forward(x_none, labels_of(labels))).backward();
      with(Reduction::Sum)->forward(x_sum, labels_of(labels)).backward();
      std::vector<double> g_none = x_none.grad().to_vector(), g_sum = x_sum.grad().to_vector();
      for (size_t i = 0; i < g_sum.size(); ++i) CHECK(g_none[i] == doctest::Approx(g_sum[i]).epsilon(1e-13));
    }
  }
}

TEST_CASE("bad labels name the row and the value") {
  for (const std::string& name : kAllLosses) {
    for (bool fused : {false, true}) {
      CAPTURE(name);
      LossOptions options;
      options.fused = fused;
      auto loss = make(name, options);
      Batch batch = random_batch(3, 8, 10, 8);
      std::string too_big = testing::error_of([&] { loss->forward(batch.x, labels_of({0, 10, 1})); });
      CHECK(too_big.find("label 10 at row 1") != std::string::npos);
      CHECK(too_big.find("[0, 10)") != std::string::npos);
      std::string negative = testing::error_of([&] { loss->forward(batch.x, labels_of({0, 1, -2})); });
      CHECK(negative.find("label -2 at row 2") != std::string::npos);
      std::string wrong_count = testing::error_of([&] { loss->forward(batch.x, labels_of({0, 1})); });
      CHECK(wrong_count.find("expected int64 labels [3]") != std::string::npos);
    }
  }
  CHECK(testing::error_of([] { Generator gen(0); make_loss("cosineface", 4, 3, gen); })
            .find("unknown loss 'cosineface'") != std::string::npos);
  CHECK(testing::error_of([] { LossOptions o; o.margin = 1.5; make("sphereface", o); })
            .find("integer") != std::string::npos);
  // s and m out of range: LMCL's target logit s (cos θ_y − m) < −s ≤ s cos θ_j for m ≥ 2, ArcFace's
  // θ_y + m ≥ π for m ≥ π: no feature could ever be classified right.
  CHECK(testing::error_of([] { LossOptions o; o.margin = 5; make("lmcl", o); }) ==
        "LMCL: margin m = 5 (expected 0 <= m < 2: beyond it no feature is classified right)");
  CHECK(testing::error_of([] { LossOptions o; o.margin = -0.1; make("lmcl", o); }).find("margin m = -0.1") !=
        std::string::npos);
  CHECK(testing::error_of([] { LossOptions o; o.margin = 3.2; make("arcface", o); }).starts_with("ArcFace: margin m = 3.2"));
  CHECK(testing::error_of([] { LossOptions o; o.scale = -1; make("nsl", o); }) ==
        "NSL: scale s = -1 (expected a positive number: the logits are s·cos θ)");
  LossOptions edge;
  edge.margin = 1.99;
  CHECK(make("lmcl", edge)->current_margin() == 1.99);  // below the limit: accepted
  LossOptions ignored;
  ignored.scale = -1;
  CHECK(make("softmax", ignored) != nullptr);  // Softmax has no s
}

TEST_CASE("no NaN when |cos θ| = 1 (a feature exactly on or opposite its class weight)") {
  for (const std::string& name : kAllLosses) {
    for (bool fused : {false, true}) {
      CAPTURE(name);
      CAPTURE(fused);
      LossOptions options;
      options.fused = fused;
      auto loss = make(name, options, 3, 4, 5);
      std::vector<double> w = loss->weight().to_vector(), rows(8);
      for (int j = 0; j < 4; ++j) rows[j] = w[2 * 4 + j] * 100, rows[4 + j] = -w[2 * 4 + j] * 100;
      Tensor x = Tensor::from_vector(rows, {2, 4}, DType::F64).requires_grad_();
      Tensor value = loss->forward(x, labels_of({2, 2}));
      value.backward();
      CHECK(std::isfinite(value.item()));
      for (double g : x.grad().to_vector()) CHECK(std::isfinite(g));
      for (double g : loss->weight().grad().to_vector()) CHECK(std::isfinite(g));
    }
  }
}

TEST_CASE("stable at s = 64 and C = 100,000 (float32)") {
  for (std::string name : {"nsl", "lmcl", "arcface", "combined"}) {
    for (bool fused : {false, true}) {
      CAPTURE(name);
      LossOptions options;
      options.scale = 64;
      options.fused = fused;
      Generator gen(9);
      auto loss = make_loss(name, 16, 100000, gen, options);
      Tensor x = Tensor::randn({4, 16}, gen).requires_grad_();
      Tensor value = loss->forward(x, labels_of({0, 99999, 5, 77}));
      value.backward();
      CHECK(std::isfinite(value.item()));
      int64_t non_finite = 0;
      for (double g : x.grad().to_vector()) non_finite += !std::isfinite(g);
      CHECK(non_finite == 0);
    }
  }
}

// ---- schedules and inference --------------------------------------------------------------

TEST_CASE("margin warm-up ramps m from 0 over N steps, SphereFace's λ anneals as in its code") {
  LossOptions options;
  options.margin = 0.4;
  options.warmup_steps = 100;
  auto lmcl = make("lmcl", options);
  CHECK(lmcl->current_margin() == 0.0);
  lmcl->set_step(25);
  CHECK(lmcl->current_margin() == doctest::Approx(0.1));
  lmcl->set_step(1000);
  CHECK(lmcl->current_margin() == doctest::Approx(0.4));

  LossOptions sphere;
  sphere.margin = 4;
  Generator gen(0);
  SphereFaceLoss loss(4, 3, gen, f64(sphere));
  CHECK(loss.lambda() == doctest::Approx(1000.0));
  loss.set_step(100);
  CHECK(loss.lambda() == doctest::Approx(1000.0 / 13.0));
  loss.set_step(100000);
  CHECK(loss.lambda() == 5.0);
}

TEST_CASE("logits without labels are s·cos θ, with labels only the target moves") {
  Batch batch = random_batch(3, 8, 10, 10);
  LossOptions options;
  options.scale = 10;
  options.margin = 0.25;
  auto lmcl = make("lmcl", options);
  std::vector<double> cosines = lmcl->cos_theta(batch.x).to_vector();
  std::vector<double> plain = lmcl->logits(batch.x, Tensor()).to_vector();
  std::vector<double> with_margin = lmcl->logits(batch.x, batch.labels).to_vector();
  std::vector<int64_t> labels = batch.labels.to_indices();
  for (int b = 0; b < 3; ++b)
    for (int j = 0; j < 10; ++j) {
      double expected = 10 * (cosines[b * 10 + j] - (j == labels[b] ? 0.25 : 0.0));
      CHECK(plain[b * 10 + j] == doctest::Approx(10 * cosines[b * 10 + j]));
      CHECK(with_margin[b * 10 + j] == doctest::Approx(expected));
    }
}

}  // namespace
}  // namespace margin
