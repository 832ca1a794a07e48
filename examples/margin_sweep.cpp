// examples/margin_sweep.cpp — the CosFace paper's margin study on data a user has: train the
// same network on Fashion-MNIST with LMCL for m ∈ {0, 0.05, …, 0.45} and report, per m:
//   test accuracy            nearest class weight by cosine;
//   angle to own weight      mean over test images of θ_y = arccos cos(x, W_y), in degrees:
//                            how tightly each class gathers around its weight;
//   min inter-weight angle   min over class pairs of arccos cos(W_i, W_j), in degrees: how
//                            far apart the classes' directions are pushed;
//   converged                every loss finite and the last epoch's training accuracy ≥ 50%
//                            (5× chance): the paper notes that too large an m stops training.
// m = 0 is NSL. Writes sweep.csv, sweep.md (a Markdown table) and two plots (accuracy vs m;
// both angles vs m) under --out; each run keeps its own folder (m_0.35/ …) with its log.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/autograd.h"
#include "core/flags.h"
#include "core/threads.h"
#include "core/ops.h"
#include "data/fashion_mnist.h"
#include "eval/plot.h"
#include "train/fmnist.h"
#include "train/metrics.h"

using namespace margin;

namespace {

struct SweepRow {
  double m = 0, accuracy = NAN, angle_to_weight = NAN, min_weight_angle = NAN, seconds = 0;
  bool converged = false;
  std::string note = "";  // why a run did not converge
};

constexpr double kDegrees = 180.0 / M_PI;

std::vector<double> parse_margins(const std::string& text) {
  std::vector<double> margins;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    double m = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(m >= 0 && m < 1))
      fail("--margins: '", item, "' is not a margin in [0, 1) (expected a list like 0,0.1,0.35)");
    margins.push_back(m);
  }
  if (margins.empty()) fail("--margins: no margins given");
  return margins;
}

// Mean over rows of the angle between embedding i and the weight of its label, in degrees.
double mean_angle_to_weight(const Tensor& embeddings, const Tensor& weight, const Tensor& labels) {
  NoGradGuard no_grad;
  std::vector<double> cos = matmul(l2_normalize(embeddings), l2_normalize(weight), false, true)
                                .to_vector();
  std::vector<int64_t> truth = labels.to_indices();
  const int64_t classes = weight.size(0);
  double sum = 0;
  for (size_t i = 0; i < truth.size(); ++i) sum += std::acos(std::clamp(cos[i * classes + truth[i]], -1.0, 1.0));
  return kDegrees * sum / static_cast<double>(truth.size());
}

// The smallest angle between two class weights, in degrees.
double min_inter_weight_angle(const Tensor& weight) {
  NoGradGuard no_grad;
  Tensor unit = l2_normalize(weight);
  std::vector<double> cos = matmul(unit, unit, false, true).to_vector();
  const int64_t classes = weight.size(0);
  double largest = -1;
  for (int64_t i = 0; i < classes; ++i)
    for (int64_t j = i + 1; j < classes; ++j) largest = std::max(largest, cos[i * classes + j]);
  return kDegrees * std::acos(std::clamp(largest, -1.0, 1.0));
}

std::string fixed(double value, int decimals) {
  if (std::isnan(value)) return "–";
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

void write_tables(const std::string& out_dir, const FmnistConfig& config, const std::vector<SweepRow>& rows) {
  std::ostringstream csv, md;
  csv << "m,test_accuracy,mean_angle_to_weight_deg,min_inter_weight_angle_deg,converged,seconds\n";
  for (const SweepRow& r : rows)
    csv << r.m << ',' << r.accuracy << ',' << r.angle_to_weight << ',' << r.min_weight_angle << ','
        << (r.converged ? "yes" : "no") << ',' << r.seconds << '\n';
  md << "LMCL on Fashion-MNIST: s = " << config.scale << ", d = " << config.emb_dim << ", " << config.epochs
     << " epochs, batch " << config.batch << ", lr " << config.lr << ", seed " << config.seed << ".\n\n"
     << "| m | test accuracy | mean angle to own weight | min angle between weights | converged |\n"
     << "|---|---|---|---|---|\n";
  for (const SweepRow& r : rows)
    md << "| " << fixed(r.m, 2) << " | " << fixed(100 * r.accuracy, 2) << "% | " << fixed(r.angle_to_weight, 1)
       << "° | " << fixed(r.min_weight_angle, 1) << "° | " << (r.converged ? "yes" : "no" + (r.note.empty() ? "" : " (" + r.note + ")")) << " |\n";
  write_file_atomically(out_dir + "/sweep.csv", csv.str());
  write_file_atomically(out_dir + "/sweep.md", md.str());
}

void write_plots(const std::string& out_dir, const std::vector<SweepRow>& rows) {
  std::vector<double> ms, accuracy, to_weight, between;
  for (const SweepRow& r : rows) {
    if (!r.converged) continue;
    ms.push_back(r.m);
    accuracy.push_back(100 * r.accuracy);
    to_weight.push_back(r.angle_to_weight);
    between.push_back(r.min_weight_angle);
  }
  if (ms.empty()) return;
  Plot accuracy_plot(800, 500);
  accuracy_plot.title("LMCL on Fashion-MNIST: test accuracy vs m").x_label("margin m").y_label("test accuracy (%)").grid();
  accuracy_plot.line(ms, accuracy, class_color(0), "test accuracy");
  accuracy_plot.scatter(ms, accuracy, class_color(0));
  accuracy_plot.save(out_dir + "/accuracy_vs_m.png");

  Plot angle_plot(800, 500);
  angle_plot.title("LMCL on Fashion-MNIST: angles vs m").x_label("margin m").y_label("degrees").grid();
  angle_plot.line(ms, to_weight, class_color(1), "mean angle to own weight");
  angle_plot.line(ms, between, class_color(2), "min angle between weights");
  angle_plot.save(out_dir + "/angles_vs_m.png");
}

}  // namespace

int main(int argc, char** argv) try {
  Flags flags("margin_sweep",
              "Trains the Fashion-MNIST CNN with LMCL for each margin m and tabulates test accuracy,\n"
              "the mean angle of embeddings to their class weight and the smallest angle between\n"
              "class weights (the CosFace paper's margin study). m = 0 is NSL.");
  // The study's network and scale (docs/experiments.md): two stages, s = 30, 3 epochs a margin.
  FmnistConfig config;
  config.epochs = 3;
  config.scale = 30;
  config.widths = {32, 64};
  config.out_dir = "runs/margin_sweep";
  config.loss = "lmcl";
  add_fmnist_flags(flags, config, /*single_run=*/false);
  std::string& margins_text = flags.add<std::string>("margins", "0,0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45",
                                                     "the margins to train with, comma-separated");
  std::string& data_dir = flags.add<std::string>("data", kFashionMnistDir, "folder with the Fashion-MNIST IDX files");
  int& threads = flags.add("threads", 2, "CPU threads");
  flags.add_device_flag();
  flags.parse(argc, argv);
  set_threads(threads);
  std::vector<double> margins = parse_margins(margins_text);
  const std::string out_dir = config.out_dir;
  std::filesystem::create_directories(out_dir);

  auto train_set = load_fashion_mnist(data_dir, true);
  auto test_set = load_fashion_mnist(data_dir, false);
  std::vector<SweepRow> rows;
  for (double m : margins) {
    SweepRow row{.m = m};
    FmnistConfig run_config = config;
    run_config.margin = m;
    run_config.out_dir = out_dir + "/m_" + fixed(m, 2);
    std::fprintf(stderr, "== m = %.2f (%zu of %zu) ==\n", m, rows.size() + 1, margins.size());
    try {
      FmnistRun run = run_fmnist(run_config, train_set, test_set);
      Embeddings test = embed_dataset(*run.model, test_set, default_device());
      Tensor weight = run.head->weight().to(kCPU);
      row.accuracy = run.test_accuracy;
      row.angle_to_weight = mean_angle_to_weight(test.plain, weight, test.labels);
      row.min_weight_angle = min_inter_weight_angle(weight);
      row.seconds = run.outcome.seconds;
      double train_accuracy = run.outcome.epochs.back().train_accuracy;
      row.converged = train_accuracy >= 0.5;
      if (!row.converged) row.note = "train accuracy " + fixed(100 * train_accuracy, 1) + "%";
    } catch (const Error& e) {  // a non-finite loss: the run diverged
      row.note = e.what();
    }
    rows.push_back(row);
    write_tables(out_dir, config, rows);  // after every run, so a long sweep shows progress
  }
  write_plots(out_dir, rows);
  std::ifstream table(out_dir + "/sweep.md");
  std::cout << table.rdbuf();
  std::printf("margin_sweep: %zu runs; wrote %s/sweep.csv, sweep.md, accuracy_vs_m.png, angles_vs_m.png\n",
              rows.size(), out_dir.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "margin_sweep: %s\n", e.what());
  return 1;
}
