#include "core/bytes.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/aligned.h"
#include "core/error.h"

#if !defined(__EMSCRIPTEN__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace argen {

Bytes Bytes::from_file(const std::string& path) {
#if !defined(__EMSCRIPTEN__)
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return from_vector(std::vector<uint8_t>{});
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw Error(path + ": cannot map: " + std::strerror(errno));
  Bytes b;
  b.data = static_cast<const uint8_t*>(p);
  b.size = size;
  b.owner = std::shared_ptr<const void>(p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  return b;
#else
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  AlignedVector<uint8_t> v((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return from_vector(std::move(v));
#endif
}

}  // namespace argen
