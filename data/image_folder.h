// data/image_folder.h — face datasets on disk: a root folder with one sub-folder of images per
// identity, the layout of CASIA-WebFace, LFW and Yale-B:
//
//   root/Aaron_Eckhart/Aaron_Eckhart_0001.jpg
//   root/Aaron_Guiterrez/Aaron_Guiterrez_0001.jpg  …
//
// Identities are the sub-folders' names in sorted (byte) order and get labels 0..K−1; within
// an identity, image files in sorted order. LFW's pairs files refer to an image as
// (identity, n) with n 1-based: the n-th image of that identity in this order (path()).
// Image files are those ending in .pgm .ppm .pnm .png .jpg .jpeg (any case: the formats
// data/image.h decodes); other files and hidden entries are skipped, a folder of none is an
// error.
//
// Each get() decodes its file (data/image.h), converts it to the asked channel count, crops
// the centre window when asked (crop_center: the face of an in-the-wild frame) and resizes
// that (bilinear) to the asked size; samples are floats in [0, 1] (normalize({0.5},
// {0.5}) maps them to face recognition's [−1, 1]). With `cache` on, the decoded and resized
// 8-bit image is kept in memory after the first get() (Yale-B: 2452 images, 79 MB at
// 192×168, 20 MB at 96×84). get() is safe from several threads at once.
// Left out: face detection and alignment (the datasets here come cropped), video frames.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"

namespace margin {

struct ImageFolderOptions {
  int64_t channels = 1;                 // 1 (grey) or 3 (RGB), converted on load
  int64_t crop_height = 0, crop_width = 0;  // centre crop on load, before the resize; 0 × 0: none
  int64_t height = 0, width = 0;        // resize on load; 0 × 0: keep each image's own size
  std::vector<std::string> identities = {};  // the identities to include (any order); empty: all
  bool cache = false;                   // keep the decoded, resized bytes in memory
  DecodeLimits limits = {};             // the pixel budget of each file (data/image.h)
};

class ImageFolder : public Dataset {
 public:
  // Scans `root` (not the images: those are read by get()). margin::Error naming the folder
  // for a missing root, a root without identities, an asked identity that is absent, an
  // identity folder without images, or bad options.
  ImageFolder(std::string root, ImageFolderOptions options = {});

  int64_t size() const override { return static_cast<int64_t>(paths_.size()); }
  Sample get(int64_t index) const override;
  int64_t num_classes() const override { return static_cast<int64_t>(names_.size()); }

  // The decoded, converted, resized 8-bit image of sample `index` (from the cache when on).
  Image8 image(int64_t index) const;

  const std::string& root() const { return root_; }
  const ImageFolderOptions& options() const { return options_; }
  // Identity names in label order.
  const std::vector<std::string>& identity_names() const { return names_; }
  // The label of an identity name; margin::Error naming it when it is not in this dataset.
  int64_t label_of(const std::string& identity) const;
  // The file names (not paths) of an identity's images, sorted.
  const std::vector<std::string>& files(int64_t label) const;
  // The dataset index of the n-th (1-based) image of `identity`, as LFW's pairs count.
  int64_t index_of(const std::string& identity, int64_t n) const;
  // Its path: root/identity/file.
  std::string path(const std::string& identity, int64_t n) const { return path_of(index_of(identity, n)); }
  const std::string& path_of(int64_t index) const;
  int64_t label_at(int64_t index) const;

 private:
  void check_index(int64_t index, const char* who) const;

  std::string root_;
  ImageFolderOptions options_;
  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> files_;  // by label
  std::vector<int64_t> first_index_;             // dataset index of each identity's first image
  std::vector<std::string> paths_;               // by dataset index
  std::vector<int64_t> labels_;                  // by dataset index

  mutable std::mutex cache_mutex_;
  mutable std::vector<std::shared_ptr<const Image8>> cache_;  // by dataset index, when on
};

// Image files given by path (label 0), decoded like an ImageFolder's: `channels`, the centre
// crop_height × crop_width (0 × 0: none), resized to height × width, byte / 255, each file
// within the pixel budget `limits`.
class ImageList : public Dataset {
 public:
  ImageList(std::vector<std::string> paths, int64_t channels, int64_t height, int64_t width,
            int64_t crop_height = 0, int64_t crop_width = 0, DecodeLimits limits = {});
  int64_t size() const override { return static_cast<int64_t>(paths_.size()); }
  Sample get(int64_t index) const override;
  int64_t num_classes() const override { return 1; }
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  std::vector<std::string> paths_;
  int64_t channels_, height_, width_, crop_height_, crop_width_;
  DecodeLimits limits_;
};

// What ImageFolder and ImageList do to one file: decode_image to `channels` within `limits`,
// crop_center when crop_height > 0, resize_bilinear when height > 0. Errors name the file.
Image8 load_image(const std::string& path, int64_t channels, int64_t crop_height, int64_t crop_width,
                  int64_t height, int64_t width, const DecodeLimits& limits = {});

// Whether a file name ends in one of the image extensions above (any case) and is not hidden.
bool is_image_path(const std::string& path);

// Every image file (is_image_path) under `folder`, recursively, sorted by path; margin::Error
// naming the folder when it is missing or holds none.
std::vector<std::string> image_files_under(const std::string& folder);

// A seeded split of identities into training and held-out ones (open-set verification:
// the held-out people are never seen in training). Both lists come back sorted; together
// they are exactly `names`, without overlap. The same names (in any order) and seed give
// the same split on every platform (mt19937_64 draws, our own shuffle).
struct IdentitySplit {
  std::vector<std::string> train, held_out;
};
IdentitySplit split_identities(std::vector<std::string> names, int64_t held_out_count, uint64_t seed);

}  // namespace margin
