// tests/fuzz/write_seeds.cpp — writes the seeds whose format is margin's own, with margin's
// own writers, so that they match what the harnesses read:
//   <dir>/checkpoint/  save_checkpoint of fuzz_module.h's module: model only, with the SGD
//                      momentum buffers, and with the training state's key/values
//   <dir>/embeddings/  save_embeddings' <out>.bin of 3×4 values and of 0×2
//   <dir>/model_config/ save_model_config of a small CNN (grey, no crop) and of an iresnet18
//                      (RGB, a centre crop, ArcFace)
// tests/fuzz/corpus holds its output; run.sh runs it on every run into the working corpus
// too, so the fuzzing starts from valid files even when a format has changed since.
//   write_seeds DIR
#include <cstdio>
#include <filesystem>

#include "fuzz_module.h"
#include "train/checkpoint.h"
#include "train/face_eval.h"
#include "train/face_model.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: write_seeds DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir / "checkpoint");
  std::filesystem::create_directories(dir / "embeddings");
  std::filesystem::create_directories(dir / "model_config");
  margin::fuzz::CheckpointModule target;
  const std::string checkpoints = (dir / "checkpoint").string();
  margin::save_checkpoint(checkpoints + "/model_only.bin", *target.model, nullptr, {3, 120, {}});
  margin::save_checkpoint(checkpoints + "/with_optimizer.bin", *target.model, &target.optimizer, {3, 120, {}});
  margin::save_checkpoint(checkpoints + "/with_values.bin", *target.model, &target.optimizer,
                          {1, 7, {{"data_rng", "12345 67"}, {"loss", "lmcl"}}});

  const std::string embeddings = (dir / "embeddings").string();
  margin::Tensor rows = margin::Tensor::from_vector({0.5, -1, 2, 0, 1e-3, 3, -4, 1, 0.25, 0, 0, 1}, {3, 4});
  margin::save_embeddings(embeddings + "/3x4", {"a/1.pgm", "a/2.pgm", "b/1.pgm"}, rows);
  margin::save_embeddings(embeddings + "/0x2", {}, margin::Tensor::zeros({0, 2}));
  for (const char* name : {"/3x4.csv", "/0x2.csv"}) std::filesystem::remove(embeddings + name);

  const std::string configs = (dir / "model_config").string();
  margin::FaceModelConfig small;
  small.margin = 0.35;
  small.classes = 28;
  small.held_out = {"yaleB05", "yaleB11"};
  small.threshold = 0.3127;
  small.threshold_flip = 0.3311;
  margin::save_model_config(configs + "/small.txt", small);
  margin::FaceModelConfig resnet = small;
  resnet.arch = "iresnet18";
  resnet.crop_height = resnet.crop_width = 120;
  resnet.height = resnet.width = 112;
  resnet.channels = 3;
  resnet.emb_dim = 512;
  resnet.loss = "arcface";
  resnet.scale = 64;
  resnet.margin = 0.5;
  resnet.classes = 5749;
  resnet.held_out = {};
  margin::save_model_config(configs + "/iresnet18.txt", resnet);
  std::printf("write_seeds: seeds written under %s\n", dir.c_str());
  return 0;
}
