#include "error.hpp"

#include <cstring>
#include <exception>

namespace rrun::os {

void throw_errno(const std::string& what) {
  throw_errno(errno, what);
}

void throw_errno(int err, const std::string& what) {
  throw SystemError(err, what);
}

void rethrow_with_context(const std::string& context) {
  try {
    throw;
  } catch (const SystemError& e) {
    // std::system_error::what() already ends in ": strerror"; strip it so the
    // new exception does not repeat it.
    std::string inner = e.what();
    const std::string suffix = std::string(": ") + e.code().message();
    if (inner.size() >= suffix.size() && inner.compare(inner.size() - suffix.size(), suffix.size(), suffix) == 0)
      inner.resize(inner.size() - suffix.size());
    throw SystemError(e.err(), context + ": " + inner);
  } catch (const std::exception& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace rrun::os
