// train/fmnist.cpp — one Fashion-MNIST run (see fmnist.h).
#include "train/fmnist.h"

#include "layers/backbones.h"
#include "train/metrics.h"

namespace margin {

void add_fmnist_flags(Flags& flags, FmnistConfig& config, bool single_run) {
  if (single_run) flags.bind("loss", config.loss, "softmax | nsl | lmcl | arcface | sphereface");
  flags.bind("s", config.scale, "scale s of the normalized losses (LMCL's paper value 64 is for 10^4+ classes)");
  if (single_run) flags.bind("m", config.margin, "margin m (default: 0.2 for LMCL here, else the loss's own)");
  flags.bind("emb-dim", config.emb_dim, "embedding size d (2 or 3 also draw the feature picture)");
  flags.bind("widths", config.widths, "channels of each conv stage of the CNN (layers/backbones.h: small_cnn)");
  flags.bind("epochs", config.epochs, "training epochs");
  flags.bind("batch", config.batch, "batch size");
  flags.bind("lr", config.lr, "peak learning rate (SGD momentum 0.9, weight decay 5e-4, cosine decay)");
  flags.bind("seed", config.seed, "random seed (weights, shuffling, augmentation)");
  flags.bind("crop-pad", config.crop_pad, "augmentation: random crop after zero padding by this many pixels (0: none; 2 hurt: see train/fmnist.h)");
  flags.bind("flip", config.flip, "augmentation: random horizontal flips (--flip=false: none)");
  flags.bind("erase", config.erase, "augmentation: probability of random erasing (a rectangle of 2-33% of the image set to 0; did not help here, train/fmnist.h)");
  flags.bind("out", config.out_dir, "where the log, checkpoints, model and pictures go");
  flags.bind("train-images", config.train_images, "train on the first n training images only (default: all)");
  flags.bind("partial-fc", config.partial_fc, "Partial FC: split the class weights over the ranks (mpirun -np N) and keep this fraction r of each rank's classes per step (1: all)");
  if (!single_run) return;
  flags.bind("resume", config.resume, "checkpoint to continue from (e.g. runs/fmnist/checkpoint.bin); it must have been trained with the same flags");
  flags.bind("new-schedule", config.new_schedule, "with --resume: continue under the --lr and --epochs given here instead of refusing a change");
  flags.bind("stop-after", config.stop_after, "stop after this many epochs of this run (default: run to the end; for trying --resume)");
  flags.bind("precision", config.precision, "the CNN's matrix products: fp32, bf16 (bfloat16 operands, float32 sums; AMX or AVX-512 BF16 on the CPU), or fp16 on CUDA; the head stays fp32");
  flags.bind("conv-algorithm", config.conv_algorithm, kConvAlgorithmHelp);
}

FmnistRun run_fmnist(const FmnistConfig& config, std::shared_ptr<const Dataset> train_set,
                     std::shared_ptr<const Dataset> test_set, std::function<void(int64_t step)> after_step) {
  check_loop_flags({.epochs = config.epochs, .batch = config.batch, .lr = config.lr, .crop_pad = config.crop_pad, .stop_after = config.stop_after});
  if (config.emb_dim < 1) fail("--emb-dim ", config.emb_dim, " (expected at least 1)");
  const Precision precision = parse_precision(config.precision);
  check_precision(precision, default_device());
  use_conv_algorithm(config.conv_algorithm, precision, default_device());
  FmnistRun run;
  run.gen = std::make_shared<Generator>(config.seed);
  run.model = small_cnn(*run.gen, {.emb = config.emb_dim, .widths = config.widths});
  LossOptions loss_options{.scale = config.scale, .margin = config.margin};
  if (config.partial_fc) loss_options.partial_fc = PartialFcOptions{.sample_rate = *config.partial_fc, .seed = config.seed};
  if (config.train_images) {
    if (*config.train_images < 1 || *config.train_images > train_set->size())
      fail("--train-images ", *config.train_images, ": expected 1 to ", train_set->size());
    std::vector<int64_t> first(*config.train_images);
    for (int64_t i = 0; i < *config.train_images; ++i) first[i] = i;
    train_set = std::make_shared<Subset>(train_set, std::move(first));
  }
  if (!config.margin && config.loss == "lmcl") loss_options.margin = kFmnistLmclMargin;
  run.head = make_loss(config.loss, config.emb_dim, train_set->num_classes(), *run.gen, loss_options);
  SGD sgd(parameters_of({run.model.get(), run.head.get()}), {.lr = config.lr, .momentum = 0.9, .weight_decay = 5e-4});

  std::vector<Transform> augment;
  if (config.crop_pad > 0) augment.push_back(random_crop(config.crop_pad));
  if (config.flip) augment.push_back(horizontal_flip());
  if (config.erase > 0) augment.push_back(random_erasing(config.erase));
  DataLoader loader(train_set, {.batch_size = config.batch, .shuffle = true, .drop_last = true, .workers = 2,
                            .seed = config.seed, .transform = compose(augment),
                            .rank = world().rank(), .ranks = world().size()});
  CosineLr schedule(config.lr, config.epochs * loader.batches_per_epoch(), config.lr * 0.001);

  TrainingJob job{.model = *run.model, .head = *run.head, .sgd = sgd, .schedule = schedule, .loader = loader,
                  .epochs = config.epochs, .out_dir = config.out_dir, .resume = config.resume,
                  .stop_after = config.stop_after, .precision = precision, .progress = config.progress,
                  .evaluate = [&](int64_t) {
                    Tensor weight = run.head->full_weight();  // a collective with Partial FC
                    Embeddings test = embed_dataset(*run.model, test_set, default_device(), {.flip = true});
                    run.test_accuracy = cosine_accuracy(test.plain, weight, test.labels);
                    run.test_accuracy_flip = cosine_accuracy(test.flip, weight, test.labels);
                    return Metrics{{"test_accuracy", run.test_accuracy}, {"test_accuracy_flip", run.test_accuracy_flip}};
                  },
                  .evaluate_on_every_rank = run.head->partial(),
                  .after_step = std::move(after_step),
                  .settings = {{"loss", config.loss}, {"s", setting_text(run.head->scale())},
                               {"m", setting_text(run.head->margin())}, {"emb-dim", std::to_string(config.emb_dim)},
                               {"widths", setting_text(config.widths)}, {"epochs", std::to_string(config.epochs)},
                               {"batch", std::to_string(config.batch)}, {"lr", setting_text(config.lr)},
                               {"seed", std::to_string(config.seed)}, {"crop-pad", std::to_string(config.crop_pad)},
                               {"flip", setting_text(config.flip)}, {"erase", setting_text(config.erase)},
                               {"train-images", std::to_string(train_set->size())},
                               {"partial-fc", config.partial_fc ? setting_text(*config.partial_fc) : "none"}},
                  .settings_may_change = config.new_schedule ? std::vector<std::string>{"lr", "epochs"}
                                                             : std::vector<std::string>{}};
  run.outcome = train(job);
  return run;
}

}  // namespace margin
