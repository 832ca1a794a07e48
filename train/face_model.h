// train/face_model.h — a trained face model as train_faces leaves it in its output
// folder, and the one way the tools (embed, verify, eval_pairs) and the tests get it back:
//
//   out/model.txt   what rebuilds the network: arch, input size, channels, embedding size,
//                   the loss head (loss, s, m, training identities), the held-out identities
//                   and the verification thresholds found on them
//   out/model.bin   the weights (train/checkpoint.h: "model.*" backbone, "loss.*" head)
//
// model.txt is "key = value" lines ('#' starts a comment), e.g.
//   arch = small
//   crop = none                 (or HxW: the centre window kept before the resize)
//   input = 96x84
//   channels = 1
//   widths = 32,64,128,256      (small only: one conv stage per entry)
//   emb_dim = 128
//   loss = lmcl
//   s = 30
//   m = 0.35
//   classes = 28
//   held_out = yaleB05 yaleB11 …
//   threshold = 0.3127          (best accuracy on all held-out pairs, plain embeddings)
//   threshold_flip = 0.3311     (the same for flip embeddings)
//
// Images enter every model the same way (face_input below): decoded to `channels`, the centre
// crop when there is one (data/image.h crop_center), resized to the input size (bilinear),
// byte / 255, then normalize({0.5}, {0.5}) to [−1, 1]. A model.txt without a crop line has none.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/random.h"
#include "data/transforms.h"
#include "layers/module.h"
#include "losses/margin_loss.h"

namespace margin {

struct FaceModelConfig {
  std::string arch = "small";  // small | iresnet18 | iresnet50 | sphere20 | mbf | mbf128
  int64_t crop_height = 0, crop_width = 0;  // centre crop before the resize; 0 × 0: none
  int64_t height = 96, width = 84;
  int64_t channels = 1;
  std::vector<int64_t> widths = {32, 64, 128, 256};  // arch small only
  int64_t emb_dim = 128;
  std::string loss = "lmcl";   // any of make_loss (losses/margin_loss.h)
  std::optional<double> scale = 30.0;           // s; unset: the loss's default
  std::optional<double> margin = std::nullopt;  // m; unset: the loss's default
  int64_t classes = 0;         // training identities: the rows of the loss head
  std::vector<std::string> held_out;
  double threshold = 0, threshold_flip = 0;
};

// "96x84" ↔ height and width, two positive integers; margin::Error naming `what` for anything
// else.
std::string size_text(int64_t height, int64_t width);
void parse_size(const std::string& text, int64_t& height, int64_t& width, const std::string& what);

// Atomic (a temporary file renamed over `path`). load_model_config's errors name the file
// and line, the key that is missing, or the key and value that is wrong with what was
// expected: every size (input, crop, channels, widths, emb_dim, classes) must be a positive
// integer, all of the text ("16.9", "1e30", "12abc" and "-3" are refused).
void save_model_config(const std::string& path, const FaceModelConfig& config);
FaceModelConfig load_model_config(const std::string& path);

struct FaceModel {
  FaceModelConfig config;
  std::shared_ptr<Generator> gen;  // outlives backbone (dropout keeps a reference)
  std::shared_ptr<Layer> backbone; // images [N, channels, height, width] → embeddings [N, emb_dim]
  std::shared_ptr<MarginLoss> head;
};

// A freshly initialized model (weights drawn from `seed`); its config has the s and m in force
// (the loss's defaults where config left them unset).
// `partial_fc`: the head's W split over the job's ranks (losses/margin_loss.h PartialFcOptions).
FaceModel build_face_model(const FaceModelConfig& config, uint64_t seed,
                           std::optional<PartialFcOptions> partial_fc = std::nullopt);

// dir/model.txt rebuilt and loaded with `weights` (default dir/model.bin; a checkpoint.bin
// works too), in eval mode.
FaceModel load_face_model(const std::string& dir, const std::string& weights = "");

// What every image goes through after decoding and resizing: normalize({0.5}, {0.5}).
Transform face_input();

}  // namespace margin
