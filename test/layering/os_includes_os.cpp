// Must compile: the control case for os_includes_core.cpp.
#include <rrun/os/fd.hpp>
int main() {
  return rrun::os::UniqueFd().valid() ? 1 : 0;
}
