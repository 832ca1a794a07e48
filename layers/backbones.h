// layers/backbones.h — the face-recognition backbones: image batch → embedding [N, emb].
//
//   small_cnn   Fashion-MNIST 1x28x28: [conv3x3 → BN → PReLU → maxpool2] for 1→32 and 32→64,
//               flatten, Linear(64·7·7 → emb), BatchNorm1d (as bench/torch_workloads.py).
//               The general form takes the channels, the input size and the stage widths:
//               one [conv3x3 → BN → PReLU → maxpool2] per width (each pool floors a side:
//               s → ⌊s / 2⌋), for quick face runs on e.g. 1x64x56 or 1x96x84.
//   iresnet*    insightface arcface_torch's IR-ResNet for 3x112x112: stem conv3x3(3→64) BN
//               PReLU; four stages of IBasicBlocks (64, 128, 256, 512 channels, the first
//               block of each with stride 2, so 112 → 7); head BN2d → dropout → flatten →
//               Linear(512·h·w → emb) → BatchNorm1d. Stage depths: 18 [2,2,2,2],
//               34 [3,4,6,3], 50 [3,4,14,3], 100 [3,13,30,3].
//               IBasicBlock: y = BN(conv3x3_s(PReLU(BN(conv3x3(BN(x)))))) + shortcut(x),
//               shortcut = x, or conv1x1 stride 2 → BN when the shape changes.
//   sphere*     SphereFace's residual CNN for 3x112x96 (Liu et al. 2017, sphere20a): four
//               stages of conv3x3 stride 2 (with bias) → PReLU, then residual units
//               y = x + PReLU(conv(PReLU(conv(x)))), units [1,2,4,1] (20 layers) or
//               [3,8,16,3] (64 layers); flatten → Linear(512·7·6 → 512).
// iresnet and sphere take `channels` (3 in the originals; 1 for grey faces): only the first
// convolution changes.
// Other input sizes are accepted: the flatten size follows from the size given here.
// Dropout layers keep the Generator by reference: it must outlive the model.
// Left out: IResNet200, fp16 / checkpointed blocks, SE blocks, MobileFaceNet.
#pragma once
#include <memory>
#include <vector>

#include "core/random.h"
#include "layers/module.h"

namespace margin {

struct ImageSize {
  int64_t height, width;
};

struct SmallCnnOptions {
  int64_t emb = 128;
  int64_t channels = 1;
  ImageSize input{28, 28};
  std::vector<int64_t> widths{32, 64};  // one conv-BN-PReLU-pool stage per entry
};
std::shared_ptr<Layer> small_cnn(Generator& gen, SmallCnnOptions options);
// Two stages (32, 64) on 1x28x28, the network of bench/ W1: small_cnn(gen, {.emb = emb}). The main
// job (train/fmnist.h) adds a third stage of 128.
std::shared_ptr<Layer> small_cnn(int64_t emb, Generator& gen);

struct IResNetOptions {
  int64_t emb = 512;
  ImageSize input{112, 112};
  int64_t channels = 3;
  double dropout = 0.0;  // before the FC (arcface_torch's default is 0)
};
// depth: 18, 34, 50 or 100.
std::shared_ptr<Layer> iresnet(int depth, Generator& gen, IResNetOptions options = {});
inline std::shared_ptr<Layer> iresnet18(Generator& gen, IResNetOptions options = {}) {
  return iresnet(18, gen, options);
}
inline std::shared_ptr<Layer> iresnet34(Generator& gen, IResNetOptions options = {}) {
  return iresnet(34, gen, options);
}
inline std::shared_ptr<Layer> iresnet50(Generator& gen, IResNetOptions options = {}) {
  return iresnet(50, gen, options);
}
inline std::shared_ptr<Layer> iresnet100(Generator& gen, IResNetOptions options = {}) {
  return iresnet(100, gen, options);
}

struct SphereOptions {
  int64_t emb = 512;
  ImageSize input{112, 96};
  int64_t channels = 3;
};
// depth: 20 or 64.
std::shared_ptr<Layer> sphere(int depth, Generator& gen, SphereOptions options = {});
inline std::shared_ptr<Layer> sphere20(Generator& gen, SphereOptions options = {}) {
  return sphere(20, gen, options);
}
inline std::shared_ptr<Layer> sphere64(Generator& gen, SphereOptions options = {}) {
  return sphere(64, gen, options);
}

}  // namespace margin
