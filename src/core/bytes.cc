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
  // One read of the whole file (an istreambuf_iterator copy went byte by byte: a fifth of the
  // time to load llama-15m in a wasm profile).
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw Error(path + ": cannot open");
  const std::streamoff size = f.tellg();
  if (size < 0) throw Error(path + ": cannot read its size");
  AlignedVector<uint8_t> v(static_cast<size_t>(size));
  f.seekg(0);
  if (!f.read(reinterpret_cast<char*>(v.data()), size)) throw Error(path + ": cannot read");
  return from_vector(std::move(v));
#endif
}

}  // namespace argen
