// examples/export_onnx.cpp — a model that train_faces trained, as an ONNX file that OpenCV's
// DNN module or onnxruntime runs: images [N, C, H, W] → embeddings [N, emb_dim]; the file's
// metadata says how to prepare the images (train/onnx.h).
//
//   ./build/export_onnx --model runs/yaleb-lmcl --out yaleb-lmcl.onnx

#include <cstdio>
#include <string>

#include "core/flags.h"
#include "train/onnx.h"

using namespace margin;

int main(int argc, char** argv) try {
  Flags flags("export_onnx", "Writes a trained face model (train_faces' output folder) as an ONNX file.");
  std::string& model_dir = flags.add<std::string>("model", "", "train_faces output folder (model.txt, model.bin)");
  std::string& weights = flags.add<std::string>("weights", "", "weights file (default: <model>/model.bin)");
  std::string& out = flags.add<std::string>("out", "", "the ONNX file to write, e.g. model.onnx");
  flags.parse(argc, argv);
  if (model_dir.empty()) fail("no --model folder (see --help)");
  if (out.empty()) fail("no --out file (see --help)");

  FaceModel model = load_face_model(model_dir, weights);
  export_onnx(model, out);
  const FaceModelConfig& config = model.config;
  std::printf("export_onnx: %s → %s: images [N, %lld, %lld, %lld] → embeddings [N, %lld], opset 11\n",
              model_dir.c_str(), out.c_str(), static_cast<long long>(config.channels),
              static_cast<long long>(config.height), static_cast<long long>(config.width),
              static_cast<long long>(config.emb_dim));
  return 0;
} catch (const std::exception& e) {
  const std::string message = e.what();  // export_onnx's own errors already say "export_onnx: "
  std::fprintf(stderr, "%s%s\n", message.starts_with("export_onnx: ") ? "" : "export_onnx: ", message.c_str());
  return 1;
}
