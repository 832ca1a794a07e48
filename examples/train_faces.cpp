// examples/train_faces.cpp — trains a face-recognition backbone with a margin loss on an
// identity-per-folder image set and verifies, after every epoch, on identities held out of
// training: LFW's protocol (10-fold accuracy ± std, plain and flip; AUC; EER; TAR@FAR).
//
//   ./build/train_faces --data ../shared/data/yaleb-cropped --held-out 10 --loss lmcl --out runs/yaleb-lmcl
//   ./build/train_faces --data lfw/images --people lfw/peopleDevTrain.txt --pairs lfw/pairsDevTest.txt …  (LFW View 1)
//   ./build/train_faces --data lfw/images --people lfw/people.txt --fold 3 --pairs lfw/pairs.txt …   (View 2, fold 3)
//
// Like train_fmnist: a progress bar, log.csv, an atomic checkpoint each epoch (--resume),
// a one-line summary. The output folder holds what the tools need (model.txt + model.bin:
// embed, verify, eval_pairs), pairs.txt, verification.md and roc.png. The run itself is
// train/faces.cpp. `mpirun -np N ./build/train_faces …` trains data parallel on N ranks
// (docs/scaling.md); --partial-fc r splits the class weights over them.

#include <cstdio>

#include "core/flags.h"
#include "core/threads.h"
#include "train/distributed.h"
#include "train/faces.h"
#include "train/progress.h"

using namespace margin;

int main(int argc, char** argv) try {
  Flags flags("train_faces",
              "Trains a face backbone with a margin loss on an image folder (one sub-folder per identity)\n"
              "and verifies on held-out identities after every epoch (LFW protocol, 10 folds).");
  FacesConfig config;
  add_faces_flags(flags, config);
  int& threads = flags.add("threads", 2, "CPU threads for the network (the data loader has --workers)");
  flags.add_device_flag();
  flags.parse(argc, argv);
  set_threads(threads);

  FacesRun run = run_faces(config);
  if (world().rank() != 0) return 0;  // rank 0 reports for the job
  if (!run.outcome.finished) {
    std::printf("train_faces: stopped after epoch %lld as asked; continue with --resume %s/checkpoint.bin\n",
                static_cast<long long>(run.outcome.epochs_done), config.out_dir.c_str());
    return 0;
  }
  const FaceModelConfig& model = run.model.config;
  char partial[48] = "";
  if (config.partial_fc) std::snprintf(partial, sizeof partial, ", Partial FC r=%g", *config.partial_fc);
  char loss[96];
  if (config.loss == "softmax")
    std::snprintf(loss, sizeof loss, "softmax");
  else if (config.loss == "sphereface")
    std::snprintf(loss, sizeof loss, "sphereface (m=%g)", run.model.head->current_margin());
  else
    std::snprintf(loss, sizeof loss, "%s (s=%g, m=%g)", config.loss.c_str(), run.model.head->scale(),
                  run.model.head->current_margin());
  std::printf("train_faces: %s%s, %s %lldx%s d=%lld, %lld epochs on %zu identities; %s on %s, %s; model %s/model.bin\n",
              loss, partial, model.arch.c_str(),
              static_cast<long long>(model.channels), size_text(model.height, model.width).c_str(),
              static_cast<long long>(model.emb_dim), static_cast<long long>(config.epochs), run.split.train.size(),
              format_duration(run.outcome.seconds).c_str(), default_device().str().c_str(), describe_job(threads).c_str(),
              config.out_dir.c_str());
  if (run.verified && config.fold) {
    std::printf("train_faces: fold %lld of %s (%zu people never seen in training): accuracy %.2f%% (flip %.2f%%), "
                "threshold from the other folds; %s/verification.md\n",
                static_cast<long long>(*config.fold), config.pairs->c_str(), run.split.held_out.size(),
                100 * run.fold_accuracy, 100 * run.fold_accuracy_flip, config.out_dir.c_str());
  } else if (run.verified) {
    auto tar_1e2 = [](const VerificationReport& report) {
      for (const auto& [far, tar] : report.tar_at_far)
        if (far == 1e-2) return tar;
      return 0.0;
    };
    const VerificationReport &plain = run.verification.plain, &flip = run.verification.flip;
    std::printf("train_faces: held-out verification, %zu identities, %zu pairs: accuracy %.2f%% ± %.2f (flip %.2f%% ± %.2f), "
                "AUC %.4f (flip %.4f), EER %.2f%% (flip %.2f%%), TAR@FAR=1e-2 %.2f%% (flip %.2f%%); %s/verification.md\n",
                run.split.held_out.size(), run.pairs.pairs.size(), 100 * plain.accuracy.mean, 100 * plain.accuracy.std,
                100 * flip.accuracy.mean, 100 * flip.accuracy.std, plain.auc, flip.auc, 100 * plain.eer, 100 * flip.eer,
                100 * tar_1e2(plain), 100 * tar_1e2(flip), config.out_dir.c_str());
  }
  return 0;
} catch (const std::exception& e) {
  return report_failure("train_faces", e);
}
