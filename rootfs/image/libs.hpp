#pragma once
// libcurl, libarchive and libcrypto are loaded with dlopen when an image
// command needs them, never at start: the plain bundle path (create, run,
// exec) links none of them (bench.peak_rss). Headers only at build time.
//
// Each user keeps a struct of function pointers and fills it with
// load_symbols; the first failure names the library and the Debian package.

#include <initializer_list>
#include <string>
#include <utility>

namespace rrun::image {

struct Symbol {
  void** slot;       // where the pointer goes: reinterpret_cast<void**>(&table.fn)
  const char* name;  // "curl_easy_init"
};

// dlopen(soname) once (RTLD_NOW | RTLD_LOCAL) and resolve every symbol.
// Throws os::Error: "cannot load libcurl.so.4 (...): install libcurl4" or
// "libcurl.so.4 lacks curl_foo (too old; install a newer libcurl4)".
void* load_symbols(const char* soname, const char* package, std::initializer_list<Symbol> symbols);

}  // namespace rrun::image
