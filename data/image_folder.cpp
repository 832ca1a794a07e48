// data/image_folder.cpp — scanning an identity-per-folder tree, decoding on get() with an
// optional cache, and the identity split. See image_folder.h.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <random>
#include <set>

namespace margin {

namespace fs = std::filesystem;

Image8 load_image(const std::string& path, int64_t channels, int64_t crop_height, int64_t crop_width,
                  int64_t height, int64_t width, const DecodeLimits& limits) {
  Image8 image = decode_image(path, channels, limits);
  if (crop_height > 0) {
    if (crop_height > image.height || crop_width > image.width)
      fail(path, ": ", image.height, "×", image.width, " pixels, smaller than the ", crop_height, "×", crop_width,
           " face crop (expected images at least that large)");
    image = crop_center(image, crop_height, crop_width);
  }
  if (height > 0) image = resize_bilinear(image, height, width);
  return image;
}

// Both or neither of a size pair set, neither negative.
static void check_size_pair(const std::string& who, const char* what, int64_t height, int64_t width) {
  if (height < 0 || width < 0 || (height == 0) != (width == 0))
    fail(who, ": ", what, " ", height, "×", width, " (expected both positive, or both 0 for none)");
}

ImageList::ImageList(std::vector<std::string> paths, int64_t channels, int64_t height, int64_t width,
                     int64_t crop_height, int64_t crop_width, DecodeLimits limits)
    : paths_(std::move(paths)), channels_(channels), height_(height), width_(width),
      crop_height_(crop_height), crop_width_(crop_width), limits_(limits) {
  if (height_ < 1 || width_ < 1) fail("ImageList: size ", height_, "×", width_, " (expected positive)");
  check_size_pair("ImageList", "crop", crop_height_, crop_width_);
}

Sample ImageList::get(int64_t index) const {
  if (index < 0 || index >= size()) fail("ImageList::get: index ", index, " out of range (size ", size(), ")");
  return image_to_sample(load_image(paths_[index], channels_, crop_height_, crop_width_, height_, width_, limits_), 0);
}

bool is_image_path(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  if (name.empty() || name[0] == '.') return false;
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* known : {".pgm", ".ppm", ".pnm", ".png", ".jpg", ".jpeg"})
    if (extension == known) return true;
  return false;
}

static bool is_image_file(const fs::directory_entry& entry) {
  std::error_code error;
  return is_image_path(entry.path().string()) && entry.is_regular_file(error);
}

ImageFolder::ImageFolder(std::string root, ImageFolderOptions options)
    : root_(std::move(root)), options_(std::move(options)) {
  if (options_.channels != 1 && options_.channels != 3)
    fail("ImageFolder ", root_, ": channels ", options_.channels, " (expected 1 or 3)");
  check_size_pair("ImageFolder " + root_, "size", options_.height, options_.width);
  check_size_pair("ImageFolder " + root_, "crop", options_.crop_height, options_.crop_width);
  std::error_code error;
  if (!fs::is_directory(root_, error))
    fail("ImageFolder ", root_, ": ", fs::exists(root_, error) ? "not a folder" : "no such folder",
         " (expected one sub-folder of images per identity)");

  std::set<std::string> present;
  for (const fs::directory_entry& entry : fs::directory_iterator(root_)) {
    std::string name = entry.path().filename().string();
    if (!name.empty() && name[0] != '.' && entry.is_directory(error)) present.insert(name);
  }
  if (options_.identities.empty()) {
    names_.assign(present.begin(), present.end());
    if (names_.empty()) fail("ImageFolder ", root_, ": no identity sub-folders (expected one folder of images per identity)");
  } else {
    std::set<std::string> asked;
    for (const std::string& name : options_.identities) {
      if (!asked.insert(name).second) fail("ImageFolder ", root_, ": identity ", name, " asked for twice");
      if (!present.count(name))
        fail("ImageFolder ", root_, ": no folder for identity ", name, " (", root_, "/", name, " is missing)");
    }
    names_.assign(asked.begin(), asked.end());  // sorted
  }

  for (int64_t label = 0; label < static_cast<int64_t>(names_.size()); ++label) {
    const fs::path folder = fs::path(root_) / names_[label];
    std::vector<std::string> files;
    for (const fs::directory_entry& entry : fs::directory_iterator(folder))
      if (is_image_file(entry)) files.push_back(entry.path().filename().string());
    if (files.empty())
      fail("ImageFolder: ", folder.string(), ": no images (expected files ending in .pgm .ppm .pnm .png .jpg or .jpeg)");
    std::sort(files.begin(), files.end());
    first_index_.push_back(static_cast<int64_t>(paths_.size()));
    for (const std::string& file : files) {
      paths_.push_back((folder / file).string());
      labels_.push_back(label);
    }
    files_.push_back(std::move(files));
  }
  if (options_.cache) cache_.resize(paths_.size());
}

void ImageFolder::check_index(int64_t index, const char* who) const {
  if (index < 0 || index >= size())
    fail("ImageFolder::", who, ": index ", index, " out of range (", root_, " has ", size(), " images)");
}

Image8 ImageFolder::image(int64_t index) const {
  check_index(index, "image");
  if (options_.cache) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_[index]) return *cache_[index];
  }
  // Decoded outside the lock; two threads may decode the same file at once, harmlessly.
  Image8 decoded = load_image(paths_[index], options_.channels, options_.crop_height, options_.crop_width,
                              options_.height, options_.width, options_.limits);
  if (options_.cache) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (!cache_[index]) cache_[index] = std::make_shared<const Image8>(decoded);
  }
  return decoded;
}

Sample ImageFolder::get(int64_t index) const {
  check_index(index, "get");
  return image_to_sample(image(index), labels_[index]);
}

int64_t ImageFolder::label_of(const std::string& identity) const {
  auto found = std::lower_bound(names_.begin(), names_.end(), identity);
  if (found == names_.end() || *found != identity)
    fail("ImageFolder ", root_, ": no identity ", identity, " (", names_.size(), " identities",
         options_.identities.empty() ? "" : " were asked for", ")");
  return found - names_.begin();
}

const std::vector<std::string>& ImageFolder::files(int64_t label) const {
  if (label < 0 || label >= num_classes())
    fail("ImageFolder::files: label ", label, " out of range (", num_classes(), " identities)");
  return files_[label];
}

int64_t ImageFolder::index_of(const std::string& identity, int64_t n) const {
  int64_t label = label_of(identity);
  int64_t count = static_cast<int64_t>(files_[label].size());
  if (n < 1 || n > count)
    fail("ImageFolder ", root_, ": identity ", identity, " has ", count, " images, no image number ", n,
         " (numbers are 1-based)");
  return first_index_[label] + n - 1;
}

const std::string& ImageFolder::path_of(int64_t index) const {
  check_index(index, "path_of");
  return paths_[index];
}

int64_t ImageFolder::label_at(int64_t index) const {
  check_index(index, "label_at");
  return labels_[index];
}

std::vector<std::string> image_files_under(const std::string& folder) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) fail("image_files_under: ", folder, ": no such folder");
  std::vector<std::string> paths;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(folder))
    if (is_image_file(entry)) paths.push_back(entry.path().string());
  if (paths.empty()) fail("image_files_under: ", folder, ": no image files (.pgm .ppm .pnm .png .jpg .jpeg)");
  std::sort(paths.begin(), paths.end());
  return paths;
}

IdentitySplit split_identities(std::vector<std::string> names, int64_t held_out_count, uint64_t seed) {
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end())
    fail("split_identities: identity ", *std::adjacent_find(names.begin(), names.end()), " is listed twice");
  const int64_t count = static_cast<int64_t>(names.size());
  if (held_out_count < 0 || held_out_count > count)
    fail("split_identities: ", held_out_count, " held out of ", count, " identities (expected 0..", count, ")");
  // Fisher–Yates over the sorted names, drawing below(n) by rejection from mt19937_64 (whose
  // output the standard fixes; std::uniform_int_distribution's is not).
  std::mt19937_64 engine(seed);
  auto below = [&engine](uint64_t n) {
    const uint64_t limit = std::mt19937_64::max() - std::mt19937_64::max() % n;
    uint64_t draw;
    do draw = engine();
    while (draw >= limit);
    return draw % n;
  };
  std::vector<std::string> shuffled = names;
  for (int64_t i = count - 1; i > 0; --i) std::swap(shuffled[i], shuffled[below(uint64_t(i) + 1)]);
  IdentitySplit split;
  split.held_out.assign(shuffled.begin(), shuffled.begin() + held_out_count);
  split.train.assign(shuffled.begin() + held_out_count, shuffled.end());
  std::sort(split.held_out.begin(), split.held_out.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

}  // namespace margin
