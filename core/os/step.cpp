#include "step.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace rrun::os {

int fail_step(StepFailure& f, int err, const char* step, const char* fmt, ...) noexcept {
  f.err = err;
  std::snprintf(f.step, sizeof f.step, "%s", step ? step : "");
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(f.detail, sizeof f.detail, fmt, ap);
  va_end(ap);
  return -1;
}

}  // namespace rrun::os
