// core/atomic_file.cpp — see atomic_file.h.
#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "backends/types.h"

namespace margin {

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::string temporary = path + ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("creating ", temporary, " failed: ", std::strerror(errno));
  auto give_up = [&](const std::string& step, bool close_first) {
    int error = errno;
    if (close_first) ::close(fd);
    ::unlink(temporary.c_str());
    fail(step, " failed: ", std::strerror(error));
  };
  for (size_t written = 0; written < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) give_up("writing " + temporary, true);
    written += static_cast<size_t>(n);
  }
  // The data must be on disk before the rename makes it the file.
  if (::fsync(fd) != 0) give_up("fsync of " + temporary, true);
  if (::close(fd) != 0) give_up("closing " + temporary, false);
  if (::rename(temporary.c_str(), path.c_str()) != 0) give_up("renaming " + temporary, false);
  // And the rename itself must survive a crash: sync the directory entry.
  std::string directory = std::filesystem::path(path).parent_path().string();
  int dir_fd = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace margin
