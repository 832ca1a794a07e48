// examples/verify.cpp — are two face images one person? The cosine similarity of their
// embeddings against a threshold; by default the threshold that train_faces found best on
// its held-out pairs (model.txt: threshold, threshold_flip).
//
//   ./build/verify --model runs/yaleb-lmcl --a face1.pgm --b face2.pgm
//   ./build/verify --model yaleb-lmcl.onnx --a face1.pgm --b face2.pgm   (export_onnx's file:
//       the thresholds are in its metadata)

#include <cstdio>

#include "core/flags.h"
#include "core/threads.h"
#include "train/face_eval.h"
#include "train/onnx_model.h"

using namespace margin;

int main(int argc, char** argv) try {
  Flags flags("verify", "Compares two face images with a trained model: cosine similarity, same or different.");
  std::string& model_dir = flags.add<std::string>("model", "", "DIR|FILE.onnx: train_faces output folder (model.txt, "
                                                  "model.bin) or export_onnx's file (needs margin built with OpenCV)");
  std::string& weights = flags.add<std::string>("weights", "", "weights file (default: <model>/model.bin; not with a .onnx model)");
  std::string& a = flags.add<std::string>("a", "", "first image");
  std::string& b = flags.add<std::string>("b", "", "second image");
  bool& flip = flags.add("flip", true, "flip embeddings e(x) + e(mirror x) (--flip=false: plain)");
  std::optional<double> threshold;
  flags.bind("threshold", threshold, "same when cosine >= this (default: model.txt's threshold from training)");
  int& threads = flags.add("threads", 2, "CPU threads");
  flags.add_device_flag();
  flags.parse(argc, argv);
  set_threads(threads);
  if (model_dir.empty() || a.empty() || b.empty()) fail("need --model, --a and --b (see --help)");

  FaceModel model = load_face_model_or_onnx(model_dir, weights);
  const FaceModelConfig& config = model.config;
  const bool from_training = !threshold;
  if (from_training) threshold = flip ? config.threshold_flip : config.threshold;
  auto pair = std::make_shared<ImageList>(std::vector<std::string>{a, b}, config.channels, config.height, config.width,
                                          config.crop_height, config.crop_width);
  Embeddings embeddings = embed_images(*model.backbone, pair, default_device(), 128,
                                       [&](int64_t row) { return row == 0 ? a : b; });
  const Tensor& rows = flip ? embeddings.flip : embeddings.plain;
  const float* values = rows.view().ptr<float>();
  double cosine = cosine_similarity(values, values + config.emb_dim, config.emb_dim);
  std::printf("verify: cosine similarity %.4f (%s embeddings); threshold %.4f (%s): %s\n", cosine, flip ? "flip" : "plain",
              *threshold, from_training ? "found on the held-out pairs in training" : "--threshold",
              cosine >= *threshold ? "same person" : "different people");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "verify: %s\n", e.what());
  return 1;
}
