// train/faces.cpp — one face training run with held-out verification each epoch
// (see face_job.h).
#include "train/faces.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/schedule.h"
#include "data/loader.h"
#include "eval/people.h"

namespace margin {

void add_faces_flags(Flags& flags, FacesConfig& config) {
  flags.bind("data", config.data, "image folder: one sub-folder of images per identity (e.g. ../shared/data/yaleb-cropped)");
  flags.bind("held-out", config.held_out, "identities held out of training for verification (0: none; unused with --people)");
  flags.bind("people", config.people, "LFW people file to train on: View 1 peopleDevTrain.txt, View 2 people.txt (with --fold)");
  flags.bind("fold", config.fold, "with a View 2 people file: train without the people of this fold (1..10) and report its accuracy");
  flags.bind("pairs", config.pairs, "LFW pairs file to verify on (with --people): View 1 pairsDevTest.txt, View 2 pairs.txt");
  flags.bind("min-images", config.min_images, "train only on identities with at least this many images");
  flags.bind("arch", config.arch, "backbone: small | iresnet18 | iresnet50 | sphere20 | mbf (MobileFaceNet, arcface_torch's get_mbf) | mbf128 (the paper's, --emb-dim 128)");
  flags.bind("crop", config.crop, "HxW centre crop of each image before the resize (LFW: the face is the central ~120x120), or none");
  flags.bind("input", config.input, "HxW the images are resized to");
  flags.bind("channels", config.channels, "1 (grey) or 3 (RGB); images are converted on load");
  flags.bind("widths", config.widths, "arch small: channels of each conv stage, comma-separated");
  flags.bind("emb-dim", config.emb_dim, "embedding size d");
  flags.bind("loss", config.loss, "softmax | nsl | lmcl | arcface | sphereface");
  flags.bind("s", config.scale, "scale s of the normalized losses");
  flags.bind("m", config.margin, "margin m (default: the loss's own: LMCL 0.35, ArcFace 0.5, SphereFace 4)");
  flags.bind("epochs", config.epochs, "training epochs");
  flags.bind("batch", config.batch, "batch size");
  flags.bind("lr", config.lr, "peak learning rate (SGD momentum 0.9; one epoch of warm-up, then cosine decay)");
  flags.bind("weight-decay", config.weight_decay, "SGD weight decay");
  flags.bind("seed", config.seed, "random seed of the training (weights, shuffling, augmentation)");
  flags.bind("split-seed", config.split_seed, "random seed of the held-out identities and their pairs");
  flags.bind("flip", config.flip, "augmentation: random horizontal flips (--flip=false: none)");
  flags.bind("crop-pad", config.crop_pad, "augmentation: random crop after zero padding by this many pixels (0: none)");
  flags.bind("color-jitter", config.color_jitter, "augmentation: random brightness, contrast and saturation factors in [1 - x, 1 + x] (0: none)");
  flags.bind("pairs-per-fold", config.pairs_per_fold, "verification: same (and different) pairs in each of 10 folds");
  flags.bind("out", config.out_dir, "where log.csv, checkpoint.bin, model.bin, model.txt, pairs.txt and the report go");
  flags.bind("resume", config.resume, "checkpoint to continue from (e.g. runs/faces/checkpoint.bin); it must have been trained with the same flags");
  flags.bind("new-schedule", config.new_schedule, "with --resume: continue under the --lr and --epochs given here instead of refusing a change");
  flags.bind("stop-after", config.stop_after, "stop after this many epochs of this run (default: run to the end; for trying --resume)");
  flags.bind("precision", config.precision, "the backbone's matrix products: fp32, bf16 (bfloat16 operands, float32 sums; AMX or AVX-512 BF16 on the CPU), or fp16 on CUDA; the head stays fp32");
  flags.bind("conv-algorithm", config.conv_algorithm, kConvAlgorithmHelp);
  flags.bind("workers", config.workers, "data loader threads");
  flags.bind("partial-fc", config.partial_fc, "Partial FC: split the class weights over the ranks (mpirun -np N) and keep this fraction r of each rank's classes per step (1: all)");
}

FaceModelConfig face_model_config(const FacesConfig& config) {
  check_loop_flags({.epochs = config.epochs, .batch = config.batch, .lr = config.lr, .weight_decay = config.weight_decay,
                    .crop_pad = config.crop_pad, .stop_after = config.stop_after});
  if (config.emb_dim < 1) fail("--emb-dim ", config.emb_dim, " (expected at least 1)");
  check_precision(parse_precision(config.precision), default_device());
  if (config.pairs_per_fold < 1) fail("--pairs-per-fold ", config.pairs_per_fold, " (expected at least 1)");
  if (config.workers < 0) fail("--workers ", config.workers, " (expected 0, loading in the training thread, or more)");
  FaceModelConfig model;
  model.arch = config.arch;
  parse_size(config.input, model.height, model.width, "--input");
  if (config.crop != "none") parse_size(config.crop, model.crop_height, model.crop_width, "--crop");
  model.channels = config.channels;
  for (int64_t width : config.widths)
    if (width < 1) fail("--widths: ", width, " (expected positive channel counts, e.g. 32,64,128)");
  model.widths = config.widths;
  model.emb_dim = config.emb_dim;
  model.loss = config.loss;
  model.scale = config.scale;
  model.margin = config.margin;
  return model;
}

Metrics verification_metrics(const FaceVerification& verification) {
  Metrics metrics;
  for (const auto& [name, report] : {std::pair{"", &verification.plain}, std::pair{"flip_", &verification.flip}}) {
    std::string prefix = std::string("verify_") + name;
    metrics.emplace_back(prefix + "acc", report->accuracy.mean);
    metrics.emplace_back(prefix + "acc_std", report->accuracy.std);
    metrics.emplace_back(prefix + "auc", report->auc);
    metrics.emplace_back(prefix + "eer", report->eer);
    metrics.emplace_back(prefix + "tar_far1e-2", tar_at_far(report->roc, 1e-2));
  }
  return metrics;
}

// What a resumed run must share with the run that wrote its checkpoint (TrainingJob::settings):
// the data and whom it trains on, the model, the loss, the optimization and augmentation.
static Settings faces_settings(const FacesConfig& config, const MarginLoss& head) {
  auto optional_text = [](const auto& value) { return value ? std::string(*value) : std::string("none"); };
  return {{"data", config.data}, {"people", optional_text(config.people)},
          {"fold", config.fold ? std::to_string(*config.fold) : "none"}, {"held-out", std::to_string(config.held_out)},
          {"split-seed", std::to_string(config.split_seed)}, {"min-images", std::to_string(config.min_images)},
          {"arch", config.arch}, {"crop", config.crop}, {"input", config.input},
          {"channels", std::to_string(config.channels)}, {"widths", setting_text(config.widths)},
          {"emb-dim", std::to_string(config.emb_dim)}, {"loss", config.loss}, {"s", setting_text(head.scale())},
          {"m", setting_text(head.margin())}, {"epochs", std::to_string(config.epochs)},
          {"batch", std::to_string(config.batch)}, {"lr", setting_text(config.lr)},
          {"weight-decay", setting_text(config.weight_decay)}, {"seed", std::to_string(config.seed)},
          {"flip", setting_text(config.flip)}, {"crop-pad", std::to_string(config.crop_pad)},
          {"color-jitter", setting_text(config.color_jitter)},
          {"partial-fc", config.partial_fc ? setting_text(*config.partial_fc) : "none"}};
}

FaceData choose_face_data(const FacesConfig& config) {
  if (config.data.empty()) fail("no --data folder (one sub-folder of images per identity)");
  if (config.people.has_value() != config.pairs.has_value())
    fail("--people and --pairs go together (LFW's protocol: train on a people file, verify on a pairs file)");
  if (config.fold && !config.people) fail("--fold ", *config.fold, " needs --people and --pairs (LFW View 2)");
  if (config.min_images < 1) fail("--min-images ", config.min_images, " (expected at least 1)");
  FaceData data;
  if (config.people) {
    PeopleFile people = read_people(*config.people);
    check_people_in_folder(people, config.data);
    if (config.fold && (*config.fold < 1 || *config.fold > static_cast<int64_t>(people.folds.size())))
      fail("--fold ", *config.fold, ": ", *config.people, " has ", people.folds.size(), " folds (expected 1..",
           people.folds.size(), ")");
    data.split.train = config.fold ? people_except_fold(people, *config.fold - 1) : all_people(people);
    data.pairs = read_pairs(*config.pairs);
    check_pairs_in_folder(data.pairs, config.data, *config.pairs);
    if (config.fold && data.pairs.folds != static_cast<int64_t>(people.folds.size()))
      fail("--fold: ", *config.pairs, " has ", data.pairs.folds, " folds and ", *config.people, " ", people.folds.size(),
           " (expected the same: View 2's pairs.txt with people.txt)");
    std::set<std::string> named;
    for (const PairEntry& pair : data.pairs.pairs) named.insert({pair.name_a, pair.name_b});
    data.evaluated.assign(named.begin(), named.end());
  } else {
    std::vector<std::string> names = ImageFolder(config.data, {.channels = config.channels}).identity_names();
    if (config.held_out > static_cast<int64_t>(names.size()) - 2)
      fail("--held-out ", config.held_out, ": ", config.data, " has ", names.size(),
           " identities (expected at least 2 left to train on)");
    if (config.held_out == 1) fail("--held-out 1: verification needs at least 2 held-out identities (or 0 for none)");
    data.split = split_identities(names, config.held_out, config.split_seed);
    data.evaluated = data.split.held_out;
  }
  if (config.min_images > 1) {
    std::vector<std::string> kept;
    for (const auto& [name, count] : identity_counts(ImageFolder(config.data, {.identities = data.split.train})))
      if (count >= config.min_images) kept.push_back(name);
    if (kept.size() < 2)
      fail("--min-images ", config.min_images, ": ", kept.size(), " of ", data.split.train.size(),
           " training identities have that many images (expected at least 2)");
    data.split.train = std::move(kept);
  }
  if (config.people) {
    std::set<std::string> trained(data.split.train.begin(), data.split.train.end());
    data.split.held_out.clear();
    for (const std::string& name : data.evaluated)
      if (!trained.count(name)) data.split.held_out.push_back(name);
  }
  // model.txt lists the held-out identities and pairs.txt the evaluated ones, separated by
  // whitespace, and model.txt's comments start at '#'.
  for (const std::string& name : data.evaluated)
    if (name.find_first_of(" \t\r\n#") != std::string::npos)
      fail("identity folder '", name, "' in ", config.data,
           ": model.txt and pairs.txt cannot hold a name with whitespace or '#' (rename the folder)");
  return data;
}

FacesRun run_faces(const FacesConfig& config, std::function<void(int64_t step)> after_step) {
  FacesRun run;
  FaceModelConfig model_config = face_model_config(config);  // checks --precision too
  const Device device = default_device();
  const Precision precision = parse_precision(config.precision);
  use_conv_algorithm(config.conv_algorithm, precision, device);  // before any file is written
  FaceData data = choose_face_data(config);
  run.split = data.split;
  run.pairs = data.pairs;
  model_config.classes = static_cast<int64_t>(run.split.train.size());
  model_config.held_out = run.split.held_out;

  // With more than one rank (mpirun) rank 0 writes every file; all ranks read.
  const bool lead = world().rank() == 0;
  if (lead) std::filesystem::create_directories(config.out_dir);
  const std::string model_txt = config.out_dir + "/model.txt";
  std::optional<PartialFcOptions> partial_fc;
  if (config.partial_fc) partial_fc = PartialFcOptions{.sample_rate = *config.partial_fc, .seed = config.seed};
  run.model = build_face_model(model_config, config.seed, partial_fc);
  // A resume with other settings refuses here, before model.txt is rewritten (train() checks
  // the same again when it loads the checkpoint).
  const Settings settings = faces_settings(config, *run.model.head);
  const std::vector<std::string> may_change =
      config.new_schedule ? std::vector<std::string>{"lr", "epochs"} : std::vector<std::string>{};
  if (config.resume) check_resume_settings(*config.resume, read_checkpoint_state(*config.resume), settings, may_change);
  if (lead) save_model_config(model_txt, run.model.config);

  auto train_set = face_folder(config.data, model_config, run.split.train, true);
  std::shared_ptr<ImageFolder> held_set;
  if (!data.evaluated.empty()) {
    held_set = face_folder(config.data, model_config, data.evaluated, true);
    if (!config.pairs) {
      run.pairs = generate_pairs(identity_counts(*held_set), 10, config.pairs_per_fold, config.split_seed);
      if (lead) write_pairs(config.out_dir + "/pairs.txt", run.pairs);
    }
  }

  SGD sgd(parameters_of({run.model.backbone.get(), run.model.head.get()}),
          {.lr = config.lr, .momentum = 0.9, .weight_decay = config.weight_decay});
  std::vector<Transform> augment;
  if (config.crop_pad > 0) augment.push_back(random_crop(config.crop_pad));
  if (config.flip) augment.push_back(horizontal_flip());
  if (config.color_jitter > 0) augment.push_back(color_jitter(config.color_jitter, config.color_jitter, config.color_jitter));
  augment.push_back(face_input());
  DataLoader loader(train_set, {.batch_size = config.batch, .shuffle = true, .drop_last = true,
                                .workers = config.workers, .seed = config.seed, .transform = compose(augment),
                                .rank = world().rank(), .ranks = world().size()});
  if (loader.batches_per_epoch() < 1)
    fail(config.data, ": ", train_set->size(), " training images, fewer than one batch of ", config.batch);
  const int64_t steps_per_epoch = loader.batches_per_epoch();
  WarmupLr schedule(std::make_shared<CosineLr>(config.lr, config.epochs * steps_per_epoch, config.lr * 0.001),
                    steps_per_epoch);

  auto verify = [&] {
    run.verification = verify_scores(score_pairs(*run.model.backbone, held_set, run.pairs, device));
    run.verified = true;
    if (config.fold) {  // k_fold_accuracy's entry k: threshold from the other folds
      run.fold_accuracy = run.verification.plain.accuracy.accuracies.at(*config.fold - 1);
      run.fold_accuracy_flip = run.verification.flip.accuracy.accuracies.at(*config.fold - 1);
    }
    run.model.config.threshold = run.verification.best_plain.threshold;
    run.model.config.threshold_flip = run.verification.best_flip.threshold;
    save_model_config(model_txt, run.model.config);  // evaluation runs on rank 0 only
  };
  TrainingJob job{.model = *run.model.backbone, .head = *run.model.head, .sgd = sgd, .schedule = schedule,
                  .loader = loader, .epochs = config.epochs, .out_dir = config.out_dir, .resume = config.resume,
                  .stop_after = config.stop_after, .device = device, .precision = precision,
                  .progress = config.progress,
                  .evaluate = [&](int64_t) -> Metrics {
                    if (!held_set || config.fold) return {};  // View 2 is verified once, at the end
                    verify();
                    return verification_metrics(run.verification);
                  },
                  .after_step = std::move(after_step),
                  .settings = settings,
                  .settings_may_change = may_change};
  run.outcome = train(job);

  if (!lead) return run;
  if (held_set && !run.verified && run.outcome.finished) verify();  // resumed with nothing left to do
  if (run.verified && run.outcome.finished && config.fold) {
    char line[512];
    std::snprintf(line, sizeof line,
                  "# %s on %s: the model of fold %lld of %s (trained without that fold's %zu people)\n\n"
                  "- fold %lld accuracy %.2f%% (flip %.2f%%), threshold chosen on the other folds by this model\n"
                  "- LFW's figure needs the model of every fold: eval_pairs --per-fold combines them\n",
                  config.loss.c_str(), config.data.c_str(), static_cast<long long>(*config.fold), config.pairs->c_str(),
                  run.split.held_out.size(), static_cast<long long>(*config.fold), 100 * run.fold_accuracy,
                  100 * run.fold_accuracy_flip);
    write_file_atomically(config.out_dir + "/verification.md", line);
  } else if (run.verified && run.outcome.finished) {
    std::ostringstream report;
    report << "# " << config.loss << " on " << config.data << ": " << run.split.held_out.size()
           << " held-out identities, " << run.pairs.pairs.size() << " pairs (" << config.out_dir << "/pairs.txt)\n\n"
           << format_report("plain", run.verification.plain) << "\n"
           << format_report("flip (embedding + embedding of the mirrored image)", run.verification.flip);
    write_file_atomically(config.out_dir + "/verification.md", report.str());
    save_roc_plot(config.out_dir + "/roc.png",
                  {{"plain", run.verification.plain.roc}, {"flip", run.verification.flip.roc}},
                  config.loss + ": held-out verification ROC");
  }
  return run;
}

}  // namespace margin
