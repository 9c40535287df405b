#pragma once
// Versions for `rrun --version` and `features`.

#include <string>

namespace rrun::core {

// rrun's own version ("0.1.0").
const char* rrun_version();
// The runtime-spec version rrun implements ("1.3.0").
const char* spec_version();
// The libseccomp loaded at run time ("2.5.4").
std::string libseccomp_version();

}  // namespace rrun::core
