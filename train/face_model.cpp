// train/face_model.cpp — model.txt written and read, the network rebuilt from it,
// the weights loaded. See face_model.h. Every integer of model.txt (input, crop, channels,
// widths, emb_dim, classes) is read strictly (eval/text_fields.h integer_problem) and must be
// positive; an error names the file, the key, the value and what was expected.
#include "train/face_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/atomic_file.h"
#include "eval/text_fields.h"
#include "layers/backbones.h"
#include "train/checkpoint.h"

namespace margin {

std::string size_text(int64_t height, int64_t width) { return std::to_string(height) + "x" + std::to_string(width); }

void parse_size(const std::string& text, int64_t& height, int64_t& width, const std::string& what) {
  size_t x = text.find('x');
  if (x == std::string::npos) fail(what, ": '", text, "' is not a size (expected HxW, e.g. 96x84)");
  int64_t h = 0, w = 0;
  const std::string h_text = text.substr(0, x), w_text = text.substr(x + 1);
  if (std::string problem = integer_problem(h_text, 1, h); !problem.empty())
    fail(what, ": '", text, "' is not a size: the height '", h_text, "' ", problem,
         " (expected HxW, two positive integers, e.g. 96x84)");
  if (std::string problem = integer_problem(w_text, 1, w); !problem.empty())
    fail(what, ": '", text, "' is not a size: the width '", w_text, "' ", problem,
         " (expected HxW, two positive integers, e.g. 96x84)");
  height = h;
  width = w;
}

static std::string join(const std::vector<int64_t>& values, const char* separator) {
  std::string text;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) text += separator;
    text += std::to_string(values[i]);
  }
  return text;
}

void save_model_config(const std::string& path, const FaceModelConfig& config) {
  if (!config.scale || !config.margin)
    fail("save_model_config: ", path, ": s and m must be known (build_face_model fills in the loss's defaults)");
  if (!std::isfinite(config.threshold) || !std::isfinite(config.threshold_flip))
    fail("save_model_config: ", path, ": thresholds ", config.threshold, " and ", config.threshold_flip,
         " (expected finite numbers: cosine similarities)");
  std::ostringstream text;
  text.precision(17);
  text << "# margin face model (train/face_model.h); weights in model.bin\n"
       << "arch = " << config.arch << "\n"
       << "crop = " << (config.crop_height > 0 ? size_text(config.crop_height, config.crop_width) : "none") << "\n"
       << "input = " << size_text(config.height, config.width) << "\n"
       << "channels = " << config.channels << "\n"
       << "widths = " << join(config.widths, ",") << "\n"
       << "emb_dim = " << config.emb_dim << "\n"
       << "loss = " << config.loss << "\n"
       << "s = " << *config.scale << "\n"
       << "m = " << *config.margin << "\n"
       << "classes = " << config.classes << "\n"
       << "held_out =";
  for (const std::string& name : config.held_out) text << ' ' << name;
  text << "\nthreshold = " << config.threshold << "\nthreshold_flip = " << config.threshold_flip << "\n";
  try {
    write_file_atomically(path, text.str());
  } catch (const Error& e) {
    fail("save_model_config: cannot write ", path, ": ", e.what());
  }
}

FaceModelConfig load_model_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("load_model_config: ", path, ": no such file (a model folder of train_faces has model.txt)");
  std::map<std::string, std::string> values;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    size_t equals = line.find('=');
    if (equals == std::string::npos) fail("load_model_config: ", path, ": line ", line_number, ": expected key = value");
    auto trim = [](std::string text) {
      size_t first = text.find_first_not_of(" \t\r"), last = text.find_last_not_of(" \t\r");
      return first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
    };
    values[trim(line.substr(0, equals))] = trim(line.substr(equals + 1));
  }
  auto text_of = [&](const std::string& key) -> const std::string& {
    auto found = values.find(key);
    if (found == values.end()) fail("load_model_config: ", path, ": no '", key, "' line");
    return found->second;
  };
  auto number_of = [&](const std::string& key) {
    const std::string& text = text_of(key);
    std::istringstream parse(text);
    double value = 0;
    parse >> value;
    if (parse.fail() || !parse.eof()) fail("load_model_config: ", path, ": ", key, " = '", text, "' is not a number");
    return value;
  };

  // Sizes are integers, all of the text: "16.9", "1e30" or "12abc" is not one, nor is "-3".
  auto positive_integer_of = [&](const std::string& key) {
    const std::string& text = text_of(key);
    int64_t value = 0;
    if (std::string problem = integer_problem(text, 1, value); !problem.empty())
      fail("load_model_config: ", path, ": ", key, " = '", text, "' ", problem, " (expected a positive integer)");
    return value;
  };

  FaceModelConfig config;
  config.arch = text_of("arch");
  parse_size(text_of("input"), config.height, config.width, "load_model_config: " + path + ": input");
  if (values.count("crop") && values["crop"] != "none")
    parse_size(values["crop"], config.crop_height, config.crop_width, "load_model_config: " + path + ": crop");
  config.channels = positive_integer_of("channels");
  config.widths.clear();
  const std::string& widths = text_of("widths");
  for (size_t start = 0; !widths.empty() && start <= widths.size();) {
    size_t comma = std::min(widths.find(',', start), widths.size());
    const std::string width = widths.substr(start, comma - start);
    int64_t value = 0;
    if (std::string problem = integer_problem(width, 1, value); !problem.empty())
      fail("load_model_config: ", path, ": widths = '", widths, "': '", width, "' ", problem,
           " (expected positive integers, comma-separated)");
    config.widths.push_back(value);
    start = comma + 1;
  }
  config.emb_dim = positive_integer_of("emb_dim");
  config.loss = text_of("loss");
  config.scale = number_of("s");
  config.margin = number_of("m");
  config.classes = positive_integer_of("classes");
  std::istringstream held_out(text_of("held_out"));
  for (std::string name; held_out >> name;) config.held_out.push_back(name);
  config.threshold = number_of("threshold");
  config.threshold_flip = number_of("threshold_flip");
  return config;
}

FaceModel build_face_model(const FaceModelConfig& config, uint64_t seed, std::optional<PartialFcOptions> partial_fc) {
  if (config.channels != 1 && config.channels != 3)
    fail("face model: channels ", config.channels, " (expected 1 or 3)");
  if (config.classes < 2) fail("face model: ", config.classes, " training identities (expected at least 2)");
  FaceModel model;
  model.config = config;
  model.gen = std::make_shared<Generator>(seed);
  Generator& gen = *model.gen;
  const ImageSize input{config.height, config.width};
  if (config.arch == "small")
    model.backbone = small_cnn(gen, {.emb = config.emb_dim, .channels = config.channels, .input = input, .widths = config.widths});
  else if (config.arch == "iresnet18" || config.arch == "iresnet50")
    model.backbone = iresnet(config.arch == "iresnet18" ? 18 : 50, gen,
                             {.emb = config.emb_dim, .input = input, .channels = config.channels});
  else if (config.arch == "sphere20")
    model.backbone = sphere20(gen, {.emb = config.emb_dim, .input = input, .channels = config.channels});
  else if (config.arch == "mbf")
    model.backbone = mobilefacenet(gen, {.emb = config.emb_dim, .input = input, .channels = config.channels});
  else if (config.arch == "mbf128") {
    if (config.emb_dim != 128) fail("face model: arch mbf128 is the paper's 128-d MobileFaceNet: emb_dim ", config.emb_dim, " (expected 128)");
    model.backbone = mobilefacenet(gen, {.emb = 128, .input = input, .channels = config.channels, .scale = 1});
  } else
    fail("face model: unknown arch '", config.arch, "' (expected small, iresnet18, iresnet50, sphere20, mbf or mbf128)");
  model.head = make_loss(config.loss, config.emb_dim, config.classes, gen,
                         {.scale = config.scale, .margin = config.margin, .partial_fc = partial_fc});
  // The values in force (the loss's defaults filled in), so that model.txt says what was used.
  model.config.scale = model.head->scale();
  model.config.margin = model.head->margin();
  return model;
}

FaceModel load_face_model(const std::string& dir, const std::string& weights) {
  FaceModel model;
  try {
    model = build_face_model(load_model_config(dir + "/model.txt"), 0);
  } catch (const Error& e) {  // e.g. sizes too large to allocate: name the file that asked
    if (std::string_view(e.what()).starts_with("load_model_config:")) throw;
    fail("load_face_model: ", dir, "/model.txt: ", e.what());
  }
  const std::string path = weights.empty() ? dir + "/model.bin" : weights;
  if (!std::filesystem::exists(path))
    fail("load_face_model: ", path, ": no such file (train_faces writes model.bin when all epochs are done; "
         "an unfinished run has checkpoint.bin)");
  std::vector<NamedModule> state{{"model", model.backbone.get()}, {"loss", model.head.get()}};
  load_checkpoint(path, state, nullptr);
  // A model that diverged embeds every image as NaN, which would score as "different people".
  if (std::optional<NonFinite> bad = first_non_finite(state))
    fail("load_face_model: ", path, ": ", bad->name, " holds ", bad->value,
         " (expected finite weights: the training that wrote them diverged)");
  model.backbone->eval();
  model.head->eval();
  return model;
}

Transform face_input() { return normalize({0.5f}, {0.5f}); }

}  // namespace margin
