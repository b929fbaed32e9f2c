// The one error type of argen. Messages name the file, tensor or key, and expected vs found.
#pragma once
#include <stdexcept>
#include <string>

namespace argen {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace argen
