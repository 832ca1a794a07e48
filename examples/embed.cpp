// examples/embed.cpp — images → embeddings with a model that train_faces trained: one row per
// image, written as <out>.bin (float32, with a small header) and <out>.csv (path, values);
// the format is in train/face_eval.h.
//
//   ./build/embed --model runs/yaleb-lmcl --folder ../shared/data/yaleb-cropped/yaleB01 --out b01
//   ./build/embed --model runs/yaleb-lmcl --images a.pgm,b.png --flip --out two
//   ./build/embed --model yaleb-lmcl.onnx --images a.pgm,b.png --out two   (export_onnx's file)
//
// Images are decoded, converted and resized as in training (model.txt, or the .onnx file's
// metadata). --flip gives insightface's flip embedding, e(x) + e(mirror x).

#include <cstdio>
#include <sstream>

#include "core/flags.h"
#include "core/threads.h"
#include "train/face_eval.h"
#include "train/onnx_model.h"

using namespace margin;

int main(int argc, char** argv) try {
  Flags flags("embed", "Embeds images with a trained face model (train_faces' output folder or export_onnx's .onnx file).");
  std::string& model_dir = flags.add<std::string>("model", "", "DIR|FILE.onnx: train_faces output folder (model.txt, "
                                                  "model.bin) or export_onnx's file (needs margin built with OpenCV)");
  std::string& weights = flags.add<std::string>("weights", "", "weights file (default: <model>/model.bin; not with a .onnx model)");
  std::string& images = flags.add<std::string>("images", "", "image files, comma-separated");
  std::string& folder = flags.add<std::string>("folder", "", "embed every image file under this folder (recursively, sorted)");
  bool& flip = flags.add("flip", false, "flip embeddings: e(x) + e(mirror x)");
  std::string& out = flags.add<std::string>("out", "embeddings", "output prefix: <out>.bin and <out>.csv");
  int& threads = flags.add("threads", 2, "CPU threads");
  flags.add_device_flag();
  flags.parse(argc, argv);
  set_threads(threads);
  if (model_dir.empty()) fail("no --model folder or .onnx file (see --help)");
  if (images.empty() == folder.empty()) fail("give either --images or --folder (see --help)");

  std::vector<std::string> paths;
  if (!folder.empty()) {
    paths = image_files_under(folder);
  } else {
    std::istringstream list(images);
    for (std::string path; std::getline(list, path, ',');)
      if (!path.empty()) paths.push_back(path);
  }
  FaceModel model = load_face_model_or_onnx(model_dir, weights);
  const FaceModelConfig& config = model.config;
  auto dataset = std::make_shared<ImageList>(paths, config.channels, config.height, config.width,
                                          config.crop_height, config.crop_width);
  Embeddings embeddings = embed_images(*model.backbone, dataset, default_device(), 128,
                                       [&](int64_t row) { return paths[row]; });
  save_embeddings(out, paths, flip ? embeddings.flip : embeddings.plain);
  std::printf("embed: %zu images → %lld-dimensional %s embeddings: %s.bin, %s.csv\n", paths.size(),
              static_cast<long long>(config.emb_dim), flip ? "flip" : "plain", out.c_str(), out.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "embed: %s\n", e.what());
  return 1;
}
