#include "json_input.hpp"

namespace rrun::spec {

void throw_json_too_deep(const std::string& name, size_t max_depth) {
  throw os::Error(name + ": JSON nested deeper than " + std::to_string(max_depth) +
                  " levels, the most rrun reads; flatten the document");
}

}  // namespace rrun::spec
