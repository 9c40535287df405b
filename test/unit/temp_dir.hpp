#pragma once
// A temporary directory for a unit test, removed (one file system only, no
// symlinks followed) when the test ends.

#include <stdlib.h>

#include <boost/test/unit_test.hpp>

#include <string>

#include <rrun/os/file.hpp>

namespace rrun::test {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rrun-unit-test.XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    try {
      os::remove_tree(path);
    } catch (...) {
      // A destructor must not throw; the next run gets a fresh name anyway.
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace rrun::test
