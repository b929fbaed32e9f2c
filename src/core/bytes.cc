#include "core/bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/aligned.h"
#include "core/error.h"

namespace argen {

// Read into memory of its own rather than mapped: a mapping of the file is in 4 KB pages, and the
// weights are read whole every step; on huge pages (core/aligned.h) llama-15m float32 ran 1.11x
// faster natively (argen bench, alternated run by run: faster in 18 of 20). Load validates every
// weight anyway (ModelFile), so a mapping's lazy reads saved no time. (In wasm the same calls go
// through Emscripten's file system: the tests' NODERAWFS.)
Bytes Bytes::from_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  // Allocated, not a vector: read() fills it, so zeroing it first would be a wasted pass.
  const size_t size = static_cast<size_t>(st.st_size), capacity = std::max<size_t>(size, 1);
  uint8_t* p = AlignedAllocator<uint8_t>().allocate(capacity);
  Bytes b;
  b.owner = std::shared_ptr<const void>(p, [capacity](const void* q) {
    AlignedAllocator<uint8_t>().deallocate(static_cast<uint8_t*>(const_cast<void*>(q)), capacity);
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
}

}  // namespace argen
