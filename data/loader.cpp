// data/loader.cpp — the DataLoader's seeding, batch assembly and worker threads.
#include "data/loader.h"

#include <algorithm>

#include "backends/communicator.h"

namespace margin {

static uint64_t shuffle_seed(uint64_t seed, int64_t epoch) { return mix_seed(mix_seed(seed) ^ uint64_t(epoch)); }
static uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return mix_seed(mix_seed(mix_seed(seed ^ 0x5A17ull) ^ uint64_t(epoch)) ^ uint64_t(index));
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  if (!dataset_) fail("DataLoader: no dataset (a null pointer)");
  if (options_.batch_size < 1) fail("DataLoader: batch_size ", options_.batch_size, " (expected >= 1)");
  if (options_.workers < 0) fail("DataLoader: workers ", options_.workers, " (expected >= 0)");
  if (options_.ranks < 1 || options_.rank < 0 || options_.rank >= options_.ranks)
    fail("DataLoader: rank ", options_.rank, " of ", options_.ranks, " ranks (expected 0 <= rank < ranks)");
  if (options_.prefetch_batches < 1)
    fail("DataLoader: prefetch_batches ", options_.prefetch_batches, " (expected >= 1)");
  for (int64_t i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_wanted_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

int64_t DataLoader::batches_per_epoch() const {
  int64_t size = dataset_->size(), batch = options_.batch_size;
  return options_.drop_last ? size / batch : (size + batch - 1) / batch;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(dataset_->size());
  for (int64_t i = 0; i < dataset_->size(); ++i) order[i] = i;
  if (!options_.shuffle) return order;
  // Fisher–Yates with our own draws: std::shuffle's algorithm differs between libraries.
  Generator gen(shuffle_seed(options_.seed, epoch));
  for (int64_t i = dataset_->size() - 1; i > 0; --i) std::swap(order[i], order[gen.below(i + 1)]);
  return order;
}

void DataLoader::start_epoch(int64_t epoch) {
  if (epoch < 0) fail("DataLoader::start_epoch: epoch ", epoch, " (expected >= 0)");
  auto order = std::make_shared<const std::vector<int64_t>>(epoch_order(epoch));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    epoch_ = epoch;
    order_ = std::move(order);
    next_to_claim_ = next_to_deliver_ = 0;
    built_.clear();
  }
  work_wanted_.notify_all();
}

Batch DataLoader::build_batch(const std::vector<int64_t>& order, int64_t epoch, int64_t batch_index) const {
  const int64_t global_begin = batch_index * options_.batch_size;
  const int64_t global_rows = std::min<int64_t>(options_.batch_size, static_cast<int64_t>(order.size()) - global_begin);
  if (global_rows < options_.ranks)
    fail("DataLoader: batch ", batch_index, " has ", global_rows, " rows for ", options_.ranks,
         " ranks (expected at least one row per rank: use drop_last or another batch size)");
  const Part mine = even_part(global_rows, options_.rank, options_.ranks);
  const int64_t begin = global_begin + mine.start, end = begin + mine.count;
  Batch batch;
  std::vector<int64_t> labels;
  float* images = nullptr;
  Shape sample_shape;
  for (int64_t position = begin; position < end; ++position) {
    int64_t index = order[position];
    Sample sample = dataset_->get(index);
    Generator gen(sample_seed(options_.seed, epoch, index));
    if (options_.transform) options_.transform(sample, gen);
    if (static_cast<int64_t>(sample.image.size()) != shape_numel(sample.shape()))
      fail("DataLoader: sample ", index, " has ", sample.image.size(), " values for shape ",
           shape_str(sample.shape()));
    if (position == begin) {
      sample_shape = sample.shape();
      batch.images = Tensor::empty({end - begin, sample.channels, sample.height, sample.width}, DType::F32, kCPU);
      images = batch.images.view().ptr<float>();
    } else if (sample.shape() != sample_shape) {
      fail("DataLoader: sample ", index, " has shape ", shape_str(sample.shape()), " but sample ",
           order[begin], " of the same batch has ", shape_str(sample_shape), " (expected one shape)");
    }
    std::copy(sample.image.begin(), sample.image.end(), images + (position - begin) * sample.image.size());
    labels.push_back(sample.label);
    batch.indices.push_back(index);
  }
  batch.labels = Tensor::from_indices(labels, {end - begin}, kCPU);
  batch.global_rows = global_rows;
  return batch;
}

DataLoader::BuiltBatch DataLoader::build_catching(const std::vector<int64_t>& order, int64_t epoch,
                                                  int64_t batch_index) const {
  BuiltBatch built;
  try {
    built.batch = build_batch(order, epoch, batch_index);
  } catch (const std::exception& e) {
    built.error = std::make_exception_ptr(
        Error("DataLoader: epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch_index) + ": " + e.what()));
  } catch (...) {
    built.error = std::make_exception_ptr(Error("DataLoader: epoch " + std::to_string(epoch) + ", batch " +
                                                std::to_string(batch_index) + ": an unknown exception"));
  }
  return built;
}

void DataLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_wanted_.wait(lock, [this] {
      return stopping_ || (epoch_ >= 0 && next_to_claim_ < batches_per_epoch() &&
                           next_to_claim_ < next_to_deliver_ + options_.prefetch_batches);
    });
    if (stopping_) return;
    int64_t batch_index = next_to_claim_++;
    uint64_t generation = generation_;
    int64_t epoch = epoch_;
    std::shared_ptr<const std::vector<int64_t>> order = order_;
    lock.unlock();
    BuiltBatch built = build_catching(*order, epoch, batch_index);
    lock.lock();
    if (generation != generation_) continue;  // start_epoch came meanwhile: nobody wants it
    built_[batch_index] = std::move(built);
    batch_ready_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (epoch_ < 0) fail("DataLoader::next: no epoch started (call start_epoch(epoch) first)");
  if (next_to_deliver_ >= batches_per_epoch()) return std::nullopt;
  BuiltBatch built;
  if (workers_.empty()) {
    built = build_catching(*order_, epoch_, next_to_deliver_);
  } else {
    batch_ready_.wait(lock, [this] { return built_.count(next_to_deliver_) > 0; });
    built = std::move(built_[next_to_deliver_]);
    built_.erase(next_to_deliver_);
  }
  ++next_to_deliver_;
  lock.unlock();
  work_wanted_.notify_all();  // room in the queue for one more
  if (built.error) std::rethrow_exception(built.error);
  return std::move(built.batch);
}

}  // namespace margin

