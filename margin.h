// margin.h — the whole public API in one include, for programs built against margin (in this
// tree, or installed: find_package(margin) then target_link_libraries(app margin::margin)).
// Each header says what it holds; README.md's "Using it" trains a network with it.
#pragma once

#include "core/autograd.h"   // NoGradGuard
#include "core/flags.h"      // Flags: --name value, --help
#include "core/ops.h"        // the differentiable ops
#include "core/optim.h"      // SGD
#include "core/random.h"     // Generator
#include "core/schedule.h"   // learning-rate schedules
#include "core/tensor.h"     // Tensor
#include "data/fashion_mnist.h"
#include "data/image_folder.h"
#include "data/loader.h"     // DataLoader
#include "data/transforms.h"
#include "eval/pairs.h"      // LFW's pairs files
#include "eval/people.h"     // LFW's people files
#include "eval/verification.h"
#include "layers/activation.h"  // PReLU, Dropout
#include "layers/backbones.h"   // small_cnn, iresnet, sphere
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/pool.h"
#include "layers/summary.h"
#include "losses/bounds.h"
#include "losses/margin_loss.h"  // Softmax, NSL, LMCL, ArcFace, SphereFace, Combined
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/trainer.h"   // train(): the epoch loop
