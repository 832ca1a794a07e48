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
//   mobilefacenet  insightface arcface_torch's get_mbf (MobileFaceNets, Chen et al. 2018) for
//               3x112x112, its widths `scale` times the paper's (2 in get_mbf, 1 in the paper).
//               ConvBlock = conv → BN → PReLU; LinearBlock = conv → BN (no bias in any conv).
//               DepthWise(in → out, t, stride) = ConvBlock 1x1 (in → t), ConvBlock depthwise
//               3x3 (t channels, stride), LinearBlock 1x1 (t → out); the residual ones (stride
//               1, in = out) add their input. With c = 64·scale:
//                 stem      ConvBlock 3x3 s2 (3 → c); ConvBlock 3x3 (c → c, 64 groups)  112 → 56
//                 stage 2   DepthWise s2 (t 128), blocks[1] residual ones (t 128), c       → 28
//                 stage 3   DepthWise s2 (c → 2c, t 256), blocks[2] residual ones (t 256)  → 14
//                 stage 4   DepthWise s2 (t 512), blocks[3] residual ones (t 256), 2c      → 7
//                 conv_sep  ConvBlock 1x1 (2c → 512)
//                 GDC       LinearBlock depthwise 7x7 (the whole plane) → flatten →
//                           Linear(512 → emb, no bias) → BatchNorm1d
//               blocks = {1, 4, 6, 2}; with blocks[0] > 1 the grouped stem conv is a stage of
//               blocks[0] residual ones (t 128) instead. The t and the 64 groups are fixed, not
//               scaled (as in get_mbf): at scale 1 the stem's second conv is depthwise.
//               The paper's 128-d network: mobilefacenet(gen, {.emb = 128, .scale = 1}).
// iresnet, sphere and mobilefacenet take `channels` (3 in the originals; 1 for grey faces):
// only the first convolution changes.
// Other input sizes are accepted: the flatten size (mobilefacenet: the GDC's kernel, the
// plane left after four stride-2 convolutions) follows from the size given here.
// Dropout layers keep the Generator by reference: it must outlive the model.
// Initialization is PyTorch's default for every model (arcface_torch draws its convolutions
// from its own normals instead).
// Left out: IResNet200, fp16 / checkpointed blocks, SE blocks, get_mbf's norm_output.
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

struct MobileFaceNetOptions {
  int64_t emb = 512;
  ImageSize input{112, 112};
  int64_t channels = 3;
  std::vector<int> blocks{1, 4, 6, 2};  // get_mbf's
  int64_t scale = 2;                    // get_mbf's; 1 in the paper
};
std::shared_ptr<Layer> mobilefacenet(Generator& gen, MobileFaceNetOptions options = {});

}  // namespace margin
