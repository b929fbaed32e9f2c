#include "core/bytes.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/aligned.h"
#include "core/error.h"

#if !defined(__EMSCRIPTEN__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace argen {

// Read into memory of its own rather than mapped: a mapping of the file is in 4 KB pages, and the
// weights are read whole every step; on huge pages (core/aligned.h) llama-15m float32 ran 1.11x
// faster natively (argen bench, alternated run by run: faster in 18 of 20). Load validates every
// weight anyway (ModelFile), so a mapping's lazy reads saved no time.
Bytes Bytes::from_file(const std::string& path) {
#if !defined(__EMSCRIPTEN__)
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  // Allocated, not a vector: read() fills it, so zeroing it first would be a wasted pass.
  const size_t size = static_cast<size_t>(st.st_size);
  uint8_t* p = AlignedAllocator<uint8_t>().allocate(std::max<size_t>(size, 1));
  Bytes b;
  b.owner = std::shared_ptr<const void>(p, [size](const void* q) {
    AlignedAllocator<uint8_t>().deallocate(static_cast<uint8_t*>(const_cast<void*>(q)), std::max<size_t>(size, 1));
  });
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::read(fd, p + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? std::strerror(errno) : "the file got shorter";
      ::close(fd);
      throw Error(path + ": cannot read: " + why);
    }
    done += size_t(n);
  }
  ::close(fd);
  b.data = p;
  b.size = size;
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
