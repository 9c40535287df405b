#include "libs.hpp"

#include <dlfcn.h>

#include <rrun/os/error.hpp>

namespace rrun::image {

void* load_symbols(const char* soname, const char* package, std::initializer_list<Symbol> symbols) {
  void* h = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = ::dlerror();
    throw os::Error(std::string("cannot load ") + soname + " (" + (e ? e : "not found") + "): install " + package);
  }
  for (const Symbol& s : symbols) {
    *s.slot = ::dlsym(h, s.name);
    if (!*s.slot)
      throw os::Error(std::string(soname) + " lacks " + s.name + " (too old; install a newer " + package + ")");
  }
  return h;
}

}  // namespace rrun::image
