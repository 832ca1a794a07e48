// data/loader.h — the DataLoader: shuffles a Dataset per epoch, applies the per-sample
// transform, and hands out batches as Tensors (images [B, C, H, W] float32, labels [B] int64),
// built ahead of time on worker threads.
//
//   DataLoader loader(load_fashion_mnist(), {.batch_size = 128, .workers = 2, .seed = 7});
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.start_epoch(epoch);
//     while (std::optional<Batch> batch = loader.next()) train_step(batch->images, batch->labels);
//   }
//
// Data parallel: with options.ranks > 1 each rank's loader hands out its own slice of every
// global batch (LoaderOptions::rank, ranks).
// Reproducible: an epoch's order depends only on (seed, epoch), and each sample's transform
// draws from a Generator seeded by (seed, epoch, dataset index), so a resumed run sees the
// same batches, and the output is the same for any number of workers.
//
// Prefetch: workers claim batches in order and build at most `prefetch_batches` ahead of the
// consumer (a bounded queue); batches are delivered in order. A worker's exception is handed
// to the consumer by next(), with its message and the epoch and batch that failed. The
// destructor stops the workers (each finishes the batch in hand) and joins them.
// Left out: pinned memory and copying to the GPU on the workers (batches are on the CPU),
// samplers other than shuffle/sequential, variable-size samples (all must share one shape).
#pragma once
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/transforms.h"

namespace margin {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = false;        // drop the last, smaller batch of an epoch
  int64_t workers = 2;           // 0 builds each batch on the calling thread, inside next()
  int64_t prefetch_batches = 4;  // how many batches the workers may build ahead of next()
  uint64_t seed = 0;
  Transform transform = nullptr; // none
  // Data parallel: batch_size is the GLOBAL batch, and this loader builds only rank `rank`'s
  // part of each, rows even_part(rows, rank, ranks) (backends/communicator.h) of the global
  // batch in the global order. The order depends on (seed, epoch) alone, so N ranks together
  // see exactly the batches one rank sees with ranks = 1.
  int rank = 0;
  int ranks = 1;
};

struct Batch {
  Tensor images;                 // [B, C, H, W] float32 on the CPU
  Tensor labels;                 // [B] int64 on the CPU
  std::vector<int64_t> indices;  // the dataset index of each sample
  int64_t global_rows = 0;       // rows of the global batch this one is a part of (ranks > 1)
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t batches_per_epoch() const;
  // The order in which epoch `epoch` visits the dataset (identity when not shuffling).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  // Begins epoch `epoch`: drops whatever was built for the previous one and starts building.
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch, or nullopt once the epoch is done.
  std::optional<Batch> next();

 private:
  struct BuiltBatch {
    Batch batch;
    std::exception_ptr error;
  };
  Batch build_batch(const std::vector<int64_t>& order, int64_t epoch, int64_t batch_index) const;
  BuiltBatch build_catching(const std::vector<int64_t>& order, int64_t epoch, int64_t batch_index) const;
  void worker_loop();

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;

  std::mutex mutex_;  // guards everything below
  std::condition_variable work_wanted_, batch_ready_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  uint64_t generation_ = 0;  // counts start_epoch calls; a worker's batch from an older one is dropped
  int64_t epoch_ = -1;       // -1: no epoch started
  std::shared_ptr<const std::vector<int64_t>> order_;
  int64_t next_to_claim_ = 0, next_to_deliver_ = 0;
  std::map<int64_t, BuiltBatch> built_;  // by batch index, waiting for next()
};

}  // namespace margin
